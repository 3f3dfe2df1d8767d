# frozen_string_literal: true

module EventMachine
  module WebSocket
    # The opening handshake as the application sees it in `onopen`.
    #
    # The server builds it from the handshake its Rust core has already
    # answered. Like em-websocket's, it is also a Deferrable that can be fed a
    # request by hand (`Handshake.new(secure)`, `receive_data`), succeeding with
    # the upgrade response or failing with a HandshakeError.
    class Handshake
      include EventMachine::Deferrable

      attr_reader :path, :query_string, :protocol_version

      # The subprotocol chosen from the client's Sec-WebSocket-Protocol, if any.
      attr_reader :protocol

      # A handshake the server has completed.
      def self.completed(path, query_string, header_pairs, protocol_version, secure, protocol)
        handshake = new(secure)
        handshake.__send__(:complete, path, query_string, header_pairs, protocol_version, protocol)
        handshake
      end

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
      def headers
        @headers ||= @header_pairs.each_slice(2).with_object({}) do |(name, value), headers|
          headers[name] = headers.key?(name) ? "#{headers[name]}, #{value}" : value
        end
      end

      # The same, with downcased names.
      def headers_downcased
        @headers_downcased ||= headers.transform_keys(&:downcase)
      end

      def query
        Hash[query_string.split('&').map { |pair| pair.split('=', 2) }]
      end

      def origin
        headers_downcased['origin'] || headers_downcased['sec-websocket-origin'] || nil
      end

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
