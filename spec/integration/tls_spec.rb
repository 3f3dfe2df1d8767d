require 'spec_helper'
require_relative '../support/tls_client'
require_relative '../support/test_pki'
require 'fileutils'
require 'open3'
require 'openssl'
require 'socket'
require 'stringio'
require 'tmpdir'

module EMWSSpec
  RSpec.describe 'TLS (wss://)' do
    before(:all) do
      @pki_dir = Dir.mktmpdir('emws-tls')
      @pki = TestPKI.new(@pki_dir)
    end

    after(:all) { FileUtils.remove_entry(@pki_dir) }

    attr_reader :pki

    # Runs an echo server with +server_opts+ and the block in a thread;
    # returns the block's value and what the server saw.
    def with_tls_server(server_opts, timeout: 10, &client)
      events = { opens: [], closes: [] }
      thread = holder = nil
      em_run(timeout: timeout) do
        start_server(server_opts) do |ws|
          ws.onopen { |hs| events[:opens] << { secure: hs.secure?, path: hs.path } }
          ws.onmessage { |m| ws.send(m) }
          ws.onbinary { |m| ws.send_binary(m) }
          ws.onclose { |ev| events[:closes] << ev }
        end
        thread, holder = in_thread(&client)
      end
      [join_thread!(thread, holder, timeout: timeout), events]
    end

    def secure(**tls)
      { secure: true, tls_options: pki.server_options.merge(tls) }
    end

    # What became of a client refused during or right after the TLS
    # handshake (with TLS 1.3 the client learns of a refused certificate only
    # when it reads): the exception's class, or :accepted.
    def refused_how(**client_opts)
      TLSClient.new(port, **client_opts).handshake
      :accepted
    rescue OpenSSL::SSL::SSLError, EOFError, Errno::ECONNRESET, Errno::EPIPE => e
      e.class
    end

    REFUSED = [OpenSSL::SSL::SSLError, EOFError, Errno::ECONNRESET, Errno::EPIPE].freeze

    describe 'serving' do
      it 'echoes over a certificate chain the client verifies, with secure? true and a clean close' do
        result, events = with_tls_server(secure) do
          c = TLSClient.new(port, ca_file: pki.path('ca.pem')).handshake(path: '/tls')
          c.send_frame(:text, 'héllo over TLS')
          text = c.read_frame.text
          [c.response.status_line, text, c.close_handshake.close_code]
        end
        expect(result).to eq(['HTTP/1.1 101 Switching Protocols', 'héllo over TLS', 1000])
        expect(events[:opens]).to eq([{ secure: true, path: '/tls' }])
        expect(events[:closes]).to eq([{ code: 1000, reason: '', was_clean: true }])
      end

      it 'takes the certificate and key inline (:cert, :private_key)' do
        opts = { secure: true, tls_options: { cert: pki.read('chain.pem'), private_key: pki.read('server.key') } }
        result, = with_tls_server(opts) do
          c = TLSClient.new(port, ca_file: pki.path('ca.pem')).handshake
          c.send_frame(:text, 'inline')
          c.read_frame.text.tap { c.close }
        end
        expect(result).to eq('inline')
      end

      it 'carries large messages both ways, and many small ones' do
        big_binary = Random.new(7).bytes(6 << 20)
        big_text = ('ünïcödé ✓ ' * 150_000).freeze
        result, = with_tls_server(secure, timeout: 20) do
          c = TLSClient.new(port, timeout: 15).handshake
          c.send_frame(:binary, big_binary)
          binary_ok = c.read_frame.payload == big_binary
          c.send_frame(:text, big_text)
          text_ok = c.read_frame.text == big_text
          200.times { |i| c.send_frame(:text, "small #{i}") }
          smalls = Array.new(200) { c.read_frame.text }
          c.close
          [binary_ok, text_ok, smalls == Array.new(200) { |i| "small #{i}" }]
        end
        expect(result).to eq([true, true, true])
      end

      it 'answers ALPN with http/1.1 and speaks TLS 1.3 by default', rs_only: 'ALPN' do
        result, = with_tls_server(secure) do
          c = TLSClient.new(port)
          [c.ssl.alpn_protocol, c.ssl.ssl_version].tap { c.close }
        end
        expect(result).to eq(%w[http/1.1 TLSv1.3])
      end

      it 'speaks only the versions :ssl_version names', rs_only: 'TLS versions through rustls' do
        result, = with_tls_server(secure(ssl_version: %w[TLSv1_2])) do
          c = TLSClient.new(port)
          version = c.ssl.ssl_version
          c.close
          [version, refused_how(min_version: OpenSSL::SSL::TLS1_3_VERSION)]
        end
        expect(result[0]).to eq('TLSv1.2')
        expect(REFUSED).to include(result[1])
      end
    end

    describe 'client certificates (:verify_peer with :ca_file)', rs_only: 'clients checked against a CA' do
      def client_cert(name)
        { cert: pki.path("#{name}.pem"), key: pki.path("#{name}.key") }
      end

      it 'opens for a certificate from the CA, and refuses none or one from another CA' do
        opts = secure(verify_peer: true, fail_if_no_peer_cert: true, ca_file: pki.path('ca.pem'))
        result, events = with_tls_server(opts) do
          c = TLSClient.new(port, **client_cert('client')).handshake
          c.send_frame(:text, 'with cert')
          echo = c.read_frame.text
          c.close
          [echo, refused_how, refused_how(**client_cert('stranger'))]
        end
        expect(result[0]).to eq('with cert')
        expect(REFUSED).to include(result[1])
        expect(REFUSED).to include(result[2])
        expect(events[:opens].size).to eq(1)
      end

      it 'without :fail_if_no_peer_cert lets a client without a certificate in, but not a bad one' do
        opts = secure(verify_peer: true, ca_cert: pki.read('ca.pem'))
        result, events = with_tls_server(opts) do
          c = TLSClient.new(port).handshake
          c.send_frame(:text, 'no cert')
          echo = c.read_frame.text
          c.close
          [echo, refused_how(**client_cert('stranger'))]
        end
        expect(result[0]).to eq('no cert')
        expect(REFUSED).to include(result[1])
        expect(events[:opens].size).to eq(1)
      end
    end

    describe 'a bad configuration', rs_only: 'checked when the server starts' do
      it 'names a missing file' do
        missing = pki.path('missing.pem')
        expect(start_error(secure(cert_chain_file: missing)))
          .to match(/certificate chain file #{Regexp.escape(missing)}: No such file/)
        expect(start_error(secure(private_key_file: missing))).to match(/private key file #{Regexp.escape(missing)}: No such file/)
      end

      it 'names a file it cannot read' do
        expect(start_error(secure(private_key_file: pki.path('.'))))
          .to match(/cannot read the private key file .*: Is a directory/)
      end

      it 'names a key that does not match the certificate' do
        expect(start_error(secure(private_key_file: pki.path('unrelated.key'))))
          .to eq(":tls_options: the private key file #{pki.path('unrelated.key')} does not match the " \
                 "certificate in the certificate chain file #{pki.path('chain.pem')}")
      end

      it 'names malformed PEM and PEM without what it should hold' do
        lines = pki.read('server.pem').lines
        lines[1] = "*!*!#{lines[1][4..]}"
        File.write(pki.path('broken.pem'), lines.join)
        expect(start_error(secure(cert_chain_file: pki.path('broken.pem'))))
          .to start_with(":tls_options: the certificate chain file #{pki.path('broken.pem')} is not valid PEM")
        expect(start_error(secure(cert_chain_file: pki.path('server.key'))))
          .to include("#{pki.path('server.key')} holds no certificate")
        expect(start_error(secure(private_key_file: pki.path('server.pem'))))
          .to include("#{pki.path('server.pem')} holds no private key")
        expect(start_error(secure(private_key: 'not a key', private_key_file: nil)))
          .to include('the private key given inline holds no private key')
      end

      it 'refuses an encrypted key and :private_key_pass' do
        expect(start_error(secure(private_key_file: pki.path('encrypted.key'))))
          .to include("#{pki.path('encrypted.key')} holds an encrypted private key")
        expect(start_error(secure(private_key_pass: 'secret'))).to include(':private_key_pass is not supported')
      end

      it 'needs a certificate and a key' do
        expect(start_error(secure: true)).to include(':secure needs a certificate and its key')
        expect(start_error(secure: true, tls_options: { cert_chain_file: pki.path('chain.pem') }))
          .to include(':secure needs a certificate and its key')
        expect(start_error(secure(cert: pki.read('chain.pem')))).to eq(':tls_options takes :cert_chain_file or :cert, not both')
      end

      it 'refuses :verify_peer without a CA, and a CA file without a certificate' do
        expect(start_error(secure(verify_peer: true))).to include(':verify_peer needs :ca_file')
        expect(start_error(secure(verify_peer: true, ca_file: pki.path('server.key'))))
          .to include("client CA certificate file #{pki.path('server.key')} holds no certificate")
      end

      it 'refuses unknown keys and protocols it cannot speak' do
        expect(start_error(secure(private_key_files: 'x'))).to start_with(':tls_options does not take :private_key_files')
        expect(start_error(secure(ssl_version: %w[SSLv3 TLSv1]))).to include('rustls speaks TLSv1_2 and TLSv1_3 only')
        expect(start_error(secure(ssl_version: 'TLSv9'))).to include('unknown protocol "TLSv9"')
        expect(start_error(secure: true, tls_options: 'cert.pem')).to eq(':tls_options must be a Hash, got String')
      end
    end

    describe 'options rustls cannot honour but can safely ignore', rs_only: 'warnings' do
      def stderr_of
        saved = $stderr
        $stderr = StringIO.new
        yield
        $stderr.string
      ensure
        $stderr = saved
      end

      it 'warns once for each, and serves' do
        EmWebSocketRs::Options::TLS.reset_warnings
        opts = secure(cipher_list: 'ALL:!ADH', ecdh_curve: 'prime256v1', dhparam: pki.path('dh.pem'),
                      ssl_version: %w[TLSv1 TLSv1_1 TLSv1_2 TLSv1_3])
        results = []
        warnings = stderr_of do
          2.times do
            @port = nil
            results << with_tls_server(opts) { TLSClient.new(port).handshake.response.status_line }.first
          end
        end
        expect(results).to eq(['HTTP/1.1 101 Switching Protocols'] * 2)
        expect(warnings.lines.map { |l| l[/:tls_options :\w+/] }.sort)
          .to eq([':tls_options :cipher_list', ':tls_options :dhparam', ':tls_options :ecdh_curve',
                  ':tls_options :ssl_version'])
        expect(warnings).to include(':ssl_version leaves out TLSv1, TLSv1_1')
      end
    end

    describe 'misbehaving clients' do
      it 'drops plain HTTP, garbage and broken handshakes, and keeps serving' do
        junk = [
          Handshake.rfc6455_request(host: 'localhost'),
          Random.new(3).bytes(3000),
          "\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03#{'x' * 20}".b, # a ClientHello cut short, then EOF
          "\x16\x03\x01\xff\xff#{"\0" * 64}".b # a record longer than TLS allows
        ]
        result, events = with_tls_server(secure.merge(handshake_timeout: 2)) do
          socks = junk.map do |bytes|
            TCPSocket.new(host, port).tap { |s| s.write(bytes) }
          end
          socks[2].close_write
          answers = socks.map do |s|
            raise 'not dropped' unless IO.select([s], nil, nil, 3)

            begin
              s.read.to_s.b
            rescue Errno::ECONNRESET
              ''.b
            ensure
              s.close
            end
          end
          c = TLSClient.new(port).handshake
          c.send_frame(:text, 'still here')
          [answers.map { |a| a.start_with?('HTTP/') }, c.read_frame.text, c.close_handshake.close_code]
        end
        expect(result).to eq([[false] * 4, 'still here', 1000])
        expect(events[:opens].size).to eq(1)
        expect(events[:closes]).to eq([{ code: 1000, reason: '', was_clean: true }])
      end

      it 'drops a client that stalls in the TLS handshake after :handshake_timeout', rs_only: ':handshake_timeout' do
        result, = with_tls_server(secure.merge(handshake_timeout: 0.3)) do
          s = TCPSocket.new(host, port)
          started = monotonic
          raise 'not dropped' unless IO.select([s], nil, nil, 3)

          s.read
          s.close
          monotonic - started
        end
        expect(result).to be_between(0.2, 2)
      end

      it 'does not hold up EM.stop with a client stalled in the TLS handshake' do
        sock = nil
        started = nil
        em_run do
          start_server(secure) { |_ws| }
          sock = TCPSocket.new(host, port)
          EM.add_timer(0.2) do
            started = monotonic
            done
          end
        end
        expect(monotonic - started).to be < 1
        expect(IO.select([sock], nil, nil, 2)).not_to be_nil
      ensure
        sock&.close
      end
    end

    describe 'secure? and wss:// in draft 76 Location headers' do
      DRAFT76 = H.format_request(path: '/old', headers: [
        ['Host', 'example.com'], %w[Connection Upgrade], ['Sec-WebSocket-Key2', '12998 5 Y3 1  .P00'],
        %w[Upgrade WebSocket], ['Sec-WebSocket-Key1', '4 @1  46546xW%0l 1 5'], ['Origin', 'http://example.com']
      ]) + '^n:ds[4U'.b

      # The Location header and secure? for a draft 76 client.
      def draft76(opts, client_opts)
        secure = nil
        client = nil
        em_run do
          start_server(opts) { |ws| ws.onopen { |hs| secure = hs.secure? } }
          client = connect_client(request: DRAFT76, handshake: false, **client_opts)
          client.on_data { |_| done_later(0.05) if client.data.include?("\r\n\r\n") }
        end
        [H.parse_response(client.data)&.first&.[]('sec-websocket-location'), secure]
      end

      it 'is wss:// and true over TLS' do
        expect(draft76(secure, tls: true)).to eq(['wss://example.com/old', true])
      end

      it 'is wss:// and true behind a TLS-terminating proxy (:secure_proxy)' do
        expect(draft76({ secure_proxy: true }, {})).to eq(['wss://example.com/old', true])
      end

      it 'is ws:// and false otherwise' do
        expect(draft76({}, {})).to eq(['ws://example.com/old', false])
      end
    end
  end
end
