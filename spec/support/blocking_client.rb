# frozen_string_literal: true

require 'socket'

module EMWSSpec
  # A plain blocking TCPSocket WebSocket client, for use from a thread (while
  # the reactor runs in the main thread) or against a server in another
  # process. Every read is bounded by a deadline.
  class BlockingClient
    class Timeout < StandardError; end

    attr_reader :response, :socket

    def initialize(port, host: '127.0.0.1', path: '/', key: Handshake.new_key, timeout: 5,
                   request: nil, handshake: true)
      @timeout = timeout
      @buf = String.new(encoding: Encoding::BINARY)
      @socket = TCPSocket.new(host, port)
      @socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      @key = key
      return unless handshake

      @socket.write(request || Handshake.rfc6455_request(host: "#{host}:#{port}", path: path, key: key))
      read_handshake
    end

    def read_handshake
      deadline = now + @timeout
      until (parsed = Handshake.parse_response(@buf))
        fill(deadline)
      end
      @response, @buf = parsed
      @response
    end

    def write(bytes)
      @socket.write(bytes)
    end

    def send_frame(type, payload = '', **opts)
      write(Frames.encode(type, payload, **opts))
    end

    def send_text(str)
      send_frame(:text, str)
    end

    def send_binary(str)
      send_frame(:binary, str)
    end

    def send_close(code = nil, reason = '')
      send_frame(:close, Frames.close_payload(code, reason))
    end

    # Next frame from the server (raises Timeout when none comes in time,
    # EOFError when the server closed the connection first)
    def read_frame(timeout: @timeout)
      deadline = now + timeout
      loop do
        res = Frames.decode(@buf)
        if res
          @buf = @buf.byteslice(res[1]..)
          return res[0]
        end
        fill(deadline)
      end
    end

    # Next frame that is not a ping/pong (pings are answered)
    def read_data_frame(timeout: @timeout)
      deadline = now + timeout
      loop do
        f = read_frame(timeout: [deadline - now, 0.01].max)
        if f.type == :ping
          send_frame(:pong, f.payload)
          next
        end
        return f unless f.type == :pong
      end
    end

    # Reads until EOF; returns everything read (bounded by the deadline)
    def read_to_eof(timeout: @timeout)
      deadline = now + timeout
      loop { fill(deadline) }
    rescue EOFError, Errno::ECONNRESET
      out = @buf
      @buf = String.new(encoding: Encoding::BINARY)
      out
    end

    def close
      @socket.close unless @socket.closed?
    end

    # Connects, sends +text+, and returns the text of the first reply.
    def self.exchange(port, text)
      client = new(port)
      client.send_text(text)
      client.read_data_frame.text
    ensure
      client&.close
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def fill(deadline)
      left = deadline - now
      raise Timeout, 'timed out waiting for data from the server' if left <= 0

      ready = IO.select([@socket], nil, nil, left)
      raise Timeout, 'timed out waiting for data from the server' unless ready

      chunk = @socket.read_nonblock(65_536, exception: false)
      return if chunk == :wait_readable
      raise EOFError, 'server closed the connection' if chunk.nil?

      @buf << chunk
    end
  end
end
