require 'spec_helper'
require 'json'
require 'open3'
require 'tmpdir'
require 'websocket/driver'
require 'websocket'

module EMWSSpec
  # websocket-driver (faye) client on an EM connection; +script+ is called
  # with (event, driver, data).
  class DriverClient < EM::Connection
    attr_reader :url

    def initialize(url, script)
      super()
      @url = url
      @driver = ::WebSocket::Driver.client(self)
      @driver.on(:open) { script.call(:open, @driver, nil) }
      @driver.on(:message) { |e| script.call(:message, @driver, e.data) }
      @driver.on(:close) { |e| script.call(:close, @driver, [e.code, e.reason]) }
    end

    def connection_completed
      @driver.start
    end

    def write(data)
      send_data(data)
    end

    def receive_data(data)
      @driver.parse(data)
    end
  end
end

module EMWSSpec
  RSpec.describe 'independent clients' do
    PYTHON = '/usr/bin/python3'

    PY_CLIENT = <<~PY
      import asyncio, json, ssl, sys
      import websockets

      async def main(url):
          out = {}
          ctx = None
          if url.startswith("wss:"):
              ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
              ctx.check_hostname = False
              ctx.verify_mode = ssl.CERT_NONE
          async with websockets.connect(url, ssl=ctx, max_size=None, origin="http://python.example") as ws:
              await ws.send("héllo from python ✓")
              out["text"] = await ws.recv()
              await ws.send(bytes(range(256)))
              r = await ws.recv()
              out["binary"] = list(r) if isinstance(r, bytes) else repr(r)
              big = "0123456789abcdef" * 65536
              await ws.send(big)
              r = await ws.recv()
              out["big"] = len(r) if r == big else -1
              waiter = await ws.ping(b"py-ping")
              await asyncio.wait_for(waiter, 5)
              out["pong"] = True
              await ws.close(code=4000, reason="py bye")
              out["close_code"] = ws.close_code
          print(json.dumps(out))

      asyncio.run(asyncio.wait_for(main(sys.argv[1]), 15))
    PY

    def run_python(url, server_opts = {})
      events = { opens: [], closes: [], pings: [] }
      thread = holder = nil
      em_run(timeout: 20) do
        start_server(server_opts) do |ws|
          ws.onopen { |hs| events[:opens] << [hs.path, hs.query, hs.origin, hs.protocol_version] }
          ws.onmessage { |m| ws.send(m) }
          ws.onbinary { |m| ws.send_binary(m) }
          ws.onping { |d| events[:pings] << d }
          ws.onclose { |ev| events[:closes] << ev }
        end
        thread, holder = in_thread do
          Open3.capture3('timeout', '18', PYTHON, '-c', PY_CLIENT, url)
        end
      end
      out, err, status = join_thread!(thread, holder)
      expect(status.success?).to be(true), "python client failed: #{err}"
      [JSON.parse(out), events]
    end

    it 'python websockets 10.4 round-trips text, binary, 1 MiB, ping and a close code' do
      result, events = run_python("ws://127.0.0.1:#{port}/py?lang=python")
      expect(result).to eq('text' => 'héllo from python ✓', 'binary' => (0..255).to_a,
                           'big' => 1 << 20, 'pong' => true, 'close_code' => 4000)
      expect(events[:opens]).to eq([['/py', { 'lang' => 'python' }, 'http://python.example', 13]])
      expect(events[:pings]).to eq(['py-ping'])
      expect(events[:closes]).to eq([{ code: 4000, reason: 'py bye', was_clean: true }])
    end

    it 'python websockets works over TLS (wss://)' do
      Dir.mktmpdir('emws-tls') do |dir|
        result, events = run_python("wss://127.0.0.1:#{port}/secure",
                                    secure: true, tls_options: self_signed_cert(dir))
        expect(result['text']).to eq('héllo from python ✓')
        expect(result['close_code']).to eq(4000)
        expect(events[:closes]).to eq([{ code: 4000, reason: 'py bye', was_clean: true }])
      end
    end

    it 'the websocket-driver gem (faye) exchanges text and binary and closes cleanly' do
      log = []
      closes = []
      em_run do
        start_server do |ws|
          ws.onmessage { |m| ws.send(+"echo: #{m}") }
          ws.onbinary { |m| ws.send_binary(m.reverse) }
          ws.onclose { |ev| closes << ev }
        end
        script = lambda do |event, driver, data|
          log << [event, data]
          case event
          when :open
            driver.text('from faye')
            driver.binary([1, 2, 3, 250])
          when :message
            driver.close('faye done', 1000) if log.count { |e| e[0] == :message } == 2
          when :close
            done_later(0.05)
          end
        end
        EM.connect(host, port, DriverClient, "ws://127.0.0.1:#{port}/faye", script)
      end
      expect(log).to eq([[:open, nil], [:message, 'echo: from faye'], [:message, [250, 3, 2, 1]],
                         [:close, [1000, '']]])
      expect(closes).to eq([{ code: 1000, reason: 'faye done', was_clean: true }])
    end

    it 'the websocket gem (imanel) client exchanges frames from a thread with blocking IO' do
      closes = []
      thread = holder = nil
      em_run do
        start_server do |ws|
          ws.onmessage { |m| ws.send(m.upcase) }
          ws.onbinary { |m| ws.send_binary(m * 2) }
          ws.onclose { |ev| closes << ev; done_later(0.05) }
        end
        thread, holder = in_thread(stop_reactor: false) do
          sock = TCPSocket.new(host, port)
          hs = ::WebSocket::Handshake::Client.new(url: "ws://127.0.0.1:#{port}/imanel")
          sock.write(hs.to_s)
          deadline = monotonic + 5
          read = lambda do
            raise 'timeout' unless IO.select([sock], nil, nil, [deadline - monotonic, 0].max)

            sock.readpartial(65_536)
          end
          hs << read.call until hs.finished?
          raise "handshake invalid: #{hs.error}" unless hs.valid?

          incoming = ::WebSocket::Frame::Incoming::Client.new(version: hs.version)
          incoming << hs.leftovers.to_s
          send = lambda do |type, data, **extra|
            frame = ::WebSocket::Frame::Outgoing::Client.new(version: hs.version, data: data, type: type, **extra)
            sock.write(frame.to_s)
          end
          send.call(:text, 'shout')
          send.call(:binary, "\x01\x02".b)
          got = []
          while got.size < 2
            while (f = incoming.next)
              got << [f.type, f.data.b]
            end
            incoming << read.call if got.size < 2
          end
          send.call(:close, 'imanel bye', code: 1000)
          reply = nil
          until reply
            while (f = incoming.next)
              reply = [f.type, f.code] if f.type == :close
            end
            incoming << read.call unless reply
          end
          sock.close
          [hs.valid?, got, reply]
        end
      end
      expect(join_thread!(thread, holder)).to eq([true, [[:text, 'SHOUT'.b], [:binary, "\x01\x02\x01\x02".b]], [:close, 1000]])
      expect(closes).to eq([{ code: 1000, reason: 'imanel bye', was_clean: true }])
    end
  end
end
