require 'spec_helper'
require 'json'
require 'open3'

module EMWSSpec
  # `ws.onupgrade`: the application decides on an upgrade before the 101,
  # refusing with an HTTP response of its own or accepting with a chosen
  # subprotocol and headers. Clients: raw sockets (the exact response) and
  # python3-websockets (a real client's view of a refusal).
  RSpec.describe 'ws.onupgrade', rs_only: 'em-websocket has no upgrade hook' do
    # Sends an upgrade request and reads until the server closes (or 3 s).
    def raw_exchange(request)
      socket = TCPSocket.new(host, port)
      socket.write(request)
      response = String.new(encoding: Encoding::BINARY)
      deadline = monotonic + 3
      while monotonic < deadline
        next unless IO.select([socket], nil, nil, 0.2)

        chunk = socket.read_nonblock(4096, exception: false)
        break if chunk.nil?

        response << chunk if chunk.is_a?(String)
      end
      response
    ensure
      socket&.close
    end

    # The server's calls, recorded; `decide` is the application's onupgrade.
    def hook_server(options = {}, &decide)
      calls = Hash.new { |h, k| h[k] = [] }
      server = start_server(options) do |ws|
        ws.onupgrade do |handshake, upgrade|
          calls[:upgrade] << handshake.path
          decide.call(handshake, upgrade)
        end
        ws.onopen { |handshake| calls[:open] << handshake.protocol; ws.send('welcome') }
        ws.onclose { calls[:close] << true }
      end
      [server, calls]
    end

    def run_with(options = {}, timeout: 8, decide:, &client)
      calls = stats = nil
      thread = holder = nil
      em_run(timeout: timeout) do
        server, calls = hook_server(options, &decide)
        thread, holder = in_thread(stop_reactor: false, &client)
        when_true(-> { !thread.alive? }, timeout: timeout - 1) do
          EM.add_timer(0.1) do
            stats = server.stats
            done
          end
        end
      end
      [join_thread!(thread, holder), calls, stats]
    end

    it 'refuses with exactly the response given, and the application sees no open or close' do
      response, calls, stats = run_with(decide: lambda { |handshake, upgrade|
        if handshake.query['token'] == 'secret'
          upgrade.accept
        else
          upgrade.refuse(401, 'a token is needed', headers: { 'WWW-Authenticate' => 'Bearer realm="chat"' })
        end
      }) do
        raw_exchange(ws_request(path: '/chat?token=wrong'))
      end
      expect(response).to eq("HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain; charset=utf-8\r\n" \
                             "WWW-Authenticate: Bearer realm=\"chat\"\r\nContent-Length: 17\r\n" \
                             "Connection: close\r\n\r\na token is needed")
      expect(calls[:upgrade]).to eq(['/chat'])
      expect(calls[:open]).to be_empty
      expect(calls[:close]).to be_empty
      expect(stats[:handshakes_failed]['refused']).to eq(1)
    end

    it 'answers every refusal status as a real client sees it' do
      statuses = [400, 403, 404, 410, 429, 503]
      script = <<~PY
        import asyncio, json, sys
        import websockets
        async def main():
            out = {}
            for status in sys.argv[2:]:
                try:
                    async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/{status}", open_timeout=5):
                        out[status] = "opened"
                except websockets.InvalidStatusCode as e:
                    out[status] = [e.status_code, e.headers.get("Retry-After")]
            print(json.dumps(out))
        asyncio.run(main())
      PY
      result, calls = run_with(decide: lambda { |handshake, upgrade|
        status = Integer(handshake.path.delete('/'))
        headers = status == 429 ? { 'Retry-After' => '30' } : {}
        upgrade.refuse(status, "status #{status}", headers: headers)
      }) do
        out, err, st = Open3.capture3('timeout', '20', '/usr/bin/python3', '-c', script, port.to_s, *statuses.map(&:to_s))
        raise err unless st.success?

        JSON.parse(out)
      end
      expect(result).to eq('400' => [400, nil], '403' => [403, nil], '404' => [404, nil], '410' => [410, nil],
                           '429' => [429, '30'], '503' => [503, nil])
      expect(calls[:open]).to be_empty
    end

    it 'accepts with the subprotocol and the headers the application chose' do
      script = <<~PY
        import asyncio, json, sys
        import websockets
        async def main():
            async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/", subprotocols=["chat.v1", "chat.v2"]) as ws:
                print(json.dumps([ws.subprotocol, ws.response_headers.get("Set-Cookie"), await ws.recv()]))
        asyncio.run(main())
      PY
      result, calls = run_with(decide: ->(_handshake, upgrade) {
        upgrade.accept(protocol: 'chat.v2', headers: { 'Set-Cookie' => 'session=abc; HttpOnly' })
      }) do
        out, err, st = Open3.capture3('timeout', '20', '/usr/bin/python3', '-c', script, port.to_s)
        raise err unless st.success?

        JSON.parse(out)
      end
      expect(result).to eq(['chat.v2', 'session=abc; HttpOnly', 'welcome'])
      expect(calls[:open]).to eq(['chat.v2'])
    end

    it 'lets the decision come later, and serves other connections meanwhile' do
      timings = {}
      result, calls = run_with(decide: lambda { |handshake, upgrade|
        if handshake.path == '/slow'
          # An auth service taking half a second.
          EM.add_timer(0.5) { upgrade.accept }
        else
          upgrade.accept
        end
      }) do
        slow = Thread.new do
          started = monotonic
          client = BlockingClient.new(port, path: '/slow')
          message = client.read_data_frame.payload
          timings[:slow] = monotonic - started
          message
        end
        sleep 0.05
        started = monotonic
        fast = BlockingClient.new(port, path: '/fast')
        fast_message = fast.read_data_frame.payload
        timings[:fast] = monotonic - started
        [slow.value, fast_message]
      end
      expect(result).to eq(%w[welcome welcome])
      expect(timings[:fast]).to be < 0.3
      expect(timings[:slow]).to be >= 0.5
      expect(calls[:upgrade]).to eq(%w[/slow /fast])
    end

    it 'drops a request never decided once the handshake timeout passes' do
      response, calls, stats = run_with({ handshake_timeout: 0.4 }, decide: ->(_, _) {}) do
        started = monotonic
        [raw_exchange(ws_request), monotonic - started]
      end
      expect(response.first).to eq('')
      expect(response.last).to be_between(0.3, 2)
      expect(calls[:open]).to be_empty
      expect(stats[:handshakes_failed]['timeout']).to eq(1)
    end

    it 'refuses with 500 when onupgrade raises, and the error goes up' do
      raised = []
      thread = holder = nil
      em_run do
        EM.error_handler { |e| raised << e.message }
        start_server { |ws| ws.onupgrade { raise 'auth service down' } }
        thread, holder = in_thread { raw_exchange(ws_request) }
      end
      EM.error_handler(nil)
      expect(join_thread!(thread, holder)).to start_with("HTTP/1.1 500 Internal Server Error\r\n")
      expect(raised).to eq(['auth service down'])
    end

    it 'refuses decisions that cannot be written' do
      errors = []
      run_with(decide: lambda { |_handshake, upgrade|
        [-> { upgrade.refuse(101) }, -> { upgrade.refuse(404, 'x', headers: { 'X-A' => "1\r\nSet-Cookie: evil" }) },
         -> { upgrade.refuse(404, 'x' * (64 * 1024 + 1)) }, -> { upgrade.accept(headers: { 'Sec-WebSocket-Accept' => 'x' }) },
         -> { upgrade.accept(protocol: 'never-offered') }].each do |attempt|
          attempt.call
        rescue ArgumentError => e
          errors << e.message
        end
        upgrade.refuse(403)
        begin
          upgrade.accept
        rescue EM::WebSocket::WebSocketError => e
          errors << e.message
        end
      }) { raw_exchange(ws_request) }
      expect(errors.size).to eq(6)
      expect(errors.last).to eq('this upgrade has already been decided')
    end
  end
end
