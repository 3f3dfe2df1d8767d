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
      # @param version [Integer] 75, 76, 1 to 3, 5 to 8, or 13
      # @return [Class] a subclass of Handler
      # @raise [HandshakeError] for another version
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
      # @return [Hash] `:code`, `:reason`, `:was_clean`
      # @api private
      attr_writer :close_info

      # Made by the connection when its handshake completes.
      # @param connection [Connection]
      # @param debug [Boolean] print what happens (`:debug`)
      # @api private
      def initialize(connection, debug = false)
        @connection = connection
        @debug = debug
      end

      # The connection's state (see {Connection#state}).
      # @return [Symbol] :handshake, :connected, :closing or :closed
      def state
        @connection.state
      end

      # Bytes from the socket, passed on to the native framing.
      # @param data [String]
      # @return [void]
      def receive_data(data)
        @connection._rs_native.receive(data.to_s)
      end

      # Sends a text frame, as `send_frame(:text, data)`.
      # @param data [String]
      # @return [Integer] the bytes queued (0 when `:outbound_limit` was reached)
      # @raise [WebSocketError] while the connection is closing
      def send_text_frame(data)
        send_frame(:text, data)
      end

      # `type` is :text, :binary, :ping or :pong.
      # @param type [Symbol]
      # @param data [String]
      # @return [Integer] the bytes queued (0 when `:outbound_limit` was reached)
      # @raise [WebSocketError] for a data frame while the connection is closing
      def send_frame(type, data)
        @connection.__send__(:send_frame, type, data)
      end

      # Closes the connection as {Connection#close} does, without checking the
      # code.
      # @param code [Integer, nil]
      # @param body [String, nil] the reason
      # @return [void]
      def close_websocket(code, body)
        @connection.__send__(:close_websocket_private, code, body)
      end

      # Whether the draft has ping and pong: false for drafts 75 and 76.
      # @return [Boolean]
      def pingable?
        false
      end

      # Whether the draft's close frames carry a code: false before draft 06.
      # @return [Boolean]
      def supports_close_codes?
        false
      end

      # The connection has ended: `onclose`, as em-websocket's handler does
      # (1006, not clean, when nothing else was recorded).
      # @return [void]
      def unbind
        @connection._rs_closed
        @connection.trigger_on_close(@close_info || { code: 1006, was_clean: false })
      end
    end

    class Handler
      # Drafts with ping and pong (01 onwards).
      module Pingable
        # @return [true]
        def pingable?
          true
        end
      end

      # Drafts whose close frame carries a code (06 onwards).
      module CloseCodes
        # @return [true]
        def supports_close_codes?
          true
        end
      end
    end

    # Draft 75 (hixie-75): frames delimited by sentinel bytes, no ping, no
    # binary, no closing handshake.
    class Handler75 < Handler; end
    # Draft 76 (hixie-76, hybi-00): as draft 75, with the key challenge in the
    # handshake.
    class Handler76 < Handler
      # The closing frame of drafts 75 and 76 (test clients compare with it).
      TERMINATE_STRING = "\xff\x00".b.freeze
    end

    # Drafts 01 to 03 (hybi-01 to hybi-03): framed, with ping and pong.
    class Handler03 < Handler
      include Framing03
      include Handler::Pingable
    end

    # Draft 05 (hybi-05): masked frames.
    class Handler05 < Handler
      include Framing05
      include Handler::Pingable
    end

    # Draft 06 (hybi-06): close codes.
    class Handler06 < Handler
      include Framing05
      include Handler::Pingable
      include Handler::CloseCodes
    end

    # Draft 07 (hybi-07): RFC 6455's opcodes.
    class Handler07 < Handler
      include Framing07
      include Handler::Pingable
      include Handler::CloseCodes
    end

    # Draft 08 (hybi-08 to hybi-12, Sec-WebSocket-Version 8).
    class Handler08 < Handler
      include Framing07
      include Handler::Pingable
      include Handler::CloseCodes
    end

    # RFC 6455 (Sec-WebSocket-Version 13).
    class Handler13 < Handler
      include Framing07
      include Handler::Pingable
      include Handler::CloseCodes
    end
  end
end
