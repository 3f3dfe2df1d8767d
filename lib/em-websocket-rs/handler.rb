# frozen_string_literal: true

module EventMachine
  module WebSocket
    # em-websocket's per-draft handler: a connection's `@handler` once its
    # handshake has completed, of the class for the negotiated draft
    # (`Handler13` for RFC 6455). Applications inspect it and subclasses of
    # the connection call it (`@handler.receive_data(data)` from a
    # `receive_data` override, `@handler.state`); the protocol work it did in
    # em-websocket is done by the native side, which each method here asks.
    class Handler
      include Debugger

      # The handler class for a protocol version, as em-websocket picks it.
      def self.klass_factory(version)
        case version
        when 75 then Handler75
        when 76 then Handler76
        when 1..3 then Handler03
        when 5 then Handler05
        when 6 then Handler06
        when 7 then Handler07
        when 8 then Handler08
        when 13 then Handler13
        else raise HandshakeError, "Protocol version #{version} not supported"
        end
      end

      # How the connection ended, for `onclose` (set when it has ended).
      attr_writer :close_info

      def initialize(connection, debug = false)
        @connection = connection
        @debug = debug
      end

      def state
        @connection.state
      end

      # Bytes from the socket, passed on to the native framing.
      def receive_data(data)
        @connection._rs_native.receive(data.to_s)
      end

      def send_text_frame(data)
        send_frame(:text, data)
      end

      # `type` is :text, :binary, :ping or :pong.
      def send_frame(type, data)
        @connection.__send__(:send_frame, type, data)
      end

      def close_websocket(code, body)
        @connection.__send__(:close_websocket_private, code, body)
      end

      def pingable?
        false
      end

      def supports_close_codes?
        false
      end

      # The connection has ended: `onclose`, as em-websocket's handler does.
      def unbind
        @connection._rs_closed
        @connection.trigger_on_close(@close_info || { code: 1006, was_clean: false })
      end
    end

    class Handler
      # Drafts with ping and pong (01 onwards).
      module Pingable
        def pingable?
          true
        end
      end

      # Drafts whose close frame carries a code (06 onwards).
      module CloseCodes
        def supports_close_codes?
          true
        end
      end
    end

    class Handler75 < Handler; end
    class Handler76 < Handler
      # The closing frame of drafts 75 and 76 (test clients compare with it).
      TERMINATE_STRING = "\xff\x00".b.freeze
    end

    class Handler03 < Handler
      include Framing03
      include Handler::Pingable
    end

    class Handler05 < Handler
      include Framing05
      include Handler::Pingable
    end

    class Handler06 < Handler
      include Framing05
      include Handler::Pingable
      include Handler::CloseCodes
    end

    class Handler07 < Handler
      include Framing07
      include Handler::Pingable
      include Handler::CloseCodes
    end

    class Handler08 < Handler
      include Framing07
      include Handler::Pingable
      include Handler::CloseCodes
    end

    class Handler13 < Handler
      include Framing07
      include Handler::Pingable
      include Handler::CloseCodes
    end
  end
end
