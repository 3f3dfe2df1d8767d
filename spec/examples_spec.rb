require 'spec_helper'
require 'rbconfig'
require 'json'
require 'open3'
require 'tmpdir'
require_relative 'support/chromium'

module EMWSSpec
  # Runs the scripts in examples/ as separate processes (on the
  # implementation EMWS_IMPL selects) and talks to them over loopback.
  RSpec.describe 'examples/' do
    # Starts examples/+name+ on a free port; yields the port and a lambda that
    # waits for a line of the process' output matching a pattern.
    def with_example(name, env = {}, args = [])
      port = free_port
      reader, writer = IO.pipe
      env = { 'HOST' => host, 'EMWS_IMPL' => ENV['EMWS_IMPL'] }.merge(env)
      pid = Process.spawn(env, RbConfig.ruby, '-I', LIB,
                          File.join(ROOT, 'examples', name), port.to_s, *args,
                          out: writer, err: writer, in: File::NULL)
      writer.close
      output = +''
      wait_for = lambda do |pattern, timeout = 10|
        deadline = monotonic + timeout
        until output =~ pattern
          left = deadline - monotonic
          raise "no #{pattern.inspect} from #{name} in #{timeout}s; output: #{output}" if left <= 0

          next unless IO.select([reader], nil, nil, left)

          chunk = reader.read_nonblock(4096, exception: false)
          raise "#{name} exited; output: #{output}" if chunk.nil?

          output << chunk unless chunk == :wait_readable
        end
        output
      end
      wait_for.call(/listening on ws:/)
      yield port, wait_for
      Process.kill('TERM', pid)
      status = nil
      deadline = monotonic + 5
      until (status = Process.wait2(pid, Process::WNOHANG)&.last)
        raise "#{name} did not exit on TERM" if monotonic > deadline

        sleep 0.02
      end
      pid = nil
      output << reader.read # everything up to the exit
      expect(status.success?).to be(true), "#{name} exited with #{status.inspect}; output: #{output}"
      output
    ensure
      if pid
        Process.kill('KILL', pid)
        Process.wait(pid)
      end
      reader&.close
    end

    it 'echo.rb echoes text as text and binary as binary, quietly' do
      output = with_example('echo.rb') do |port, _wait_for|
        client = BlockingClient.new(port)
        expect(client.response.status).to eq(101)
        client.send_text('hello écho')
        frame = client.read_data_frame
        expect([frame.type, frame.text]).to eq([:text, 'hello écho'])
        bin = (0..255).map(&:chr).join.b
        client.send_binary(bin)
        frame = client.read_data_frame
        expect([frame.type, frame.payload]).to eq([:binary, bin])
        client.send_close(1000)
        expect(client.read_frame.close_code).to eq(1000)
        client.close
      end
      # only the start-up line: nothing per message
      expect(output.lines.size).to eq(1), output
    end

    it 'multicast.rb relays every message to every client' do
      with_example('multicast.rb') do |port, _wait_for|
        a = BlockingClient.new(port)
        b = BlockingClient.new(port)
        a.send_text('to everyone')
        expect([a, b].map { |c| c.read_data_frame.text }).to eq(['to everyone'] * 2)
        b.send_binary("\x00\x01".b)
        frames = [a, b].map(&:read_data_frame)
        expect(frames.map { |f| [f.type, f.payload] }).to eq([[:binary, "\x00\x01".b]] * 2)
        [a, b].each(&:close)
      end
    end

    it 'ping.rb pings each client and logs the pongs' do
      with_example('ping.rb', 'PING_INTERVAL' => '0.2') do |port, wait_for|
        client = BlockingClient.new(port)
        ping = client.read_frame(timeout: 3)
        expect([ping.type, ping.payload]).to eq([:ping, 'ping 1'.b])
        client.send_frame(:pong, ping.payload)
        expect(wait_for.call(/pong from 127\.0\.0\.1:\d+: ping 1/)).to include('connected')
        client.close
        wait_for.call(/disconnected/)
      end
    end

    # python3's standard library as a browser's HTTP side, websockets as its
    # WebSocket side: the LiveReload hello, then a reload when a file changes.
    PY_LIVERELOAD_CLIENT = <<~PY
      import asyncio, json, sys, http.client
      import websockets

      def get(port, path):
          connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
          connection.request("GET", path)
          response = connection.getresponse()
          return [response.status, response.getheader("Content-Type"), response.read()]

      async def main(port, changed_file):
          out = {}
          status, kind, body = get(port, "/livereload.js")
          out["script"] = [status, kind, body.decode()]
          status, _, body = get(port, "/files/big.bin")
          out["big"] = [status, len(body), body == open(sys.argv[3], "rb").read()]
          out["other"] = get(port, "/index.html")[0]
          async with websockets.connect(f"ws://127.0.0.1:{port}/livereload") as ws:
              await ws.send(json.dumps({"command": "hello",
                                        "protocols": ["http://livereload.com/protocols/official-7"]}))
              out["hello"] = json.loads(await ws.recv())
              # Plain requests on the same port while the WebSocket is open.
              out["again"] = get(port, "/livereload.js")[0]
              with open(changed_file, "a") as f:
                  f.write("/* changed */")
              out["reload"] = json.loads(await ws.recv())
          print(json.dumps(out))

      asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), sys.argv[2]), 20))
    PY

    it 'livereload.rb serves its script, files and WebSocket clients on one port, and survives plain requests' do
      Dir.mktmpdir('emws-livereload') do |root|
        big = File.join(root, 'big.bin')
        File.binwrite(big, Random.new(1).bytes(1 << 20))
        style = File.join(root, 'style.css')
        File.write(style, 'body { color: black; }')
        output = with_example("livereload.rb", {}, [root]) do |port, wait_for|
          # Raw sockets: a 400 for other paths, HEAD refused, a request in pieces.
          expect(raw_http(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")).to start_with('HTTP/1.1 400 Bad Request')
          expect(raw_http(port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")).to start_with('HTTP/1.1 405')
          reply = raw_http(port, "GET /livereload.js HTTP/1.1\r\n", "Host: x\r\n\r\n")
          expect(reply.split("\r\n\r\n", 2).last).to eq(File.read(File.join(ROOT, 'examples/livereload/livereload.js')))

          out, err, status = Open3.capture3('timeout', '25', '/usr/bin/python3', '-c', PY_LIVERELOAD_CLIENT,
                                            port.to_s, style, big)
          expect(status.success?).to be(true), "python client failed: #{err}"
          result = JSON.parse(out)
          script = File.read(File.join(ROOT, 'examples/livereload/livereload.js'))
          expect(result['script']).to eq([200, 'application/javascript', script])
          expect(result['big']).to eq([200, 1 << 20, true])
          expect(result['other']).to eq(400)
          expect(result['hello']['command']).to eq('hello')
          expect(result['again']).to eq(200)
          expect(result['reload']).to eq('command' => 'reload', 'path' => 'style.css', 'liveCSS' => true)
          wait_for.call(/browser connected/)
        end
        expect(output).to include('changed: style.css')
      end
    end

    # Chromium (headless) as the browser, driven through the DevTools
    # protocol (spec/support/chromium.rb): the page loads livereload.js from
    # the WebSocket port, connects, and reloads itself when a file changes.
    it 'livereload.rb reloads a page in a real browser (Chromium) when its file changes' do
      skip 'chromium is not installed (bin/deps installs it)' unless Chromium.executable

      Dir.mktmpdir('emws-browser') do |root|
        page_file = File.join(root, 'index.html')
        File.write(page_file, "<!doctype html><title>live</title><p>first</p>\n")
        output = with_example('livereload.rb', {}, [root]) do |port, _wait_for|
          # The script is loaded from the WebSocket port, as LiveReload pages do.
          File.write(page_file, "<!doctype html><title>live</title><script src=\"http://127.0.0.1:#{port}/livereload.js\">" \
                                "</script><p>first</p>\n")
          sleep 0.5 # the watcher's first look has passed
          Chromium.open do |browser|
            page = browser.new_page("http://127.0.0.1:#{port}/files/index.html")
            page.wait_for("document.documentElement.dataset.livereload === 'connected'", what: 'livereload connected')
            expect(page.evaluate('document.title')).to eq('live')
            page.evaluate("window.marker = 'before the change'")
            File.open(page_file, 'a') { |f| f.write('<p>changed</p>') }
            page.wait_for("window.marker === undefined && document.body.innerText.includes('changed') && " \
                          "document.documentElement.dataset.livereload === 'connected'", what: 'reloaded')
          end
        end
        expect(output.scan('browser connected').size).to eq(2)
      end
    end

  end
end
