require 'spec_helper'
require 'socket'
require 'stringio'
require 'tmpdir'

module EMWSSpec
  RSpec.describe 'the server' do
    def echo_once(opts = {}, client_opts = {})
      result = {}
      em_run do
        start_server(opts) do |ws|
          ws.onopen { |hs| result[:secure] = hs.secure? }
          ws.onmessage { |m| ws.send(m) }
        end
        c = connect_client(**client_opts)
        c.on_open { c.send_text('echo me') }
        c.on_frame do |f|
          result[:echo] = f.text
          done
        end
      end
      result
    end

    it 'gives every open connection onclose 1006 on EM.stop, and EM.run returns' do
      closes = []
      opened = 0
      em_run do
        start_server do |ws|
          ws.onopen do
            opened += 1
            EM.stop if opened == 3
          end
          ws.onclose { |ev| closes << ev }
        end
        3.times { connect_client }
      end
      expect(EM.reactor_running?).to be(false)
      expect(closes).to eq([{ code: 1006, was_clean: false }] * 3)
    end

    describe 'two servers one after another on the same port' do
      same_port = nil
      [1, 2].each do |run|
        it "serves run #{run}" do
          same_port ||= free_port
          @port = same_port
          expect(echo_once[:echo]).to eq('echo me')
        end
      end
    end

    it 'lets the port be bound again as soon as EM.run returns, with no connection left' do
      sock = nil
      em_run do
        start_server { |ws| ws.onopen { done_later(0.05) } }
        sock = TCPSocket.new(host, port)
        sock.write(ws_request)
      end
      # the server end of the connection is gone: the client reads the
      # handshake response, then EOF
      got = +''
      deadline = monotonic + 2
      loop do
        raise 'connection still open after EM.run returned' if monotonic > deadline

        IO.select([sock], nil, nil, 0.1) or next
        chunk = sock.read_nonblock(4096, exception: false)
        break if chunk.nil?

        got << chunk unless chunk == :wait_readable
      end
      expect(got).to start_with('HTTP/1.1 101')
      server = TCPServer.new(host, port)
      expect(server.addr[1]).to eq(port)
    ensure
      server&.close
      sock&.close
    end

    it 'raises from EM::WebSocket.run when the port cannot be bound' do
      blocker = TCPServer.new(host, port)
      error = nil
      em_run do
        begin
          start_server { |_ws| }
        rescue StandardError => e
          error = e
        end
        done
      end
      expect(error).to be_a(RuntimeError)
      expect(error.message).to start_with('no acceptor')
    ensure
      blocker&.close
    end

    it 'runs several servers on different ports in one reactor' do
      port_a = port
      port_b = free_port
      got = []
      em_run do
        EM::WebSocket.run(host: host, port: port_a) { |ws| ws.onopen { ws.send(+'from A') } }
        EM::WebSocket.run(host: host, port: port_b) { |ws| ws.onopen { ws.send(+'from B') } }
        [port_a, port_b].each do |p|
          c = EM.connect(host, p, RawClient,
                         { request: Handshake.rfc6455_request(host: "#{host}:#{p}") })
          c.on_frame do |f|
            got << f.text
            done if got.size == 2
          end
        end
      end
      expect(got).to contain_exactly('from A', 'from B')
    end

    it 'EM::WebSocket.start runs the reactor until EM::WebSocket.stop' do
      old_int = trap('INT', 'DEFAULT')
      old_term = trap('TERM', 'DEFAULT')
      thread, holder = in_thread(stop_reactor: false) do
        deadline = monotonic + 5
        begin
          client = BlockingClient.new(port)
        rescue Errno::ECONNREFUSED
          raise if monotonic > deadline

          sleep 0.02
          retry
        end
        client.send_text('via start')
        frame = client.read_data_frame
        client.close
        frame.text
      ensure
        EM.schedule { EM::WebSocket.stop } if EM.reactor_running?
      end
      guard = Thread.new do
        sleep 6
        EM.schedule { EM.stop } if EM.reactor_running?
      end
      out = StringIO.new
      saved = $stdout
      begin
        $stdout = out
        EM::WebSocket.start(host: host, port: port) { |ws| ws.onmessage { |m| ws.send(m) } }
      ensure
        $stdout = saved
        guard.kill
        trap('INT', old_int)
        trap('TERM', old_term)
      end
      expect(join_thread!(thread, holder)).to eq('via start')
      expect(EM.reactor_running?).to be(false)
    end

    it 'works with :debug on' do
      saved = $stdout
      $stdout = StringIO.new
      begin
        result = echo_once(debug: true)
      ensure
        $stdout = saved
      end
      expect(result[:echo]).to eq('echo me')
    end

    describe 'with TLS (:secure and :tls_options)' do
      around do |ex|
        Dir.mktmpdir('emws-tls') do |dir|
          @tls_files = self_signed_cert(dir)
          ex.run
        end
      end

      it 'completes the handshake over TLS, reports secure? and echoes' do
        result = echo_once({ secure: true, tls_options: @tls_files }, { tls: true })
        expect(result).to eq(secure: true, echo: 'echo me')
      end

      it 'does not answer a plain-text handshake on a TLS port' do
        client = nil
        opened = false
        quiet_stderr do
          em_run do
            start_server(secure: true, tls_options: @tls_files) { |ws| ws.onopen { opened = true } }
            client = connect_client
            EM.add_timer(0.5) { done }
            client.on_close { done_later(0.05) }
          end
        end
        expect(opened).to be(false)
        expect(client.data).not_to start_with('HTTP/1.1 101')
      end
    end
  end
end
