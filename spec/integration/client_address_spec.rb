require 'spec_helper'
require 'socket'
require 'openssl'
require 'tmpdir'
require_relative '../support/proxy_protocol'

module EMWSSpec
  # The client's address behind proxies: forwarding headers from trusted and
  # untrusted peers, and PROXY protocol v1 and v2 headers, sent by raw
  # sockets as a proxy would.
  RSpec.describe 'the client address behind proxies', rs_only: 'em-websocket has no proxy support' do
    # What the application sees of each connection: remote_ip and the
    # unpacked get_peername, in onopen.
    def address_server(options)
      seen = []
      blocks = 0
      server = start_server(options) do |ws|
        blocks += 1
        ws.onopen do
          port, ip = Socket.unpack_sockaddr_in(ws.get_peername)
          seen << { remote_ip: ws.remote_ip, peername: [ip, port] }
          ws.send('hello')
        end
      end
      [server, seen, -> { blocks }]
    end

    # Sends `preamble` (a PROXY header, or nothing) and an upgrade with
    # `headers` (blocking: run it in a thread); returns the first message's
    # text, or :closed when the server closed the connection instead.
    def upgrade(preamble: '', headers: {})
      socket = TCPSocket.new(host, port)
      extra = headers.map { |name, value| "#{name}: #{value}\r\n" }.join
      socket.write(preamble + ws_request.sub("\r\n\r\n", "\r\n#{extra}\r\n"))
      read_first_message(socket)
    ensure
      socket&.close
    end

    # The first frame after the 101 is a 5-byte text frame ("hello").
    def read_first_message(socket)
      buffer = String.new(encoding: Encoding::BINARY)
      deadline = monotonic + 5
      loop do
        head_end = buffer.index("\r\n\r\n")
        return buffer.byteslice(head_end + 6, 5) if head_end && buffer.bytesize >= head_end + 4 + 7
        raise 'no answer in time' if monotonic > deadline

        pending = socket.respond_to?(:pending) && socket.pending.positive?
        next unless pending || IO.select([socket], nil, nil, 0.2)

        chunk = socket.read_nonblock(4096, exception: false)
        return :closed if chunk.nil?

        buffer << chunk if chunk.is_a?(String)
      end
    rescue Errno::ECONNRESET, EOFError
      :closed
    end

    def run_one(options, **request)
      seen = blocks = thread = holder = nil
      em_run(timeout: 8) do
        _server, seen, blocks = address_server(options)
        thread, holder = in_thread { upgrade(**request) }
      end
      [join_thread!(thread, holder), seen, blocks.call]
    end

    describe ':trusted_proxies' do
      it 'gives the client a trusted proxy names, the rightmost address that is not itself trusted' do
        message, seen = run_one({ trusted_proxies: ['127.0.0.1', '10.0.0.0/8'] },
                                headers: { 'X-Forwarded-For' => '6.6.6.6, 203.0.113.9, 10.1.2.3' })
        expect(message).to eq('hello')
        # 10.1.2.3 is a trusted hop; 6.6.6.6 is what the client claimed and is not believed.
        expect(seen).to eq([{ remote_ip: '203.0.113.9', peername: ['203.0.113.9', 0] }])
      end

      it 'reads Forwarded (RFC 7239), IPv6 and the port included, before X-Forwarded-For' do
        _, seen = run_one({ trusted_proxies: ['127.0.0.1'] },
                          headers: { 'Forwarded' => 'for="[2001:db8::7]:4711";proto=https',
                                     'X-Forwarded-For' => '198.51.100.1' })
        expect(seen).to eq([{ remote_ip: '2001:db8::7', peername: ['2001:db8::7', 4711] }])
      end

      it 'joins several header lines into one chain' do
        _, seen = run_one({ trusted_proxies: ['127.0.0.1', '192.0.2.0/24'] },
                          headers: { 'X-Forwarded-For' => '198.51.100.4', 'x-forwarded-for' => '192.0.2.10' })
        expect(seen.first[:remote_ip]).to eq('198.51.100.4')
      end

      it "ignores an untrusted peer's headers (a spoofing client)" do
        _, seen = run_one({ trusted_proxies: ['10.0.0.0/8'] },
                          headers: { 'X-Forwarded-For' => '203.0.113.9', 'Forwarded' => 'for=203.0.113.9' })
        expect(seen.first[:remote_ip]).to eq('127.0.0.1')
        expect(seen.first[:peername].first).to eq('127.0.0.1')
      end

      it 'ignores the headers without :trusted_proxies' do
        _, seen = run_one({}, headers: { 'X-Forwarded-For' => '203.0.113.9' })
        expect(seen.first[:remote_ip]).to eq('127.0.0.1')
      end

      it 'trusts an IPv6 peer by its range' do
        seen = []
        thread = holder = nil
        begin
          TCPServer.new('::1', 0).close
        rescue SystemCallError
          skip 'no IPv6 loopback here'
        end
        em_run(timeout: 8) do
          start_server(host: '::1', trusted_proxies: ['::1/128']) do |ws|
            ws.onopen { seen << ws.remote_ip; ws.send('hello') }
          end
          thread, holder = in_thread do
            socket = TCPSocket.new('::1', port)
            socket.write(ws_request.sub("\r\n\r\n", "\r\nX-Forwarded-For: 2001:db8::42\r\n\r\n"))
            read_first_message(socket).tap { socket.close }
          end
        end
        expect(join_thread!(thread, holder)).to eq('hello')
        expect(seen).to eq(['2001:db8::42'])
      end

      it 'rejects a bad entry, naming it' do
        em_run do
          expect { start_server(trusted_proxies: ['10.0.0.0/33']) }.to raise_error(ArgumentError, %r{10\.0\.0\.0/33})
          expect { start_server(trusted_proxies: [:local]) }.to raise_error(ArgumentError, /:trusted_proxies/)
          done
        end
      end
    end

    describe ':proxy_protocol' do
      it 'takes the client from a v1 header (TCP4)' do
        message, seen = run_one({ proxy_protocol: true },
                                preamble: ProxyProtocol.v1('203.0.113.7', '127.0.0.1', 5555, 443))
        expect(message).to eq('hello')
        expect(seen).to eq([{ remote_ip: '203.0.113.7', peername: ['203.0.113.7', 5555] }])
      end

      it 'takes the client from a v1 header (TCP6)' do
        _, seen = run_one({ proxy_protocol: true },
                          preamble: ProxyProtocol.v1('2001:db8::1', '2001:db8::2', 40_000, 443))
        expect(seen).to eq([{ remote_ip: '2001:db8::1', peername: ['2001:db8::1', 40_000] }])
      end

      it 'takes the client from a v2 header (IPv4 with TLVs, and IPv6)' do
        tlvs = [[ProxyProtocol::PP2_TYPE_AUTHORITY, 'chat.example'], [ProxyProtocol::PP2_TYPE_NOOP, "\0" * 3]]
        _, seen = run_one({ proxy_protocol: true },
                          preamble: ProxyProtocol.v2('198.51.100.20', '10.0.0.1', 61_000, 80, tlvs: tlvs))
        expect(seen).to eq([{ remote_ip: '198.51.100.20', peername: ['198.51.100.20', 61_000] }])
        _, seen = run_one({ proxy_protocol: true },
                          preamble: ProxyProtocol.v2('2001:db8::9', '2001:db8::1', 1234, 80))
        expect(seen.first[:remote_ip]).to eq('2001:db8::9')
      end

      it "keeps the proxy's own address for a v2 LOCAL header (a health check)" do
        _, seen = run_one({ proxy_protocol: true }, preamble: ProxyProtocol.v2_local)
        expect(seen.first[:remote_ip]).to eq('127.0.0.1')
      end

      it 'applies :trusted_proxies to the client the header named' do
        _, seen = run_one({ proxy_protocol: true, trusted_proxies: ['10.0.0.0/8'] },
                          preamble: ProxyProtocol.v1('10.9.9.9', '127.0.0.1', 5555, 80),
                          headers: { 'X-Forwarded-For' => '203.0.113.50' })
        expect(seen.first[:remote_ip]).to eq('203.0.113.50')
      end

      it 'drops, unseen and counted, connections without a valid header' do
        bad = {
          'no header' => '',
          'garbage' => "HELLO\r\n",
          'v1 with a double space' => "PROXY TCP4  203.0.113.7 127.0.0.1 5555 443\r\n",
          'v1 with a bad port' => "PROXY TCP4 203.0.113.7 127.0.0.1 70000 443\r\n",
          'v1 of the wrong family' => "PROXY TCP4 2001:db8::1 127.0.0.1 5555 443\r\n",
          'v2 of version 3' => ProxyProtocol.v2('198.51.100.20', '10.0.0.1', 1, 2).tap { |h| h.setbyte(12, 0x31) },
          'v2 with a short address block' => ProxyProtocol.v2('198.51.100.20', '10.0.0.1', 1, 2).tap { |h| h.setbyte(15, 4) }
        }
        results = {}
        stats = nil
        blocks = nil
        em_run(timeout: 10) do
          server, _seen, blocks = address_server(proxy_protocol: true)
          thread, holder = in_thread(stop_reactor: false) do
            bad.transform_values { |preamble| upgrade(preamble: preamble) }
          end
          when_true(-> { !thread.alive? }, timeout: 9) do
            results = join_thread!(thread, holder)
            stats = server.stats
            done
          end
        end
        expect(results).to eq(bad.transform_values { :closed })
        expect(blocks.call).to eq(0)
        expect(stats[:handshakes_failed]['proxy_header']).to eq(bad.size)
      end

      it 'drops a truncated header once the handshake timeout passes, and one cut short by the peer at once' do
        stats = nil
        timings = nil
        em_run(timeout: 10) do
          server, = address_server(proxy_protocol: true, handshake_timeout: 0.5)
          thread, holder = in_thread(stop_reactor: false) do
            header = ProxyProtocol.v2('198.51.100.20', '10.0.0.1', 1, 2)
            timed = TCPSocket.new(host, port)
            timed.write(header.byteslice(0, 20))
            started = monotonic
            timed.wait_readable(5)
            waited = monotonic - started
            closed_early = TCPSocket.new(host, port)
            closed_early.write("PROXY TCP4 203.0.1")
            closed_early.close
            timed.close
            waited
          end
          when_true(-> { !thread.alive? && server.stats[:connections].zero? }, timeout: 9) do
            timings = join_thread!(thread, holder)
            stats = server.stats
            done
          end
        end
        expect(timings).to be_between(0.4, 2)
        expect(stats[:handshakes_failed]['proxy_header']).to eq(2)
      end

      it 'reads the header before the TLS handshake of a wss:// connection' do
        seen = nil
        answer = nil
        Dir.mktmpdir do |dir|
          tls = self_signed_cert(dir)
          thread = holder = nil
          em_run(timeout: 10) do
            _server, seen, = address_server(proxy_protocol: true, secure: true, tls_options: tls)
            thread, holder = in_thread do
              tcp = TCPSocket.new(host, port)
              tcp.write(ProxyProtocol.v1('192.0.2.77', '127.0.0.1', 7777, 443))
              ssl = OpenSSL::SSL::SSLSocket.new(tcp, OpenSSL::SSL::SSLContext.new.tap { |c| c.verify_mode = OpenSSL::SSL::VERIFY_NONE })
              ssl.sync_close = true
              ssl.connect
              ssl.write(ws_request)
              read_first_message(ssl).tap { ssl.close }
            end
          end
          answer = join_thread!(thread, holder)
        end
        expect(answer).to eq('hello')
        expect(seen.first[:remote_ip]).to eq('192.0.2.77')
      end
    end
  end
end
