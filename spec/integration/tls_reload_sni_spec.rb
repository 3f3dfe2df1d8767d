# frozen_string_literal: true

require 'spec_helper'
require_relative '../support/tls_client'
require 'fileutils'
require 'open3'
require 'openssl'
require 'securerandom'
require 'socket'
require 'timeout'
require 'tmpdir'

module EMWSSpec
  module TLSReloadSNI
    # A certificate and its key in files, as :tls_options names them.
    Cert = Struct.new(:files, :identity) do
      def pem
        files[:cert_chain_file]
      end

      def key
        files[:private_key_file]
      end

      # The same certificate given inline (:cert, :private_key).
      def inline
        { cert: File.read(pem), private_key: File.read(key) }
      end
    end

    module_function

    # What tells certificates apart: the subject and the serial.
    def identity(x509)
      [x509.subject.to_s, x509.serial.to_i]
    end

    # A self-signed certificate (EC P-256) for `dns_names` in `dir`, as
    # `file`.pem and `file`.key (written over, as a renewal does), with a
    # subject of its own and a random serial.
    def make_cert(dir, file, common_name, dns_names)
      key = OpenSSL::PKey::EC.generate('prime256v1')
      x509 = OpenSSL::X509::Certificate.new
      x509.version = 2
      x509.serial = SecureRandom.random_number(1 << 62)
      x509.subject = x509.issuer = OpenSSL::X509::Name.parse("/CN=#{common_name}")
      x509.public_key = key
      x509.not_before = Time.now - 3600
      x509.not_after = Time.now + 86_400
      extensions = OpenSSL::X509::ExtensionFactory.new(x509, x509)
      x509.add_extension(extensions.create_extension('subjectAltName', dns_names.map { |n| "DNS:#{n}" }.join(',')))
      x509.add_extension(extensions.create_extension('basicConstraints', 'CA:FALSE'))
      x509.sign(key, OpenSSL::Digest.new('SHA256'))
      files = { cert_chain_file: File.join(dir, "#{file}.pem"), private_key_file: File.join(dir, "#{file}.key") }
      File.write(files[:private_key_file], key.to_pem)
      File.write(files[:cert_chain_file], x509.to_pem)
      Cert.new(files, identity(x509))
    end
  end

  RSpec.describe 'TLS certificates reloaded, and chosen by server name (SNI)',
                 rs_only: 'em-websocket has no reload_tls or :sni' do
    before(:all) { @dir = Dir.mktmpdir('emws-tls-reload-sni') }
    after(:all) { FileUtils.remove_entry(@dir) }

    def cert(file, common_name, dns_names = ['localhost'])
      TLSReloadSNI.make_cert(@dir, file, common_name, dns_names)
    end

    def missing_file
      File.join(@dir, 'missing.pem')
    end

    # Runs an echo server on `tls_options`, and the block in a thread;
    # returns the block's value. `@server` is what EM::WebSocket.run returned.
    def with_server(tls_options, &client)
      thread = holder = nil
      em_run(timeout: 20) do
        @server = start_server(secure: true, tls_options: tls_options) do |ws|
          ws.onmessage { |message| ws.send(message) }
        end
        thread, holder = in_thread(&client)
      end
      join_thread!(thread, holder, timeout: 20)
    end

    # Runs the block on the reactor thread, from the client thread; returns
    # its value, or raises what it raised.
    def on_reactor(&block)
      outcome = Queue.new
      EM.schedule do
        outcome << [:value, block.call]
      rescue StandardError => e
        outcome << [:error, e]
      end
      kind, value = Timeout.timeout(5) { outcome.pop }
      raise value if kind == :error

      value
    end

    # The certificate a new connection asking for `server_name` is answered with.
    def served(server_name = nil)
      client = TLSClient.new(port, server_name: server_name)
      TLSReloadSNI.identity(client.ssl.peer_cert).tap { client.close }
    end

    # The certificate `openssl s_client` (a process) is answered with.
    def s_client(*args)
      command = ['timeout', '10', 'openssl', 's_client', '-connect', "127.0.0.1:#{port}", *args]
      out, status = Open3.capture2e(*command, stdin_data: '')
      pem = out[/-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----/m]
      raise "#{command.join(' ')} saw no certificate (exit #{status.exitstatus}): #{out}" unless pem

      TLSReloadSNI.identity(OpenSSL::X509::Certificate.new(pem))
    end

    # The ArgumentError EM::WebSocket.run raised, once nothing listens on the port.
    # The ArgumentError starting a server with these TLS options raises.
    def tls_start_error(tls_options)
      start_error(secure: true, tls_options: tls_options)
    end

    describe ':sni' do
      before do
        @default = cert('default', 'emws default', %w[localhost])
        @a = cert('a', 'emws a', %w[a.example])
        @b = cert('b', 'emws b', %w[b.example])
        # One entry in files, one inline.
        @tls = @default.files.merge(sni: { 'a.example' => @a.files, 'b.example' => @b.inline })
      end

      it 'tells the application the name each client asked for (get_sni_hostname)' do
        names = []
        plain = []
        thread = holder = nil
        em_run(timeout: 10) do
          start_server(secure: true, tls_options: @tls) do |ws|
            ws.onopen { names << ws.get_sni_hostname&.downcase; ws.send('hi') }
          end
          plain_port = free_port
          EM::WebSocket.run(host: host, port: plain_port) do |ws|
            ws.onopen { plain << ws.get_sni_hostname; ws.send('hi') }
          end
          thread, holder = in_thread do
            ['a.example', 'B.Example', 'unknown.example', nil].each do |name|
              client = TLSClient.new(port, server_name: name).handshake
              client.read_frame
              client.close
            end
            BlockingClient.new(plain_port).tap(&:read_data_frame).close
          end
        end
        join_thread!(thread, holder)
        expect(names).to eq(['a.example', 'b.example', 'unknown.example', nil])
        expect(plain).to eq([nil])
      end

      it 'answers each server name with its certificate, in any case, and an unknown name or none with the default' do
        result = with_server(@tls) do
          client = TLSClient.new(port, server_name: 'a.example').handshake
          echo = client.echo('over a.example')
          client.close
          { echo: echo, a: served('a.example'), a_upper: served('A.EXAMPLE'), b: served('b.example'),
            unknown: served('unknown.example'), none: served }
        end
        expect([@default, @a, @b].map(&:identity).uniq.size).to eq(3)
        expect(result).to eq(echo: 'over a.example', a: @a.identity, a_upper: @a.identity, b: @b.identity,
                             unknown: @default.identity, none: @default.identity)
      end

      it 'answers openssl s_client -servername with the certificate of that name' do
        result = with_server(@tls) do
          [s_client('-servername', 'b.example'), s_client('-servername', 'unknown.example'), s_client('-noservername')]
        end
        expect(@b.identity).not_to eq(@default.identity)
        expect(result).to eq([@b.identity, @default.identity, @default.identity])
      end

      it 'refuses to start with an entry that does not load, naming its server name and file' do
        expect(tls_start_error(@tls.merge(sni: { 'a.example' => @a.files.merge(cert_chain_file: missing_file) })))
          .to start_with(%(:tls_options: sni "a.example": cannot read the certificate chain file #{missing_file}: No such file))
        expect(tls_start_error(@tls.merge(sni: { 'a.example' => @a.files.merge(private_key_file: @b.key) })))
          .to eq(%(:tls_options: sni "a.example": the private key file #{@b.key} does not match the certificate ) +
                 "in the certificate chain file #{@a.pem}")
        expect(tls_start_error(@tls.merge(sni: { 'a.example' => @b.files })))
          .to start_with(%(:tls_options: sni "a.example": the certificate chain file #{@b.pem} starts with a ) +
                         'certificate that is not valid for a.example')
        expect(tls_start_error(@tls.merge(sni: { '*.example' => @a.files }))).to include('"*.example" is not a DNS name')
        expect(tls_start_error(@tls.merge(sni: { 'a.example' => @a.pem })))
          .to eq(':tls_options :sni "a.example" must be a Hash (:cert_chain_file, :private_key_file), got String')
        expect(tls_start_error(@tls.merge(sni: { 'a.example' => { cert_chain_file: @a.pem } })))
          .to start_with(':tls_options :sni "a.example" needs a certificate and its key')
      end
    end

    describe 'Server#reload_tls' do
      it 'keeps open connections and answers new ones with the reloaded certificate' do
        v1 = cert('renewed', 'emws renewed v1')
        v2 = nil
        result = with_server(v1.files) do
          open = TLSClient.new(port).handshake
          echoes = [open.echo('before the reload')]
          # Renewed in place, as certbot does: the same paths, new contents.
          v2 = cert('renewed', 'emws renewed v2')
          not_yet = served
          on_reactor { @server.reload_tls(v1.files) }
          echoes << open.echo('after the reload')
          fresh = TLSClient.new(port).handshake
          echoes << fresh.echo('on the new certificate') << open.echo('still open')
          certificates = { open: TLSReloadSNI.identity(open.ssl.peer_cert), not_yet: not_yet, fresh: TLSReloadSNI.identity(fresh.ssl.peer_cert) }
          [open, fresh].each(&:close)
          certificates.merge(echoes: echoes)
        end
        expect(v2.identity).not_to eq(v1.identity)
        expect(result).to eq(open: v1.identity, not_yet: v1.identity, fresh: v2.identity,
                             echoes: ['before the reload', 'after the reload', 'on the new certificate', 'still open'])
      end

      it 'takes :sni: a name added is answered with its certificate, other names still with the default' do
        default = cert('reload-default', 'emws reload default')
        a = cert('reload-a', 'emws reload a', %w[a.example])
        result = with_server(default.files) do
          before = served('a.example')
          on_reactor { @server.reload_tls(default.files.merge(sni: { 'a.example' => a.inline })) }
          [before, served('a.example'), served('b.example'), served]
        end
        expect(a.identity).not_to eq(default.identity)
        expect(result).to eq([default.identity, a.identity, default.identity, default.identity])
      end

      it 'raises ArgumentError naming the file when the new settings do not load, and keeps the current ones' do
        kept = cert('kept', 'emws kept')
        other = cert('other', 'emws other')
        a = cert('reload-bad-a', 'emws bad a', %w[a.example])
        bad = [
          kept.files.merge(cert_chain_file: missing_file),
          other.files.merge(private_key_file: kept.key),
          # The default loads, an entry does not: nothing is taken.
          other.files.merge(sni: { 'a.example' => a.files.merge(private_key_file: missing_file) }),
          other.files.merge(sni: { 'a.example' => other.files }),
          other.files.merge(private_key_pass: 'secret')
        ]
        result = with_server(kept.files) do
          errors = bad.map do |tls|
            on_reactor { @server.reload_tls(tls) }
            :reloaded
          rescue ArgumentError => e
            e.message
          end
          { errors: errors, served: served, served_a: served('a.example') }
        end
        expect(other.identity).not_to eq(kept.identity)
        expect(result[:served]).to eq(kept.identity)
        expect(result[:served_a]).to eq(kept.identity)
        errors = result[:errors]
        expect(errors[0]).to start_with(":tls_options: cannot read the certificate chain file #{missing_file}: No such file")
        expect(errors[1]).to eq(":tls_options: the private key file #{kept.key} does not match the certificate in the " \
                                "certificate chain file #{other.pem}")
        expect(errors[2]).to start_with(%(:tls_options: sni "a.example": cannot read the private key file #{missing_file}))
        expect(errors[3]).to start_with(%(:tls_options: sni "a.example": the certificate chain file #{other.pem} ) +
                                        'starts with a certificate that is not valid for a.example')
        expect(errors[4]).to include(':private_key_pass is not supported')
      end

      it 'raises on a server that does not serve wss://' do
        tls = cert('plain', 'emws plain').files
        errors = []
        em_run do
          server = start_server { |_ws| }
          [tls, { cert_chain_file: missing_file }].each do |tls_options|
            server.reload_tls(tls_options)
          rescue StandardError => e
            errors << e
          end
          done
        end
        expect(errors.map(&:class)).to eq([RuntimeError, RuntimeError])
        expect(errors.map(&:message)).to all(include('does not serve wss://'))
      end
    end
  end
end
