require 'spec_helper'
require 'json'
require 'open3'
require 'net/http'
require_relative '../support/prometheus_text'

module EMWSSpec
  # The figures a server keeps (`EmWebSocketRs.stats`, `server.stats`, and
  # `GET /metrics` in the Prometheus text format), checked against what
  # independent clients (python3-websockets, raw sockets) did.
  RSpec.describe 'metrics', rs_only: 'em-websocket keeps no figures' do
    # Each client: open, `texts` text and `binaries` binary echoes, a ping,
    # then the scrape (the first client, once every client is open), then a
    # close (1000 from even clients, 4001 from odd ones).
    LOAD = <<~PY.freeze
      import asyncio, json, sys, urllib.request
      import websockets

      port, clients, texts, binaries = (int(a) for a in sys.argv[1:5])
      url = f"ws://127.0.0.1:{port}/load"
      done = {"text": [0, 0], "binary": [0, 0], "ping": [0, 0], "close": [0, 0]}
      opened = asyncio.Event()
      open_count = 0
      scraped = []

      async def client(i):
          global open_count
          async with websockets.connect(url, close_timeout=5) as ws:
              open_count += 1
              if open_count == clients:
                  opened.set()
              for n in range(texts):
                  message = "m" * (1 + (i * 7 + n) % 300)
                  await ws.send(message)
                  assert await ws.recv() == message
                  done["text"][0] += 1; done["text"][1] += len(message)
              for n in range(binaries):
                  message = bytes([i % 256]) * (1 + n * 100)
                  await ws.send(message)
                  assert await ws.recv() == message
                  done["binary"][0] += 1; done["binary"][1] += len(message)
              await (await ws.ping(b"ping"))
              done["ping"][0] += 1; done["ping"][1] += 4
              await opened.wait()
              if i == 0:
                  scrape = await asyncio.to_thread(
                      lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
                  scraped.append(scrape)
              await scrape_done.wait() if i else scrape_done.set()
              code = 1000 if i % 2 == 0 else 4001
              await ws.close(code=code, reason="bye")
              done["close"][0] += 1; done["close"][1] += 2 + 3

      async def main():
          global scrape_done
          scrape_done = asyncio.Event()
          await asyncio.gather(*(client(i) for i in range(clients)))
          print(json.dumps({"done": done, "scrape": scraped[0]}))

      asyncio.run(main())
    PY

    def http_get(port, path)
      Net::HTTP.start(host, port, open_timeout: 5, read_timeout: 5) { |http| http.get(path) }
    end

    def echo_server(options = {})
      start_server(options) do |ws|
        ws.onmessage { |m| ws.send(m) }
        ws.onbinary { |m| ws.send_binary(m) }
      end
    end

    it 'a scrape during a load run and after it matches what the clients did' do
      clients = 20
      server = nil
      thread = holder = nil
      em_run(timeout: 40) do
        server = echo_server(metrics: true)
        thread, holder = in_thread do
          out = python(LOAD, port, clients, 10, 3)
          # Not an upgrade, and not /metrics: a failed handshake.
          TCPSocket.open(host, port) do |s|
            s.write("GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            s.read
          end
          # Every client gone: the scrape's own connection is the one left.
          eventually { http_get(port, '/metrics').body.include?("emws_connections 1\n") }
          out.merge('after' => http_get(port, '/metrics'))
        end
      end
      result = join_thread!(thread, holder)
      after = server.stats

      during = PrometheusText.parse(result['scrape'])
      # Every client open, and the scrape's own connection.
      expect(during.value('emws_connections')).to eq(clients + 1)
      expect(during.value('emws_messages_received_total', type: 'text')).to eq(clients * 10)

      response = result['after']
      expect(response.code).to eq('200')
      expect(response['Content-Type']).to eq('text/plain; version=0.0.4; charset=utf-8')
      scrape = PrometheusText.parse(response.body)
      done = result['done']
      expect(scrape.value('emws_messages_received_total', type: 'text')).to eq(done['text'][0])
      expect(scrape.value('emws_bytes_received_total', type: 'text')).to eq(done['text'][1])
      expect(scrape.value('emws_messages_received_total', type: 'binary')).to eq(done['binary'][0])
      expect(scrape.value('emws_bytes_received_total', type: 'binary')).to eq(done['binary'][1])
      # A ping and a close from each client.
      expect(scrape.value('emws_messages_received_total', type: 'control')).to eq(clients * 2)
      expect(scrape.value('emws_bytes_received_total', type: 'control')).to eq(done['ping'][1] + done['close'][1])
      expect(scrape.value('emws_messages_sent_total', type: 'text')).to eq(done['text'][0])
      expect(scrape.value('emws_bytes_sent_total', type: 'binary')).to eq(done['binary'][1])
      # A pong and a close echo to each.
      expect(scrape.value('emws_messages_sent_total', type: 'control')).to eq(clients * 2)
      expect(scrape.value('emws_closes_received_total', code: '1000')).to eq(clients / 2)
      expect(scrape.value('emws_closes_received_total', code: '4000-4999')).to eq(clients / 2)
      expect(scrape.value('emws_closes_sent_total', code: '1000')).to eq(clients / 2)
      expect(scrape.value('emws_closes_sent_total', code: '4000-4999')).to eq(clients / 2)
      expect(scrape.value('emws_handshakes_failed_total', reason: 'invalid_request')).to eq(1)
      # The clients, the GET /other, and the scrapes so far.
      expect(scrape.value('emws_connections_accepted_total')).to be >= clients + 3
      expect(scrape.value('emws_connections')).to eq(1)
      expect(scrape.families['emws_connections'][:type]).to eq('gauge')
      expect(scrape.families['emws_messages_received_total'][:type]).to eq('counter')

      # The Hash says the same.
      expect(after[:messages_received]).to eq('text' => done['text'][0], 'binary' => done['binary'][0], 'control' => clients * 2)
      expect(after[:closes_received]).to eq('1000' => clients / 2, '4000-4999' => clients / 2)
      expect(after[:handshakes_failed]['invalid_request']).to eq(1)
      process = EmWebSocketRs.stats
      expect(process[:messages_received]['text']).to be >= done['text'][0]
      expect(process.keys).to eq(after.keys)
    end

    it 'serves /metrics on a port of its own with metrics: { port: }, and leaves the WebSocket port alone' do
      thread = holder = nil
      em_run(timeout: 10) do
        server = echo_server(metrics: { port: 0 })
        metrics_port = server.metrics_port
        thread, holder = in_thread do
          on_ws_port = TCPSocket.open(host, port) do |s|
            s.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.read
          end
          scrape = http_get(metrics_port, '/metrics')
          missing = http_get(metrics_port, '/other')
          [scrape, missing, on_ws_port]
        end
      end
      scrape, missing, on_ws_port = join_thread!(thread, holder)
      expect(scrape.code).to eq('200')
      parsed = PrometheusText.parse(scrape.body)
      # The request on the WebSocket port was not an upgrade: a failed handshake.
      expect(parsed.value('emws_handshakes_failed_total', reason: 'invalid_request')).to eq(1)
      expect(missing.code).to eq('404')
      expect(on_ws_port).not_to include('emws_')
    end

    it 'is not answered on the WebSocket port unless asked for' do
      seen = []
      thread = holder = nil
      em_run(timeout: 5) do
        start_server { |ws| seen << ws }
        thread, holder = in_thread do
          TCPSocket.open(host, port) do |s|
            s.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.read
          end
        end
      end
      reply = join_thread!(thread, holder)
      expect(reply).not_to include('emws_')
      # The application's block ran for it, as for any connection.
      expect(seen.size).to eq(1)
    end

    it 'counts refusals, timeouts and aborted slow readers' do
      stats = nil
      em_run(timeout: 10) do
        server = start_server(max_connections: 2, handshake_timeout: 0.3, outbound_limit: 64 * 1024) do |ws|
          ws.onopen do |handshake|
            # The slow reader: more than :outbound_limit, never read.
            EM.add_timer(0.05) { 20.times { ws.send('x' * 16 * 1024) } } if handshake.path == '/slow'
          end
        end
        thread, holder = in_thread(stop_reactor: false) do
          silent = TCPSocket.new(host, port) # never sends its request: timed out
          slow = BlockingClient.new(port, path: '/slow')
          refused = TCPSocket.open(host, port) { |s| s.read }
          sleep 0.8 # the handshake timeout passes
          [silent, slow].each(&:close)
          refused
        end
        when_settled(server, thread, holder) do |refused, settled|
          expect(refused).to start_with('HTTP/1.1 503')
          stats = settled
        end
      end
      expect(stats[:handshakes_failed]).to include('max_connections' => 1, 'timeout' => 1)
      expect(stats[:outbound_limit_aborts]).to eq(1)
      expect(stats[:connections_accepted]).to eq(3)
    end

    it 'counts a keep-alive ping left unanswered' do
      stats = nil
      em_run(timeout: 6) do
        server = start_server(ping_interval: 0.2, ping_timeout: 0.2) { |ws| }
        thread, holder = in_thread(stop_reactor: false) do
          client = BlockingClient.new(port)
          sleep 0.8 # reads nothing, answers nothing
          client.close
        end
        when_settled(server, thread, holder) { |_, settled| stats = settled }
      end
      expect(stats[:ping_timeouts]).to eq(1)
      expect(stats[:messages_sent]['control']).to be >= 1
    end

    it 'counts channel pushes and deliveries' do
      before = EmWebSocketRs.stats
      em_run(timeout: 5) do
        channel = EmWebSocketRs::Channel.new
        opened = 0
        start_server do |ws|
          ws.onopen do
            channel.subscribe(ws)
            opened += 1
            if opened == 3
              channel.push('hello')
              channel.push('again')
              done_later
            end
          end
        end
        3.times { connect_client }
      end
      after = EmWebSocketRs.stats
      expect(after[:channel_pushes] - before[:channel_pushes]).to eq(2)
      expect(after[:channel_deliveries] - before[:channel_deliveries]).to eq(6)
    end

    it 'rejects a bad :metrics option' do
      em_run do
        expect { start_server(metrics: { port: 'x' }) }.to raise_error(ArgumentError, /:metrics's :port/)
        expect { start_server(metrics: { path: '/m' }) }.to raise_error(ArgumentError, /unknown key :path/)
        expect { start_server(metrics: 3) }.to raise_error(ArgumentError, /:metrics must be/)
        done
      end
    end

    # Once the client thread has ended and every connection is gone: the
    # block gets the thread's value and the server's figures, then the
    # reactor stops.
    def when_settled(server, thread, holder)
      when_true(-> { !thread.alive? }) do
        value = join_thread!(thread, holder)
        when_true(-> { server.stats[:connections].zero? }) do
          yield value, server.stats
          done
        end
      end
    end

    def eventually(timeout: 5)
      deadline = monotonic + timeout
      until yield
        raise "not within #{timeout}s" if monotonic > deadline

        sleep 0.05
      end
    end
  end
end
