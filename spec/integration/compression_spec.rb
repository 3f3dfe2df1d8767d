require 'spec_helper'
require 'json'
require 'open3'
require 'zlib'

module EMWSSpec
  RSpec.describe 'permessage-deflate (:compression)', rs_only: 'em-websocket has no compression' do
    DEFLATE_RSV1 = 4 # in Frames.encode's rsv argument (bits 3..1 are RSV1..3)
    DEFLATE_TAIL = "\x00\x00\xFF\xFF".b

    # RFC 7692 §7.2.1 with Ruby's zlib: deflate, sync flush, drop the tail.
    def deflate(data, deflater = Zlib::Deflate.new(Zlib::DEFAULT_COMPRESSION, -Zlib::MAX_WBITS))
      out = deflater.deflate(data.b, Zlib::SYNC_FLUSH)
      out.end_with?(DEFLATE_TAIL) ? out.byteslice(0, out.bytesize - DEFLATE_TAIL.bytesize) : out
    end

    def inflate(data, inflater = Zlib::Inflate.new(-Zlib::MAX_WBITS))
      inflater.inflate(data.b + DEFLATE_TAIL)
    end

    # One connection offering +offer+; the block gets (client, ws) once open
    # and ends the run itself. Returns the handshake response.
    def with_connection(offer, options = { compression: true }, timeout: 5, &blk)
      response = nil
      em_run(timeout: timeout) do
        server_ws = nil
        start_server(options) { |ws| server_ws = ws; yield_server(ws) }
        extra = offer ? [['Sec-WebSocket-Extensions', offer]] : []
        client = connect_client(extra: extra)
        client.on_open do |r|
          response = r
          when_true(-> { server_ws&.state == :connected }) { blk.call(client, server_ws) }
        end
      end
      response
    end

    def yield_server(ws)
      ws.onmessage { |m| @received << m; ws.send(m) }
      ws.onbinary { |m| @received << m; ws.send_binary(m) }
      ws.onclose { |e| @closes << e }
      ws.onerror { |e| @errors << e }
    end

    before do
      @received = []
      @closes = []
      @errors = []
    end

    it 'accepts an offer and exchanges compressed messages both ways' do
      text = 'compress me, compress me, compress me ' * 20
      reply = nil
      response = with_connection('permessage-deflate; client_max_window_bits') do |client, _ws|
        client.send_frame(:text, deflate(text), rsv: DEFLATE_RSV1)
        client.on_frame { |f| reply = f; done_later(0.05) }
      end
      expect(response['sec-websocket-extensions']).to eq('permessage-deflate')
      expect(@received).to eq([text])
      expect(reply.rsv).to eq(DEFLATE_RSV1)
      expect(reply.payload.bytesize).to be < text.bytesize / 4
      expect(inflate(reply.payload).force_encoding('UTF-8')).to eq(text)
    end

    it 'keeps the window between messages (context takeover) unless agreed otherwise' do
      message = 'the same sentence again and again. ' * 10
      deflater = Zlib::Deflate.new(Zlib::DEFAULT_COMPRESSION, -Zlib::MAX_WBITS)
      inflater = Zlib::Inflate.new(-Zlib::MAX_WBITS)
      replies = []
      with_connection('permessage-deflate') do |client, _ws|
        3.times { client.send_frame(:text, deflate(message, deflater), rsv: DEFLATE_RSV1) }
        client.on_frame { |f| replies << f; done_later(0.05) if replies.size == 3 }
      end
      expect(@received).to eq([message] * 3)
      expect(replies.map { |f| inflate(f.payload, inflater) }).to eq([message.b] * 3)
      expect(replies[1].payload.bytesize).to be < replies[0].payload.bytesize / 2
    end

    it 'compresses each message alone with server_no_context_takeover' do
      message = 'the same sentence again and again. ' * 10
      replies = []
      response = with_connection('permessage-deflate; server_no_context_takeover') do |client, ws|
        3.times { ws.send(message) }
        client.on_frame { |f| replies << f; done_later(0.05) if replies.size == 3 }
      end
      expect(response['sec-websocket-extensions']).to eq('permessage-deflate; server_no_context_takeover')
      expect(replies.map(&:payload).uniq.size).to eq(1)
      expect(inflate(replies.first.payload)).to eq(message.b)
    end

    it 'sends messages under :min_size uncompressed, and never compresses control frames' do
      frames = []
      with_connection('permessage-deflate', { compression: { min_size: 100 } }) do |client, ws|
        ws.send('x' * 99)
        ws.send('y' * 100)
        ws.ping('z' * 100)
        client.on_frame { |f| frames << f; done_later(0.05) if frames.size == 3 }
      end
      expect(frames.map { |f| [f.type, f.rsv] }).to eq([[:text, 0], [:text, DEFLATE_RSV1], [:ping, 0]])
      expect(frames[0].payload).to eq('x' * 99)
      expect(inflate(frames[1].payload)).to eq('y' * 100)
    end

    it 'answers with the parameters of a Hash :compression' do
      options = { compression: { server_no_context_takeover: true, client_no_context_takeover: true,
                                 server_max_window_bits: 10, client_max_window_bits: 9 } }
      response = with_connection('permessage-deflate; client_max_window_bits', options) { |_c, _ws| done }
      expect(response['sec-websocket-extensions']).to eq(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' \
        'server_max_window_bits=10; client_max_window_bits=9'
      )
    end

    it "honours the client's server_max_window_bits" do
      reply = nil
      response = with_connection('permessage-deflate; server_max_window_bits=9') do |client, ws|
        ws.send_binary(Random.new(1).bytes(3000) * 2)
        client.on_frame { |f| reply = f; done_later(0.05) }
      end
      expect(response['sec-websocket-extensions']).to eq('permessage-deflate; server_max_window_bits=9')
      # Ruby's zlib inflates within a 9-bit window.
      expect(inflate(reply.payload, Zlib::Inflate.new(-9))).to eq(Random.new(1).bytes(3000) * 2)
    end

    it 'declines invalid offers and takes the next valid one' do
      response = with_connection('permessage-deflate; server_max_window_bits=7, ' \
                                 'permessage-deflate; bogus, permessage-deflate; client_no_context_takeover') do |_c, _ws|
        done
      end
      expect(response['sec-websocket-extensions']).to eq('permessage-deflate; client_no_context_takeover')
    end

    it 'goes on uncompressed when every offer is invalid or the header malformed' do
      ['permessage-deflate; server_max_window_bits=16', 'permessage-deflate; ;', 'x-webkit-deflate-frame'].each do |offer|
        response = with_connection(offer) do |client, _ws|
          client.send_text('plain')
          client.on_frame { done_later(0.05) }
        end
        expect(response.status).to eq(101)
        expect(response['sec-websocket-extensions']).to be_nil
      end
      expect(@received).to eq(%w[plain] * 3)
    end

    it 'ignores offers without :compression, and fails RSV1 frames with 1002' do
      close = nil
      response = with_connection('permessage-deflate', {}) do |client, _ws|
        client.send_frame(:text, deflate('hello'), rsv: DEFLATE_RSV1)
        client.on_frame { |f| close = f if f.type == :close }
        client.on_close { done_later(0.05) }
      end
      expect(response['sec-websocket-extensions']).to be_nil
      expect(close.close_code).to eq(1002)
      expect(@errors.map(&:class)).to eq([EM::WebSocket::WSProtocolError])
    end

    it 'bounds an inflating message by max_frame_size (1009), while inflating' do
      bomb = deflate("\0".b * (64 << 20))
      expect(bomb.bytesize).to be < 100_000
      close = nil
      with_max_frame_size(1 << 20) do
        with_connection('permessage-deflate') do |client, _ws|
          client.send_frame(:binary, bomb, rsv: DEFLATE_RSV1)
          client.on_frame { |f| close = f if f.type == :close }
          client.on_close { done_later(0.05) }
        end
      end
      expect(close.close_code).to eq(1009)
      expect(@errors.map(&:class)).to eq([EM::WebSocket::WSMessageTooBigError])
      expect(@received).to eq([])
    end

    it 'fails invalid UTF-8 inside compressed text with 1007' do
      close = nil
      with_connection('permessage-deflate') do |client, _ws|
        client.send_frame(:text, deflate("ok \xFF".b), rsv: DEFLATE_RSV1)
        client.on_frame { |f| close = f if f.type == :close }
        client.on_close { done_later(0.05) }
      end
      expect(close.close_code).to eq(1007)
    end

    it 'compresses at :level (1, the fastest, by default): higher levels send less' do
      rows = Array.new(60) { |i| %({"id":#{i},"user":"user#{i % 13}","text":"hello from #{i * 7919 % 1000}"}) }
      text = "[#{rows.join(',')}]"
      sizes = [{}, { level: 1 }, { level: 9 }].map do |settings|
        reply = nil
        with_connection('permessage-deflate', { compression: settings.empty? ? true : settings }) do |client, _ws|
          client.send_frame(:text, deflate(text), rsv: DEFLATE_RSV1)
          client.on_frame { |f| reply = f; done_later(0.05) }
        end
        expect(inflate(reply.payload).force_encoding('UTF-8')).to eq(text)
        reply.payload.bytesize
      end
      expect(sizes[0]).to eq(sizes[1])
      expect(sizes[2]).to be < sizes[1]
    end

    it 'rejects bad :compression values naming the option' do
      [
        ['yes', /:compression must be true, false or a Hash/],
        [{ quality: 9 }, /:compression has unknown keys :quality/],
        [{ level: 0 }, /:compression's :level must be an Integer from 1 to 9, got 0/],
        [{ server_max_window_bits: 7 }, /:compression's :server_max_window_bits must be an Integer from 8 to 15/],
        [{ client_max_window_bits: '10' }, /:client_max_window_bits/],
        [{ min_size: -1 }, /:compression's :min_size must be an Integer >= 0/],
        [{ server_no_context_takeover: 'true' }, /:server_no_context_takeover must be true or false/]
      ].each do |bad, message|
        expect { EM.run { start_server(compression: bad) } }.to raise_error(ArgumentError, message)
        EM.stop if EM.reactor_running?
      end
    end

    describe 'with a browser-style client (python websockets 10.4)' do
      PY_COMPRESSED_CLIENT = <<~PY
        import asyncio, json, sys
        import websockets

        async def main(url):
            out = {}
            # websockets offers permessage-deflate by default, as browsers do.
            async with websockets.connect(url, max_size=None) as ws:
                out["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions")
                out["negotiated"] = [e.name for e in ws.extensions]
                await ws.send("héllo ✓")
                out["text"] = await ws.recv()
                big = '{"id": 12345, "name": "compressible", "tags": ["a", "b"]}, ' * 40000
                await ws.send(big)
                r = await ws.recv()
                out["big"] = len(r) if r == big else -1
                data = bytes(range(256)) * 1000
                await ws.send(data)
                r = await ws.recv()
                out["binary"] = len(r) if r == data else -1
            print(json.dumps(out))

        asyncio.run(asyncio.wait_for(main(sys.argv[1]), 15))
      PY

      it 'negotiates permessage-deflate and round-trips text, a large compressible message and binary' do
        thread = holder = nil
        em_run(timeout: 20) do
          start_server(compression: true) { |ws| yield_server(ws) }
          thread, holder = in_thread do
            Open3.capture3('timeout', '18', '/usr/bin/python3', '-c', PY_COMPRESSED_CLIENT,
                           "ws://127.0.0.1:#{port}/")
          end
        end
        out, err, status = join_thread!(thread, holder)
        expect(status.success?).to be(true), "python client failed: #{err}"
        result = JSON.parse(out)
        expect(result['extensions']).to start_with('permessage-deflate')
        expect(result['negotiated']).to eq(['permessage-deflate'])
        expect(result['text']).to eq('héllo ✓')
        expect(result['big']).to eq(59 * 40_000)
        expect(result['binary']).to eq(256_000)
        expect(@received.size).to eq(3)
      end
    end
  end
end
