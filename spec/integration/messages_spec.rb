require 'spec_helper'

module EMWSSpec
  RSpec.describe 'data messages' do
    # Echo server: text back as text, binary back as binary; records what the
    # callbacks were given.
    def echo_server(received, **opts)
      start_server(opts) do |ws|
        ws.onmessage do |m|
          received << [:text, m, m.encoding]
          ws.send(m)
        end
        ws.onbinary do |m|
          received << [:binary, m, m.encoding]
          ws.send_binary(m)
        end
      end
    end

    # Runs +script+ (given the client) once the handshake is done and stops
    # once +count+ data frames have come back.
    def exchange(count, timeout: 5, **opts, &script)
      received = []
      client = nil
      em_run(timeout: timeout) do
        echo_server(received, **opts)
        client = connect_client
        client.on_open { script.call(client) }
        client.on_frame do
          done if client.frames.count { |f| %i[text binary].include?(f.type) } >= count
        end
      end
      [received, client]
    end

    it 'echoes a text message; onmessage gets a UTF-8 String' do
      received, client = exchange(1) { |c| c.send_text('Hello, wörld ✓') }
      expect(received).to eq([[:text, 'Hello, wörld ✓', Encoding::UTF_8]])
      frame = client.frames.first
      expect(frame.type).to eq(:text)
      expect(frame.fin).to be(true)
      expect(frame.rsv).to eq(0)
      expect(frame.masked).to be(false)
      expect(frame.text).to eq('Hello, wörld ✓')
    end

    it 'gives onmessage Strings whose ascii_only? and valid_encoding? agree with a fresh scan of their bytes' do
      texts = ['plain ascii', 'ü', "#{'a' * 40}é", '']
      received, = exchange(texts.size) { |c| texts.each { |t| c.send_text(t) } }
      expect(received.map { |_, m, _| m }).to eq(texts)
      received.each do |_, message, _|
        rescanned = message.b.force_encoding(Encoding::UTF_8)
        expect([message.ascii_only?, message.valid_encoding?])
          .to eq([rescanned.ascii_only?, rescanned.valid_encoding?]), message.inspect
      end
      expect(received.map { |_, m, _| m.ascii_only? }).to eq([true, false, false, true])
    end

    it 'echoes a binary message; onbinary gets an ASCII-8BIT String' do
      payload = (0..255).map(&:chr).join.b * 2
      received, client = exchange(1) { |c| c.send_binary(payload) }
      expect(received).to eq([[:binary, payload, Encoding::ASCII_8BIT]])
      expect(client.frames.map(&:type)).to eq([:binary])
      expect(client.frames.first.payload).to eq(payload)
      expect(client.frames.first.masked).to be(false)
    end

    it 'delivers empty text and binary messages' do
      received, client = exchange(2) do |c|
        c.send_text('')
        c.send_binary('')
      end
      expect(received).to eq([[:text, '', Encoding::UTF_8], [:binary, ''.b, Encoding::ASCII_8BIT]])
      expect(client.frames.map { |f| [f.type, f.payload] }).to eq([[:text, ''.b], [:binary, ''.b]])
    end

    it 'accepts unmasked client frames' do
      received, = exchange(2) do |c|
        c.send_text('plain', mask: false)
        c.send_binary("\x00\x01".b, mask: false)
      end
      expect(received.map { |r| r[0..1] }).to eq([[:text, 'plain'], [:binary, "\x00\x01".b]])
    end

    it 'unmasks with any key (all-zero and all-0xFF keys)' do
      received, = exchange(2) do |c|
        c.send_text('zero key', mask: "\x00\x00\x00\x00".b)
        c.send_text('ff key', mask: "\xFF\xFF\xFF\xFF".b)
      end
      expect(received.map { |r| r[1] }).to eq(['zero key', 'ff key'])
    end

    it 'splits several frames written at once into separate messages, in order' do
      msgs = (1..20).map { |i| "message #{i}" }
      received, client = exchange(20) do |c|
        c.send_data(msgs.map { |m| F.encode(:text, m) }.join)
      end
      expect(received.map { |r| r[1] }).to eq(msgs)
      expect(client.frames.map(&:text)).to eq(msgs)
    end

    it 'reassembles a frame that arrives one byte at a time' do
      received, = exchange(1) do |c|
        bytes = F.encode(:text, 'x' * 300).bytes
        timer = EM.add_periodic_timer(0.001) do
          bytes.empty? ? timer.cancel : c.send_data(bytes.shift(7).pack('C*'))
        end
      end
      expect(received.map { |r| r[1] }).to eq(['x' * 300])
    end

    it 'reassembles fragmented text and binary messages' do
      received, client = exchange(2) do |c|
        c.send_frame(:text, 'Hel', fin: false)
        c.send_frame(:continuation, 'lo ', fin: false)
        c.send_frame(:continuation, 'wörld', fin: true)
        c.send_frame(:binary, "\x01\x02".b, fin: false)
        c.send_frame(:continuation, "\x03".b, fin: true)
      end
      expect(received).to eq([[:text, 'Hello wörld', Encoding::UTF_8],
                              [:binary, "\x01\x02\x03".b, Encoding::ASCII_8BIT]])
      expect(client.frames.map(&:payload)).to eq(['Hello wörld'.b, "\x01\x02\x03".b])
    end

    it 'accepts a multi-byte UTF-8 character split across fragments' do
      snowman = '☃'.b
      received, = exchange(1) do |c|
        c.send_frame(:text, snowman.byteslice(0, 1), fin: false)
        c.send_frame(:continuation, snowman.byteslice(1, 2), fin: true)
      end
      expect(received).to eq([[:text, '☃', Encoding::UTF_8]])
    end

    it 'sends the pong to a ping between fragments before the echo of the message, in one packet or several' do
      orders = []
      [true, false].each do |one_packet|
        client = nil
        em_run do
          start_server { |ws| ws.onmessage { |m| ws.send(m) } }
          client = connect_client
          client.on_open do
            frames = [F.encode(:text, 'frag', fin: false), F.encode(:ping, 'mid'),
                      F.encode(:continuation, 'ment', fin: true)]
            if one_packet
              client.send_data(frames.join)
            else
              frames.each { |f| client.send_data(f) }
            end
          end
          when_true(-> { client.frames.size >= 2 }) { done_later(0.05) }
        end
        orders << client.frames.map { |f| [f.type, f.payload] }
      end
      expect(orders).to eq([[[:pong, 'mid'.b], [:text, 'fragment'.b]]] * 2)
    end

    it 'answers a ping sent between fragments and still assembles the message' do
      pings = []
      received = []
      client = nil
      em_run do
        start_server do |ws|
          ws.onping { |d| pings << d }
          ws.onmessage { |m| received << m; done_later(0.05) }
        end
        client = connect_client
        client.on_open do
          client.send_frame(:text, 'frag', fin: false)
          client.send_ping('mid')
          client.send_frame(:continuation, 'ment', fin: true)
        end
      end
      expect(received).to eq(['fragment'])
      expect(pings).to eq(['mid'])
      expect(client.frames_of(:pong).map(&:payload)).to eq(['mid'.b])
    end

    it 'uses 16-bit and 64-bit extended lengths both ways' do
      medium = 'm' * 300
      big = 'b'.b * 70_000
      received, client = exchange(2) do |c|
        c.send_text(medium)
        c.send_binary(big)
      end
      expect(received.map { |r| r[1].bytesize }).to eq([300, 70_000])
      expect(client.frames.map { |f| f.payload.bytesize }).to eq([300, 70_000])
      expect(client.data.bytesize).to be > 70_300
    end

    it 'echoes a 1 MiB text message and a 1 MiB binary message intact' do
      text = ('abcdefghij' * 104_858)[0, 1 << 20]
      bin = Random.new(42).bytes(1 << 20)
      received, client = exchange(2, timeout: 15) do |c|
        c.send_text(text)
        c.send_binary(bin)
      end
      expect(received.map { |r| [r[0], r[1].bytesize] }).to eq([[:text, 1 << 20], [:binary, 1 << 20]])
      expect(client.frames[0].text).to eq(text)
      expect(client.frames[1].payload).to eq(bin)
    end

    describe 'ws.send / send_text / send_binary' do
      it 'send_text and send deliver text frames; send_binary a binary frame' do
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              ws.send('one')
              ws.send_text('two')
              ws.send_binary("\xFF\x00three".b)
            end
          end
          client = connect_client
          client.on_frame { done if client.frames.size == 3 }
        end
        expect(client.frames.map { |f| [f.type, f.payload] })
          .to eq([[:text, 'one'.b], [:text, 'two'.b], [:binary, "\xFF\x00three".b]])
      end

      it 'accepts ASCII-only strings in other encodings and leaves a UTF-8 argument UTF-8' do
        encs = nil
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              a = String.new('ascii binary', encoding: Encoding::ASCII_8BIT)
              u = String.new('ütf', encoding: Encoding::UTF_8)
              ws.send(a)
              ws.send(u)
              encs = [u.encoding, u.valid_encoding?]
            end
          end
          client = connect_client
          client.on_frame { done if client.frames.size == 2 }
        end
        expect(client.frames.map(&:text)).to eq(['ascii binary', 'ütf'])
        expect(encs).to eq([Encoding::UTF_8, true])
      end

      it 'raises WebSocketError for invalid UTF-8, naming the encoding' do
        errors = []
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              [invalid_utf8, "\xFF\xFEbinary".b].each do |s|
                ws.send(s)
              rescue EM::WebSocket::WebSocketError => e
                errors << e
              end
              ws.send('after')
            end
          end
          client = connect_client
          client.on_frame { done }
        end
        expect(errors.map(&:class)).to eq([EM::WebSocket::WebSocketError] * 2)
        expect(errors.map(&:message)).to eq([
          'Data sent to WebSocket must be valid UTF-8 but was UTF-8 (valid: false)',
          'Data sent to WebSocket must be valid UTF-8 but was ASCII-8BIT (valid: true)'
        ])
        # nothing of the rejected strings went out
        expect(client.frames.map(&:text)).to eq(['after'])
      end

      it 'raises WebSocketError when sending before onopen' do
        errors = {}
        states = []
        em_run do
          start_server do |ws|
            states << ws.state
            { send: -> { ws.send('early') }, send_text: -> { ws.send_text('early') },
              send_binary: -> { ws.send_binary('early') }, ping: -> { ws.ping('x') },
              pong: -> { ws.pong('x') }, pingable?: -> { ws.pingable? } }.each do |name, call|
              call.call
              errors[name] = nil
            rescue StandardError => e
              errors[name] = e
            end
            done
          end
          connect_client(request: false)
        end
        expect(states).to eq([:handshake])
        expect(errors.values).to all(be_a(EM::WebSocket::WebSocketError))
        expect(errors.transform_values(&:message)).to eq(
          send: 'Cannot send data before onopen callback',
          send_text: 'Cannot send data before onopen callback',
          send_binary: 'Cannot send binary before onopen callback',
          ping: 'Cannot ping before onopen callback',
          pong: 'Cannot ping before onopen callback',
          pingable?: 'Cannot test whether pingable before onopen callback'
        )
      end
    end
  end
end
