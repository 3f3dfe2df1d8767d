# frozen_string_literal: true

require 'openssl'
require 'socket'

module EMWSSpec
  # A blocking WebSocket client over OpenSSL::SSL::SSLSocket, for a thread.
  # Every read is bounded by a deadline.
  class TLSClient
    class Timeout < StandardError; end

    attr_reader :ssl, :response

    # `server_name`: the name asked for (SNI); nil asks for none. Without
    # `ca_file` the server's certificate is not verified (it is looked at:
    # `ssl.peer_cert`).
    def initialize(port, ca_file: nil, cert: nil, key: nil, min_version: nil, max_version: nil, timeout: 5,
                   server_name: 'localhost')
      @timeout = timeout
      @buf = String.new(encoding: Encoding::BINARY)
      @port = port
      @tcp = TCPSocket.new('127.0.0.1', port)
      @ssl = OpenSSL::SSL::SSLSocket.new(@tcp, context(ca_file, cert, key, min_version, max_version))
      @ssl.hostname = server_name if server_name
      @ssl.sync_close = true
      deadline = now + timeout
      while (state = @ssl.connect_nonblock(exception: false)) != @ssl
        wait(deadline, state)
      end
    end

    def handshake(path: '/')
      @ssl.write(Handshake.rfc6455_request(host: "localhost:#{@port}", path: path))
      deadline = now + @timeout
      fill(deadline) until (parsed = Handshake.parse_response(@buf))
      @response, @buf = parsed
      self
    end

    # Frames masked with a zero key (the payload goes as it is): fast for big payloads.
    def send_frame(type, payload = '')
      payload = payload.b
      len = payload.bytesize
      head = [0x80 | Frames.opcode_for(type)].pack('C')
      head << if len <= 125 then [0x80 | len].pack('C')
              elsif len < 65_536 then [0xFE, len].pack('Cn')
              else [0xFF, len].pack('CQ>')
              end
      @ssl.write(head << "\0\0\0\0" << payload)
    end

    def read_frame
      deadline = now + @timeout
      loop do
        if (res = Frames.decode(@buf))
          @buf = @buf.byteslice(res[1]..)
          return res[0]
        end
        fill(deadline)
      end
    end

    # Sends a text message; returns the text of the next frame (its echo).
    def echo(text)
      send_frame(:text, text)
      read_frame.text
    end

    # Closes cleanly; returns the server's close frame.
    def close_handshake(code = 1000)
      send_frame(:close, Frames.close_payload(code))
      frame = read_frame
      @ssl.close
      frame
    end

    def close
      @ssl.close unless @ssl.closed?
    end

    private

    def context(ca_file, cert, key, min_version, max_version)
      ctx = OpenSSL::SSL::SSLContext.new
      if ca_file
        ctx.ca_file = ca_file
        ctx.verify_mode = OpenSSL::SSL::VERIFY_PEER
        ctx.verify_hostname = true
      else
        ctx.verify_mode = OpenSSL::SSL::VERIFY_NONE
      end
      ctx.cert = OpenSSL::X509::Certificate.new(File.read(cert)) if cert
      ctx.key = OpenSSL::PKey.read(File.read(key)) if key
      ctx.min_version = min_version if min_version
      ctx.max_version = max_version if max_version
      ctx.alpn_protocols = %w[http/1.1]
      ctx
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def wait(deadline, want)
      left = deadline - now
      ready = left.positive? && (want == :wait_writable ? IO.select(nil, [@tcp], nil, left) : IO.select([@tcp], nil, nil, left))
      raise Timeout, 'timed out waiting for the server' unless ready
    end

    def fill(deadline)
      loop do
        chunk = @ssl.read_nonblock(65_536, exception: false)
        raise EOFError, 'server closed the connection' if chunk.nil?
        return @buf << chunk if chunk.is_a?(String)

        wait(deadline, chunk)
      end
    end
  end
end
