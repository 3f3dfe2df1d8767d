# frozen_string_literal: true

module EventMachine
  module WebSocket
    # The opening handshake as the application sees it in `onopen`.
    class Handshake
      attr_reader :path, :query_string, :protocol_version, :headers, :headers_downcased

      # The subprotocol chosen from the client's Sec-WebSocket-Protocol, if any.
      attr_reader :protocol

      def initialize(path, query_string, header_pairs, protocol_version, secure, protocol)
        @path = path
        @query_string = query_string
        @protocol_version = protocol_version
        @secure = secure
        @protocol = protocol
        @headers = {}
        header_pairs.each_slice(2) do |name, value|
          # Repeated headers are joined as http_parser.rb (em-websocket's parser) joins them.
          @headers[name] = @headers.key?(name) ? "#{@headers[name]}, #{value}" : value
        end
        @headers_downcased = {}
        @headers.each { |name, value| @headers_downcased[name.downcase] = value }
      end

      def query
        Hash[query_string.split('&').map { |pair| pair.split('=', 2) }]
      end

      def origin
        @headers_downcased['origin'] || @headers_downcased['sec-websocket-origin'] || nil
      end

      def secure?
        @secure
      end
    end
  end
end
