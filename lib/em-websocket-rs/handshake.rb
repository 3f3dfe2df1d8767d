# frozen_string_literal: true

module EventMachine
  module WebSocket
    # The opening handshake as the application sees it in `onopen`.
    #
    # The server builds it from the handshake its Rust core has already
    # answered. Like em-websocket's, it is also a Deferrable that can be fed a
    # request by hand (`Handshake.new(secure)`, `receive_data`), succeeding with
    # the upgrade response or failing with a HandshakeError.
    #
    # @example
    #   ws.onopen do |handshake|
    #     handshake.path                 # => "/chat"
    #     handshake.query                # => {"room" => "1"}
    #     handshake.headers['Origin']    # => "https://example.com"
    #     handshake.protocol_version     # => 13
    #   end
    class Handshake
      include EventMachine::Deferrable

      # The request as em-websocket gives it (each nil until a request fed by
      # hand has completed):
      #
      # - `path`: the request's path, without the query string (`"/chat"`);
      # - `query_string`: the query string, without the `?` (`"room=1"`; `""`
      #   when there is none);
      # - `protocol_version`: the protocol version, detected as em-websocket
      #   does: the request's Sec-WebSocket-Version (13 for RFC 6455), else
      #   its Sec-WebSocket-Draft (drafts 01-03), else 76 with draft 76's
      #   keys, else 75.
      # @return [String, Integer, nil]
      attr_reader :path, :query_string, :protocol_version

      # The subprotocol chosen from the client's Sec-WebSocket-Protocol, if any.
      # @return [String, nil]
      attr_reader :protocol

      # A handshake the server has completed.
      # @return [Handshake]
      # @api private
      def self.completed(path, query_string, header_pairs, protocol_version, secure, protocol)
        handshake = new(secure)
        handshake.__send__(:complete, path, query_string, header_pairs, protocol_version, protocol)
        handshake
      end

      # A handshake to feed a request by hand (see {#receive_data}).
      # @param secure [Boolean] whether the connection is TLS (or behind a
      #   TLS proxy, `:secure_proxy`): {#secure?}, and `wss://` in drafts 75/76
      def initialize(secure)
        @secure = secure
        @data = nil
        @header_pairs = []
        @headers = nil
        @headers_downcased = nil
        @path = nil
        @query_string = nil
        @protocol_version = nil
        @protocol = nil
      end

      # Feeds request bytes; the Deferrable succeeds with
      # (upgrade_response, nil) once the request is complete and valid.
      # It fails with a HandshakeError for a request that cannot be one.
      # @param data [String] the next bytes of the request
      # @return [void]
      def receive_data(data)
        (@data ||= +''.b) << data.b
        status, *result = EmWebSocketRs::Native.handshake(@data, @data.bytesize - data.bytesize, @secure)
        case status
        when :incomplete
          nil
        when :error
          fail(HandshakeError.new(result.first))
        else
          response, path, query_string, header_pairs, version, protocol = result
          complete(path, query_string, header_pairs, version, protocol)
          succeed(response, nil)
        end
      end

      # The request headers, names as sent. Repeated headers are joined as
      # http_parser.rb (em-websocket's parser) joins them.
      # @return [Hash{String => String}]
      def headers
        @headers ||= @header_pairs.each_slice(2).with_object({}) do |(name, value), headers|
          headers[name] = headers.key?(name) ? "#{headers[name]}, #{value}" : value
        end
      end

      # The same, with downcased names.
      # @return [Hash{String => String}]
      def headers_downcased
        @headers_downcased ||= headers.transform_keys(&:downcase)
      end

      # The query string's parameters, as em-websocket splits them (no
      # unescaping).
      # @return [Hash{String => String}]
      def query
        Hash[query_string.split('&').map { |pair| pair.split('=', 2) }]
      end

      # The request's `Origin` header, else its `Sec-WebSocket-Origin` (the
      # older drafts'), else nil.
      # @return [String, nil]
      def origin
        headers_downcased['origin'] || headers_downcased['sec-websocket-origin'] || nil
      end

      # Whether the connection is TLS (`wss://`), or `:secure_proxy` says TLS
      # is terminated in front of the server.
      # @return [Boolean]
      def secure?
        @secure
      end

      private

      def complete(path, query_string, header_pairs, protocol_version, protocol)
        @path = path
        @query_string = query_string
        @protocol_version = protocol_version
        @protocol = protocol
        @header_pairs = header_pairs
      end
    end
  end
end
