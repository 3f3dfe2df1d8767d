# frozen_string_literal: true

# A small WebSocket client for EventMachine, written for this harness: it
# implements only what em-websocket's integration suite (spec/helper.rb and
# spec/integration/*_spec.rb) calls on `EventMachine::WebSocketClient`, the
# client of the em-websocket-client gem (branch expose-websocket-api), which
# is not packaged:
#
#   ws = EventMachine::WebSocketClient.connect(url,
#          version: 75 | 76 | 4..17 (default 13), origin: '...', protocols: [...])
#   ws.callback { }          # opening handshake accepted (EM::Deferrable)
#   ws.errback { |error| }   # handshake rejected, or closed before it completed
#   ws.stream { |msg| }      # each text or binary message: msg.data, msg.type
#   ws.disconnect { }        # the TCP connection is gone (after callback or errback)
#   ws.send_msg(data, type: :text | :binary)
#   ws.close_connection      # EventMachine's TCP close, no closing handshake
#
# The opening handshake and the framing are those of the `websocket` gem
# (Debian: ruby-websocket). Pings are answered with pongs and a closing
# handshake from the server is answered, as a browser would; neither is
# passed to `stream`.

require 'eventmachine'
require 'uri'
require 'websocket'

module EventMachine
  class WebSocketClient < EventMachine::Connection
    include EventMachine::Deferrable

    # Passed to errback.
    class HandshakeError < StandardError; end

    def self.connect(url, options = {})
      uri = URI.parse(url)
      raise ArgumentError, "not a ws:// URL: #{url}" unless uri.scheme == 'ws'

      EventMachine.connect(uri.host, uri.port || 80, self, url, options)
    end

    def initialize(url, options = {})
      super()
      @url = url
      @handshake = ::WebSocket::Handshake::Client.new(
        url: url,
        version: options[:version] || 13,
        origin: options[:origin],
        protocols: Array(options[:protocols] || options[:protocol]),
        headers: options[:headers] || {}
      )
      @version = @handshake.version
      @incoming = ::WebSocket::Frame::Incoming::Client.new(version: @version)
      @response = String.new(encoding: Encoding::BINARY)
      @state = :connecting
    end

    def stream(&block)
      @stream = block
    end

    def disconnect(&block)
      @disconnect = block
    end

    def send_msg(data, args = {})
      send_frame(args[:type] || :text, data)
    end

    def connection_completed
      @state = :handshaking
      send_data(@handshake.to_s)
    end

    def receive_data(data)
      case @state
      when :handshaking
        @response << data
        receive_handshake
      when :open
        @incoming << data
        receive_frames
      end
    end

    def unbind
      state = @state
      @state = :closed
      if %i[connecting handshaking].include?(state)
        fail(HandshakeError.new("connection closed during the opening handshake (#{state})"))
      end
      @disconnect&.call
    end

    private

    def send_frame(type, data, code = nil)
      frame = ::WebSocket::Frame::Outgoing::Client.new(version: @version, type: type, data: data, code: code)
      bytes = frame.to_s
      raise ArgumentError, "cannot send a #{type} frame on version #{@version}: #{frame.error}" if frame.error?

      send_data(bytes)
    end

    # The response head ends at the first blank line; draft 76 adds a 16 byte
    # challenge answer after it. What follows is already frames.
    def receive_handshake
      head_end = @response.index("\r\n\r\n")
      return unless head_end

      response_end = head_end + 4 + (@version == 76 ? 16 : 0)
      return if @response.bytesize < response_end

      @handshake << @response.byteslice(0, response_end)
      leftover = @response.byteslice(response_end..-1)
      @response = nil
      if @handshake.finished? && @handshake.valid?
        @state = :open
        succeed
        unless leftover.empty? || @state != :open
          @incoming << leftover
          receive_frames
        end
      else
        @state = :rejected
        fail(HandshakeError.new("handshake rejected: #{@handshake.error.inspect}"))
        close_connection
      end
    end

    def receive_frames
      while @state == :open && (frame = @incoming.next)
        case frame.type
        when :text, :binary
          @stream&.call(frame)
        when :ping
          send_frame(:pong, frame.data)
        when :close
          @state = :closing
          send_frame(:close, frame.data, frame.code) if @version >= 4 # answer the closing handshake
          close_connection_after_writing
        end
      end
      return unless @incoming.error?

      @state = :closing
      close_connection
    end
  end
end
