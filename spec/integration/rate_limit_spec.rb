require 'spec_helper'
require 'json'
require 'open3'

module EMWSSpec
  # Per-connection rate limits, at and over the boundary, with raw clients
  # writing bursts in one write, a python3-websockets flood, and polite
  # clients that must go on being served meanwhile.
  RSpec.describe 'rate limits', rs_only: 'em-websocket has no rate limits' do
    # An echo server recording what reaches the application.
    def limited_server(options)
      seen = Hash.new { |h, k| h[k] = [] }
      closes = {}
      server = start_server(options) do |ws|
        ws.onopen { |handshake| ws.instance_variable_set(:@name, handshake.path) }
        ws.onmessage do |message|
          seen[ws.instance_variable_get(:@name)] << message
          ws.send(message)
        end
        ws.onbinary { |message| seen[ws.instance_variable_get(:@name)] << message }
        ws.onclose { |event| closes[ws.instance_variable_get(:@name)] = event }
      end
      [server, seen, closes]
    end

    # Every text frame written at once, in one write.
    def burst(client, messages)
      client.write(messages.map { |m| Frames.encode(:text, m) }.join)
    end

    # Frames from the server until a close frame or silence.
    def read_until_close(client, timeout: 3)
      frames = []
      loop do
        frame = client.read_frame(timeout: timeout)
        frames << frame
        break if frame.type == :close
      end
      frames
    rescue BlockingClient::Timeout, EOFError
      frames
    end

    def run_limited(options, timeout: 10, &client)
      server = seen = closes = stats = nil
      thread = holder = nil
      em_run(timeout: timeout) do
        server, seen, closes = limited_server(options)
        thread, holder = in_thread(stop_reactor: false, &client)
        when_true(-> { !thread.alive? }, timeout: timeout - 1) do
          EM.add_timer(0.2) do
            stats = server.stats
            done
          end
        end
      end
      [join_thread!(thread, holder), seen, closes, stats]
    end

    it 'lets a burst at the limit through whole' do
      frames, seen, closes, stats = run_limited({ max_messages_per_second: 10 }) do
        client = BlockingClient.new(port, path: '/at')
        burst(client, (1..10).map { |i| "m#{i}" })
        Array.new(10) { client.read_data_frame.payload }.tap { client.send_close(1000) }
      end
      expect(frames).to eq((1..10).map { |i| "m#{i}" })
      expect(seen['/at'].size).to eq(10)
      expect(closes['/at']).to include(code: 1000)
      expect(stats[:rate_limited_connections]).to eq(0)
    end

    it 'closes a connection one message over the limit with 1008, after answering the ones before' do
      frames, seen, closes, stats = run_limited({ max_messages_per_second: 10 }) do
        client = BlockingClient.new(port, path: '/over')
        burst(client, (1..11).map { |i| "m#{i}" })
        read_until_close(client).tap { client.send_close(1008) }
      end
      expect(frames.map(&:type)).to eq([:text] * 10 + [:close])
      expect(frames.last.close_code).to eq(1008)
      expect(frames.last.close_reason).to eq('Rate limit exceeded')
      expect(seen['/over']).to eq((1..10).map { |i| "m#{i}" })
      expect(closes['/over']).to include(code: 1008, was_clean: true)
      expect(stats[:rate_limited_connections]).to eq(1)
      expect(stats[:closes_sent]['1008']).to eq(1)
    end

    it 'limits bytes, and refills with time' do
      frames, seen = run_limited({ max_bytes_per_second: 1000, burst: 1 }) do
        client = BlockingClient.new(port, path: '/bytes')
        burst(client, ['x' * 600, 'y' * 400])
        first = Array.new(2) { client.read_data_frame.payload.size }
        sleep 0.35 # about 350 bytes of room again
        burst(client, ['z' * 300])
        second = client.read_data_frame.payload.size
        burst(client, ['w' * 200])
        [first, second, read_until_close(client).last&.close_code]
      end
      expect(frames).to eq([[600, 400], 300, 1008])
      expect(seen['/bytes'].map(&:size)).to eq([600, 400, 300])
    end

    it 'drops what is over with rate_limit_action: :drop, keeps the connection, and counts' do
      result, seen, _closes, stats = run_limited({ max_messages_per_second: 10, rate_limit_action: :drop }) do
        client = BlockingClient.new(port, path: '/drop')
        burst(client, (1..25).map { |i| "m#{i}" })
        echoed = Array.new(10) { client.read_data_frame.payload }
        sleep 0.55 # five messages' worth
        burst(client, (26..40).map { |i| "m#{i}" })
        echoed += Array.new(5) { client.read_data_frame.payload }
        client.send_close(1000)
        echoed
      end
      expect(result).to eq((1..10).map { |i| "m#{i}" } + (26..30).map { |i| "m#{i}" })
      expect(seen['/drop'].size).to eq(15)
      expect(stats[:rate_limited_messages]).to eq(15 + 10)
      expect(stats[:rate_limited_connections]).to eq(0)
    end

    it 'cuts a flood at the limit while polite clients go on' do
      flood = <<~PY
        import asyncio, json, sys
        import websockets
        async def main():
            sent = 0
            code = None
            async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/flood", max_queue=None) as ws:
                try:
                    for i in range(20000):
                        await ws.send("flood %d" % i)
                        sent += 1
                    await asyncio.wait_for(ws.wait_closed(), 5)
                except websockets.ConnectionClosed:
                    pass
                code = ws.close_code
            print(json.dumps({"sent": sent, "code": code}))
        asyncio.run(main())
      PY
      latencies = []
      result, seen, closes = run_limited({ max_messages_per_second: 200 }, timeout: 20) do
        polite = Thread.new do
          client = BlockingClient.new(port, path: '/polite')
          40.times do |i|
            started = monotonic
            client.send_text("polite #{i}")
            client.read_data_frame
            latencies << monotonic - started
            sleep 0.02
          end
          client.send_close(1000)
        end
        out, err, status = Open3.capture3('timeout', '15', '/usr/bin/python3', '-c', flood, port.to_s)
        raise err unless status.success?

        polite.join
        JSON.parse(out)
      end
      expect(result['code']).to eq(1008)
      # The burst's worth reached the application, and nothing after the close.
      expect(seen['/flood'].size).to be_between(200, 260)
      expect(closes['/flood']).to include(code: 1008)
      expect(seen['/polite'].size).to eq(40)
      expect(latencies.max).to be < 0.25
    end

    it 'rejects bad limits' do
      em_run do
        expect { start_server(max_messages_per_second: 0) }.to raise_error(ArgumentError, /:max_messages_per_second/)
        expect { start_server(max_bytes_per_second: -5) }.to raise_error(ArgumentError, /:max_bytes_per_second/)
        expect { start_server(rate_limit_action: :ban) }.to raise_error(ArgumentError, /:close or :drop/)
        done
      end
    end
  end
end
