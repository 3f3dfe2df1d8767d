# frozen_string_literal: true

module EventMachine
  module WebSocket
    # All errors raised by em-websocket-rs descend from this class, as in em-websocket.
    # Raised by `send` for text that is not valid UTF-8 or before the
    # handshake has completed, among others.
    class WebSocketError < RuntimeError; end

    # Errors of the opening handshake (a malformed request, a request head
    # over `:max_handshake_size`), given to `onerror`; the connection is
    # dropped without a 101.
    class HandshakeError < WebSocketError; end

    # Errors which close the connection (RFC 6455 §7.4.1 codes).
    class WSProtocolError < WebSocketError
      # The close code the connection was failed with.
      # @return [Integer] 1002 (protocol error)
      def code; 1002; end
    end

    # 1007: text that is not valid UTF-8.
    class InvalidDataError < WSProtocolError
      # @return [Integer] 1007 (invalid data)
      def code; 1007; end
    end

    # 1009: a frame or message over the configured size.
    class WSMessageTooBigError < WSProtocolError
      # @return [Integer] 1009 (message too big)
      def code; 1009; end
    end
  end
end
