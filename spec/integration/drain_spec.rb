require 'spec_helper'
require 'json'
require 'open3'
require 'rbconfig'
require_relative '../../tasks/support/process_group'

module EMWSSpec
  # A graceful drain (`server.stop(drain:)`, `EM::WebSocket.stop(drain:)`,
  # TERM under `EM::WebSocket.start`) with live clients: python3-websockets
  # for the polite ones, a raw socket that never reads for the slow one.
  RSpec.describe 'graceful drain', rs_only: 'em-websocket has no drain' do
    # `clients` connections that read everything until the server closes;
    # each reports what it received and the close code and reason.
    CLIENTS = <<~PY.freeze
      import asyncio, json, sys
      import websockets

      port, clients = int(sys.argv[1]), int(sys.argv[2])

      async def client(i):
          async with websockets.connect(f"ws://127.0.0.1:{port}/{i}", close_timeout=10, max_queue=None) as ws:
              got = []
              try:
                  while True:
                      got.append(await ws.recv())
              except websockets.ConnectionClosed as closed:
                  return {"got": got, "code": closed.rcvd.code if closed.rcvd else None,
                          "reason": closed.rcvd.reason if closed.rcvd else None}

      async def main():
          results = await asyncio.gather(*(client(i) for i in range(clients)))
          print(json.dumps(results))

      asyncio.run(main())
    PY

    it 'closes 200 live connections with 1001 after what was queued, and drops a slow reader at the deadline' do
      clients = 200
      closes = {}
      timeline = {}
      drained = 0
      port_free = nil
      stats = nil
      thread = holder = nil
      em_run(timeout: 30) do
        open = {}
        slow = nil
        server = start_server(outbound_limit: 0) do |ws|
          ws.onopen do |handshake|
            if handshake.path == '/slow'
              slow = ws
            else
              open[handshake.path] = ws
            end
            next unless open.size == clients && slow

            # The slow reader's socket buffers fill up, and more waits behind them.
            64.times { slow.send('s' * 256 * 1024) }
            open.each { |path, conn| conn.send("last words to #{path}") }
            timeline[:drain] = monotonic
            server.stop(drain: 2) do
              drained += 1
              timeline[:drained] = monotonic
              stats = server.stats
              done_later(0.2)
            end
            # The port is free for the next process at once.
            port_free = begin
              TCPServer.new(host, port).close
              true
            rescue Errno::EADDRINUSE
              false
            end
          end
          ws.onclose do |event|
            closes[ws.equal?(slow) ? :slow : ws] = event
            timeline[:slow_closed] = monotonic if ws.equal?(slow)
          end
        end
        thread, holder = in_thread(stop_reactor: false) { python(CLIENTS, port, clients) }
        slow_socket = TCPSocket.new(host, port)
        slow_socket.setsockopt(Socket::SOL_SOCKET, Socket::SO_RCVBUF, 4096)
        slow_socket.write(Handshake.rfc6455_request(host: "#{host}:#{port}", path: '/slow'))
        EM.add_shutdown_hook { slow_socket.close }
      end
      results = join_thread!(thread, holder, timeout: 10)

      expect(port_free).to be(true)
      expect(drained).to eq(1)
      expect(results.size).to eq(clients)
      results.each_with_index do |result, i|
        expect(result['got']).to eq(["last words to /#{i}"])
        expect([result['code'], result['reason']]).to eq([1001, 'Going away'])
      end
      polite = closes.reject { |key, _| key == :slow }.values
      expect(polite.size).to eq(clients)
      expect(polite.map { |e| [e[:code], e[:was_clean]] }.uniq).to eq([[1001, true]])
      expect(closes[:slow]).to include(code: 1006, was_clean: false)
      # Dropped at the deadline, not before.
      expect(timeline[:slow_closed] - timeline[:drain]).to be_between(1.8, 4)
      expect(stats[:drain_dropped]).to eq(1)
      expect(stats[:closes_sent]['1001']).to eq(clients + 1)
      expect(stats[:connections]).to eq(0)
    end

    it 'ends early when every connection has closed, and refuses to drain for a bad deadline' do
      timeline = {}
      em_run(timeout: 10) do
        server = start_server do |ws|
          ws.onopen do
            timeline[:drain] = monotonic
            server.stop(drain: 5) do
              timeline[:drained] = monotonic
              done
            end
          end
        end
        expect { server.stop(drain: 0) }.to raise_error(ArgumentError, /positive number of seconds/)
        expect { server.stop(drain: Float::INFINITY) }.to raise_error(ArgumentError)
        connect_client
      end
      expect(timeline[:drained] - timeline[:drain]).to be < 1
    end

    it 'EM::WebSocket.stop(drain:) drains every server, then stops the reactor' do
      closes = []
      em_run(timeout: 10) do
        opened = 0
        app = lambda do |ws|
          ws.onopen do
            opened += 1
            EM::WebSocket.stop(drain: 3) if opened == 2
          end
          ws.onclose { |event| closes << event }
        end
        start_server(&app)
        other = free_port
        EM::WebSocket.run(host: host, port: other, &app)
        connect_client
        EM.connect(host, other, RawClient, request: Handshake.rfc6455_request(host: "#{host}:#{other}"),
                                           handshake: true, echo_close: true)
      end
      expect(closes.map { |e| [e[:code], e[:was_clean]] }).to eq([[1001, true]] * 2)
    end

    it 'TERM under EM::WebSocket.start drains, and the process exits' do
      script = <<~RUBY
        $LOAD_PATH.unshift #{EMWSSpec::LIB.inspect}
        require 'em-websocket-rs'
        $stdout.sync = true
        EM::WebSocket.drain_timeout = 5
        EM::WebSocket.start(host: '127.0.0.1', port: #{port}) do |ws|
          ws.onopen { ws.send('welcome'); puts 'open' }
          ws.onclose { |event| puts "close \#{event[:code]} \#{event[:was_clean]}" }
        end
      RUBY
      out, writer = IO.pipe
      pid = Process.spawn(RbConfig.ruby, '-e', script, out: writer, err: File::NULL, pgroup: true)
      writer.close
      begin
        socket = nil
        deadline = monotonic + 10
        until socket
          begin
            socket = BlockingClient.new(port)
          rescue Errno::ECONNREFUSED
            raise 'the server did not start' if monotonic > deadline

            sleep 0.05
          end
        end
        expect(socket.read_data_frame.payload).to eq('welcome')
        expect(out.gets).to eq("open\n")
        Process.kill('TERM', pid)
        close = socket.read_frame
        expect(close.type).to eq(:close)
        expect(close.payload.unpack1('n')).to eq(1001)
        socket.send_close(1001)
        _, status = Timeout.timeout(10) { Process.wait2(pid) }
        expect(status.success?).to be(true)
        expect(out.read).to include("close 1001 true\n")
      ensure
        ProcessGroup.stop(pid, grace: 2) if pid
      end
    end
  end
end
