require 'spec_helper'
require 'socket'

module EMWSSpec
  # Broken, vanishing and hostile peers, faults and abuse from the
  # application's side: the server stays up, loses nothing, and reports
  # each connection's end exactly once.
  RSpec.describe 'hostile peers and faults' do
    # An echo server appending, for each connection, the list of its
    # callbacks in order to +log+.
    def recording_server(log, opts = {})
      start_server(opts) do |ws|
        events = []
        log << events
        ws.onopen { events << :open }
        ws.onmessage do |m|
          events << [:message, m]
          ws.send(m)
        end
        ws.onbinary do |m|
          events << [:binary, m]
          ws.send_binary(m)
        end
        ws.onerror { |e| events << [:error, e.class] }
        ws.onclose { |ev| events << [:close, ev] }
      end
    end

    def closes(log)
      log.flat_map { |events| events.select { |e| e.is_a?(Array) && e[0] == :close }.map(&:last) }
    end

    # Vanishes with a TCP RST (SO_LINGER 0) instead of a FIN.
    def reset(sock)
      sock.setsockopt(Socket::SOL_SOCKET, Socket::SO_LINGER, [1, 0].pack('ii'))
      sock.close
    end

    describe 'a peer vanishing' do
      [
        ['with a FIN mid-frame', :close],
        ['with an RST mid-frame', :reset]
      ].each do |name, how|
        it "#{name}: exactly one onclose 1006" do
          log = []
          sock = nil
          em_run do
            recording_server(log)
            sock = TCPSocket.new(host, port)
            sock.write(ws_request)
            when_true(-> { log.first&.include?(:open) }) do
              # a header announcing 100 bytes, and 10 of them
              sock.write(Frames.encode(:text, 'x' * 100).byteslice(0, 16))
              EM.add_timer(0.05) do
                how == :reset ? reset(sock) : sock.close
                done_later(0.5)
              end
            end
          end
          expect(closes(log)).to eq([{ code: 1006, was_clean: false }])
          expect(log.first.grep(Array).map(&:first)).to eq([:close])
        end
      end

      [
        ['mid-handshake (FIN)', :close],
        ['mid-handshake (RST)', :reset]
      ].each do |name, how|
        it "#{name}: no onopen and no onclose, as em-websocket" do
          log = []
          em_run do
            recording_server(log)
            sock = TCPSocket.new(host, port)
            sock.write(ws_request.byteslice(0, 40))
            EM.add_timer(0.1) do
              how == :reset ? reset(sock) : sock.close
              done_later(0.4)
            end
          end
          expect(log.flatten(1)).to eq([])
        end
      end

      it 'after a partial fragmented message: onclose 1006 and no message' do
        log = []
        em_run do
          recording_server(log)
          c = connect_client
          c.on_open do
            c.send_frame(:text, 'first half', fin: false)
            EM.add_timer(0.05) do
              c.close_connection
              done_later(0.3)
            end
          end
        end
        expect(log.size).to eq(1)
        expect(log.first).to eq([:open, [:close, { code: 1006, was_clean: false }]])
      end
    end

    it 'drops garbage sent instead of a handshake and serves the next client' do
      log = []
      garbage = nil
      echo = nil
      em_run do
        recording_server(log)
        garbage = connect_client(request: Random.new(7).bytes(4096), handshake: false)
        garbage.on_close do
          c = connect_client
          c.on_open { c.send_text('after the garbage') }
          c.on_frame do |f|
            echo = f.text
            done_later(0.05)
          end
        end
      end
      expect(garbage).to be_closed
      expect(garbage.data).not_to include('101')
      expect(echo).to eq('after the garbage')
      expect(log.map(&:first)).to eq([[:error, WS::HandshakeError], :open])
    end

    it 'fails an absurd 64-bit frame length at once (1009), buffering nothing',
       rs_only: 'em-websocket 0.5.1 reads only 4 of the 8 length bytes' do
      log = []
      client = nil
      em_run do
        recording_server(log)
        client = connect_client(echo_close: false)
        client.on_open { client.send_data(Frames.encode(:binary, 'z' * 10, length_override: 1 << 62)) }
        client.on_close { done_later(0.05) }
      end
      expect(client.close_frame.close_code).to eq(1009)
      expect(log.first).to eq([:open, [:error, WS::WSMessageTooBigError], [:close, { code: 1006, was_clean: false }]])
    end

    it 'stops with 500 live connections promptly: EM.run returns, every onclose fired, no socket left' do
      n = 500
      socks = []
      opens = 0
      closed = []
      stop_took = nil
      EM.epoll if EMWSSpec.original? # EventMachine's select() stops at 1024 fds
      fds_before = Dir.children('/proc/self/fd').size
      em_run(timeout: 40) do
        start_server do |ws|
          ws.onopen { opens += 1 }
          ws.onclose { |ev| closed << ev }
        end
        request = ws_request
        connector = EM.add_periodic_timer(0.01) do
          25.times do
            next connector.cancel if socks.size >= n

            s = TCPSocket.new(host, port)
            s.write(request)
            socks << s
          end
        end
        when_true(-> { opens == n }, timeout: 30) do
          stop_took = monotonic
          EM.stop
        end
      end
      stop_took = monotonic - stop_took
      socks.each(&:close)
      expect(opens).to eq(n)
      expect(stop_took).to be < 5
      expect(closed.size).to eq(n)
      expect(closed.uniq).to eq([{ code: 1006, was_clean: false }])
      expect(Dir.children('/proc/self/fd').size).to be <= fds_before + 8
    ensure
      socks.each { |s| s.close unless s.closed? }
    end

    it 'ws.send from 8 threads at once delivers every message, in order per thread',
       rs_only: "EventMachine's send_data is not thread-safe" do
      per_thread = 250
      client = nil
      em_run(timeout: 20) do
        start_server do |ws|
          ws.onopen do
            8.times do |t|
              Thread.new { per_thread.times { |i| ws.send("#{t}:#{i}") } }
            end
          end
        end
        client = connect_client
        client.on_frame { done if client.frames.size == 8 * per_thread }
      end
      by_thread = client.frames.map(&:text).group_by { |s| s.split(':').first }
      expect(by_thread.keys.sort).to eq(('0'..'7').to_a)
      by_thread.each do |t, messages|
        expect(messages).to eq((0...per_thread).map { |i| "#{t}:#{i}" })
      end
    end

    it 'survives GC.stress during an exchange' do
      echoes = []
      em_run(timeout: 60) do
        start_server do |ws|
          ws.onmessage { |m| ws.send(m) }
          ws.onbinary { |m| ws.send_binary(m) }
        end
        c = connect_client
        c.on_open do
          GC.stress = true
          8.times { |i| c.send_text("gc #{i} #{'é' * i}") }
          c.send_binary("\x00\xFF".b * 100)
        end
        c.on_frame do |f|
          echoes << [f.type, f.payload]
          if echoes.size == 9
            GC.stress = false
            done
          end
        end
      end
      expect(echoes).to eq(8.times.map { |i| [:text, "gc #{i} #{'é' * i}".b] } + [[:binary, "\x00\xFF".b * 100]])
    ensure
      GC.stress = false
    end

    it 'loses no event and no message while the application blocks the reactor for 2 s' do
      log = []
      result = nil
      em_run(timeout: 25) do
        start_server do |ws|
          events = []
          log << events
          ws.onopen { events << :open }
          ws.onmessage do |m|
            events << m
            sleep 2 if m == 'a block' # the application holds the reactor
            ws.send(m)
          end
          ws.onclose { |ev| events << ev }
        end
        thread, holder = in_thread do
          vanishing = BlockingClient.new(port)
          a = BlockingClient.new(port)
          a.send_text('a block')
          sleep 0.3 # the reactor is blocked from here on
          vanishing.send_text('v last words')
          vanishing.close
          late = Thread.new do
            b = BlockingClient.new(port, timeout: 10) # its handshake waits for the reactor
            50.times { |i| b.send_text("b #{i}") }
            50.times.map { b.read_data_frame(timeout: 10).text }
          end
          100.times { |i| a.send_text("a #{i}") }
          a_echoes = 101.times.map { a.read_data_frame(timeout: 10).text }
          [a_echoes, late.value]
        end
        result = [thread, holder]
      end
      a_echoes, b_echoes = join_thread!(*result, timeout: 20)
      expect(a_echoes).to eq(['a block'] + (0..99).map { |i| "a #{i}" })
      expect(b_echoes).to eq((0..49).map { |i| "b #{i}" })
      vanishing = log.find { |events| events.include?('v last words') }
      expect(vanishing).to eq([:open, 'v last words', { code: 1006, was_clean: false }])
      expect(log.size).to eq(3)
    end

    it "a panic in a connection's task: onerror 'Internal error', onclose 1011, the server goes on",
       rs_only: 'the Rust connection task' do
      log = []
      echo = nil
      hooks = ENV.fetch('EMWS_TEST_HOOKS', nil)
      ENV['EMWS_TEST_HOOKS'] = '1' # panic_for_test is refused without it
      # the panic message Rust prints is expected
      quiet_stderr do
        em_run do
          start_server do |ws|
            events = []
            log << events
            ws.onopen do
              events << :open
              ws.instance_variable_get(:@native).panic_for_test if log.size == 1
            end
            ws.onmessage { |m| ws.send(m) }
            ws.onerror { |e| events << [:error, e.class, e.message] }
            ws.onclose do |ev|
              events << [:close, ev]
              next unless events.equal?(log.first)

              c = connect_client
              c.on_open { c.send_text('still serving') }
              c.on_frame do |f|
                echo = f.text
                done_later(0.05)
              end
            end
          end
          connect_client
        end
      end
      panicked = log.first
      expect(panicked[0]).to eq(:open)
      expect(panicked[1][0..1]).to eq([:error, WS::WSProtocolError])
      expect(panicked[1][2]).to start_with('Internal error')
      expect(panicked[2]).to eq([:close, { code: 1011, was_clean: false }])
      expect(panicked.size).to eq(3)
      expect(echo).to eq('still serving')
    ensure
      ENV['EMWS_TEST_HOOKS'] = hooks
    end

    it 'lets methods called on a closed connection return quietly, as em-websocket' do
      after = nil
      em_run do
        start_server do |ws|
          ws.onclose do
            EM.next_tick do
              after = { state: ws.state, raised: [] }
              calls = {
                send: -> { ws.send('late') },
                send_binary: -> { ws.send_binary('late') },
                ping: -> { ws.ping('late') },
                pong: -> { ws.pong('late') },
                send_data: -> { ws.send_data('late') },
                get_outbound_data_size: -> { ws.get_outbound_data_size },
                close_connection: -> { ws.close_connection },
                close: -> { ws.close(1000, 'late') }
              }
              calls.each do |name, call|
                call.call
              rescue StandardError => e
                after[:raised] << [name, e]
              end
              done_later(0.1)
            end
          end
        end
        c = connect_client
        c.on_open { c.close_connection }
      end
      expect(after).to eq(state: :closed, raised: [])
    end

    it 'keeps every message of a well-behaved client while hostile clients hit the server' do
      log = []
      hostile = {}
      good_echoes = []
      sent = (0...200).map { |i| "good #{i} #{'é' * (i % 40)}" }
      em_run(timeout: 20) do
        recording_server(log, handshake_timeout: 3, max_message_size: 64 * 1024)
        request = ws_request
        hostile[:garbage] = connect_client(request: Random.new(1).bytes(8192), handshake: false)
        hostile[:half_open] = connect_client(request: request.byteslice(0, request.bytesize - 2), handshake: false)
        hostile[:slowloris] = connect_client(request: request.byteslice(0, 10), handshake: false)
        hostile[:huge_length] = connect_client(echo_close: false)
        hostile[:huge_length].on_open { |_| hostile[:huge_length].send_data(Frames.encode(:binary, '', length_override: 1 << 40)) }
        hostile[:bad_utf8] = connect_client(echo_close: false)
        hostile[:bad_utf8].on_open { hostile[:bad_utf8].send_text("\xC3\x28".b) }
        hostile[:bad_opcode] = connect_client(echo_close: false)
        hostile[:bad_opcode].on_open { hostile[:bad_opcode].send_frame(0x3, 'x') }
        hostile[:unfinished] = connect_client
        hostile[:unfinished].on_open { hostile[:unfinished].send_frame(:text, 'never ends', fin: false) }
        hostile[:ping_flood] = connect_client
        hostile[:ping_flood].on_open { hostile[:ping_flood].send_data(Frames.encode(:ping, 'f' * 100) * 5000) }
        hostile[:vanisher] = connect_client
        hostile[:vanisher].on_open do
          hostile[:vanisher].send_data(Frames.encode(:text, 'y' * 1000).byteslice(0, 100))
          hostile[:vanisher].close_connection
        end

        good = connect_client
        good.on_open { good.send_text(sent[0]) }
        good.on_frame do |f|
          next unless f.type == :text

          good_echoes << f.text
          if good_echoes.size < sent.size
            good.send_text(sent[good_echoes.size])
          else
            done_later(0.2)
          end
        end
      end
      expect(good_echoes).to eq(sent)
      expect(hostile[:garbage]).to be_closed
      failed = %i[bad_utf8 bad_opcode]
      failed << :huge_length unless EMWSSpec.original? # em-websocket reads 4 of its 8 length bytes
      failed.each do |name|
        expect(hostile[name].close_frame&.close_code).to be_between(1002, 1009), "#{name}: #{hostile[name].frames.inspect}"
      end
      expect(hostile[:ping_flood].frames_of(:pong).size).to be >= 1
      expect(hostile[:ping_flood].frames_of(:pong).last.payload).to eq('f' * 100)
    end
  end
end
