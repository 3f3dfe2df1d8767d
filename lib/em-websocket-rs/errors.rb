# frozen_string_literal: true

module EventMachine
  module WebSocket
    # All errors raised by em-websocket-rs descend from this class, as in em-websocket.
    class WebSocketError < RuntimeError; end

    # Errors of the opening handshake.
    class HandshakeError < WebSocketError; end

    # Errors which close the connection (RFC 6455 §7.4.1 codes).
    class WSProtocolError < WebSocketError
      def code; 1002; end
    end

    # 1007: text that is not valid UTF-8.
    class InvalidDataError < WSProtocolError
      def code; 1007; end
    end

    # 1009: a frame or message over the configured size.
    class WSMessageTooBigError < WSProtocolError
      def code; 1009; end
    end
  end
end
