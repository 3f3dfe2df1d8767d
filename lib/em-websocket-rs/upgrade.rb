# frozen_string_literal: true

module EventMachine
  module WebSocket
    # The application's say on one upgrade request, given to `ws.onupgrade`
    # with the request's Handshake, after the request is read and checked
    # and before any response is written:
    #
    #     ws.onupgrade do |handshake, upgrade|
    #       if valid_token?(handshake.query['token'])
    #         upgrade.accept(headers: { 'Set-Cookie' => 'seen=1' })
    #       else
    #         upgrade.refuse(401, 'a token is needed', headers: { 'WWW-Authenticate' => 'Bearer' })
    #       end
    #     end
    #
    # The decision may also come later (after an HTTP call to an auth service,
    # or from `EM.defer`'s callback): the connection waits, within
    # `:handshake_timeout`, and nothing else does. A refused connection gets
    # exactly the response given, never a 101, and never reaches `onopen` or
    # `onclose`.
    class Upgrade
      # The largest refusal body, in bytes (64 KiB).
      MAX_BODY = 64 * 1024

      # Made by the connection for `onupgrade`.
      # @param native [EmWebSocketRs::Native::Connection]
      # @param handshake [Handshake] the request
      # @api private
      def initialize(native, handshake)
        @native = native
        @handshake = handshake
        @decided = false
      end

      # Whether `accept` or `refuse` has been called.
      # @return [Boolean]
      def decided?
        @decided
      end

      # Lets the upgrade go ahead. `protocol:` names the subprotocol to
      # answer (one of those the client offered: `offered_protocols`);
      # `headers:` are added to the 101 response (not the handshake's own).
      # @param protocol [String, nil] nil leaves the server's choice (`:protocols`)
      # @param headers [Hash{String => String}]
      # @return [nil]
      # @raise [ArgumentError] for a subprotocol the client did not offer, a
      #   `headers:` that is not a Hash, the handshake's own header
      #   (`Sec-WebSocket-Protocol`, `Upgrade`, ...), or a value with a line break
      # @raise [WebSocketError] when the upgrade has already been decided
      # @example
      #   upgrade.accept(protocol: 'chat.v2', headers: { 'Set-Cookie' => 'seen=1; HttpOnly' })
      def accept(protocol: nil, headers: {})
        if protocol && !offered_protocols.include?(protocol)
          raise ArgumentError, "the client did not offer the subprotocol #{protocol.inspect} " \
                               "(it offered #{offered_protocols.inspect})"
        end
        decide { @native.accept_upgrade(protocol, flat_headers(headers)) }
      end

      # Answers the request with this HTTP status (200 to 599), body and
      # headers instead of an upgrade, and closes the connection.
      # The connection never reaches `onopen` or `onclose`, and is counted
      # as `handshakes_failed{reason="refused"}`.
      # @param status [Integer] 200 to 599 (not 101): 401, 403, 429, ...
      # @param body [String] at most 64 KiB, `text/plain` unless `headers`
      #   give a `Content-Type`
      # @param headers [Hash{String => String}]
      # @return [nil]
      # @raise [ArgumentError] for a status that is not an Integer from 200
      #   to 599 (or is 101), a body over 64 KiB, or a header value with a
      #   line break
      # @raise [WebSocketError] when the upgrade has already been decided
      # @example
      #   upgrade.refuse(429, 'slow down', headers: { 'Retry-After' => '30' })
      def refuse(status, body = '', headers: {})
        raise ArgumentError, "status must be an Integer, got #{status.inspect}" unless status.is_a?(Integer)

        body = body.to_s
        decide { @native.refuse_upgrade(status, flat_headers(headers), body) }
      end

      # The subprotocols the client offered, in its order.
      # @return [Array<String>]
      def offered_protocols
        @handshake.headers_downcased.fetch('sec-websocket-protocol', '').split(',').map(&:strip).reject(&:empty?)
      end

      private

      def decide
        raise WebSocketError, 'this upgrade has already been decided' if @decided

        yield
        @decided = true
        nil
      end

      def flat_headers(headers)
        raise ArgumentError, "headers must be a Hash, got #{headers.class}" unless headers.is_a?(Hash)

        headers.flat_map { |name, value| [name.to_s, value.to_s] }
      end
    end
  end
end
