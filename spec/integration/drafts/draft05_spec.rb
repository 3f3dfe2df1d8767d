require 'spec_helper'
require_relative '../../support/legacy_helpers'
require_relative '../../support/legacy_app_errors'
require_relative '../../support/legacy_hybi_examples'

module EMWSSpec
  # Draft 05 (Sec-WebSocket-Version: 5): the RFC 6455-style handshake
  # (Sec-WebSocket-Key / Accept), draft 03's opcode table with a FIN bit, and
  # client frames made of a 4 byte masking key followed by the whole frame,
  # header included, XORed with it. The server closes with a one byte body
  # "\x53" and reads no close code.
  RSpec.describe 'draft 05' do
    CLOSE05 = "\x81\x01\x53".b # FIN | close, length 1, "S"

    describe 'handshake' do
      it 'answers with Sec-WebSocket-Accept and reports version 5, pingable, no close codes' do
        info = nil
        client = nil
        key = H.new_key
        em_run do
          start_server do |ws|
            ws.onopen do |hs|
              info = [hs.protocol_version, hs.path, hs.origin, ws.state, ws.pingable?, ws.supports_close_codes?]
            end
          end
          client = connect_legacy(5, key: key, path: '/five', origin: 'http://five.example')
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(H.expected_rfc6455_lines(key).sort)
        expect(client.body).to eq(''.b)
        expect(info).to eq([5, '/five', 'http://five.example', :connected, true, false])
      end

      it 'rejects a version 5 request without Sec-WebSocket-Key' do
        log = []
        client = nil
        em_run do
          start_server { |ws| record_all(ws, log) }
          request = Handshake.rfc6455_request(host: "#{host}:#{port}", version: 5, drop: ['Sec-WebSocket-Key'])
          client = connect_legacy(5, request: request)
          client.on_close { done_later(0.05) }
        end
        expect(log).to eq([[:error, WS::HandshakeError, 'sec-websocket-key header is required']])
        expect(client.data).to eq(''.b)
      end
    end

    describe 'messages' do
      it 'unmasks the whole frame, header included, with the key in front of it' do
        log = []
        legacy_session(5, log, on_open: lambda { |c|
          # 0x84 (FIN|text) ^ 0x01 would read as FIN|binary if only the payload were unmasked
          c.send_text('masked header', key: "\x01\x02\x03\x04".b)
          c.send_binary("\x00\xFF".b, key: "\xAA\x55\x00\x80".b)
          c.send_text('zero key', key: "\x00\x00\x00\x00".b)
          c.send_close(body: '', key: "\x01\x01\x01\x01".b)
        })
        expect(log).to eq([
          [:open, 5], [:message, 'masked header'], [:binary, "\x00\xFF".b], [:message, 'zero key'],
          [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
      end

      it 'sends unmasked frames with the FIN bit: text 0x84, binary 0x85' do
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              ws.send(+'héllo')
              ws.send_binary("\x00\xFF".b)
            end
          end
          client = connect_legacy(5)
          client.on_frame { done_later(0.05) if client.frames.size == 2 }
        end
        expect(client.body).to eq("\x84\x06h\xC3\xA9llo\x85\x02\x00\xFF".b)
      end

      it 'uses the masked 16-bit and 64-bit lengths both ways' do
        got = []
        client = nil
        em_run do
          start_server do |ws|
            ws.onmessage do |m|
              got << m
              ws.send(m)
            end
          end
          client = connect_legacy(5)
          client.on_open do
            client.send_text('m' * 300)
            client.send_text('b' * 70_000)
          end
          client.on_frame { done_later(0.05) if client.frames.size == 2 }
        end
        expect(got).to eq(['m' * 300, 'b' * 70_000])
        expect(client.body.byteslice(0, 4)).to eq("\x84\x7E\x01\x2C".b)
        expect(client.body.byteslice(304, 10)).to eq("\x84\x7F".b + [70_000].pack('Q>'))
        expect(client.frames.map { |f| f.payload.bytesize }).to eq([300, 70_000])
      end

      it 'joins a message sent as a first frame and a final continuation, with a ping between' do
        log = []
        client = legacy_session(5, log, on_open: lambda { |c|
          c.send_text('Hello ', fin: false)
          c.send_ping('mid')
          c.send_frame(:continuation, 'world')
          c.send_binary('ab', fin: false)
          c.send_frame(:continuation, 'cd')
          c.send_close
        })
        expect(log).to eq([
          [:open, 5], [:ping, 'mid'], [:message, 'Hello world'], [:binary, 'abcd'],
          [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
        expect(client.frames.map { |f| [f.first_byte, f.payload] }).to eq([[0x83, 'mid'.b], [0x81, ''.b]])
      end

      # A text message in three fragments, then 'after', then a close
      def send_three_fragments(log)
        legacy_session(5, log, on_open: lambda { |c|
          c.send_text('a', fin: false)
          c.send_frame(:continuation, 'b', fin: false)
          c.send_frame(:continuation, 'c')
          c.send_text('after')
          c.send_close
        })
      end

      # em-websocket's Framing05 keeps the type of the LAST non-final frame, so
      # a message in three or more fragments ends up as a "continuation"
      # message, which MessageProcessor03 ignores
      it 'drops a message sent in three fragments, as em-websocket does',
         original_only: 'em-websocket 0.5.1 loses a message of 3+ fragments; em-websocket-rs delivers it' do
        log = []
        send_three_fragments(log)
        expect(log).to eq([
          [:open, 5], [:message, 'after'], [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
      end

      it 'delivers a message sent in three fragments whole, once',
         rs_only: 'em-websocket 0.5.1 drops a message of three or more fragments' do
        log = []
        send_three_fragments(log)
        expect(log).to eq([
          [:open, 5], [:message, 'abc'], [:message, 'after'],
          [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
      end
    end

    describe 'ping and pong' do
      it 'answers a ping with a pong (0x83) and reports pongs' do
        log = []
        client = legacy_session(5, log, on_open: lambda { |c|
          c.send_ping('are you there')
          c.send_pong('unsolicited')
          c.send_close
        })
        expect(log).to eq([
          [:open, 5], [:ping, 'are you there'], [:pong, 'unsolicited'],
          [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
        expect(client.frames.first.first_byte).to eq(0x83)
        expect(client.frames.first.payload).to eq('are you there'.b)
      end

      it 'ws.ping and ws.pong send 0x82 and 0x83 frames and return true' do
        returned = nil
        pongs = []
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen { returned = [ws.ping('p'), ws.pong('q')] }
            ws.onpong { |d| pongs << d; done_later(0.05) }
          end
          client = connect_legacy(5)
        end
        expect(returned).to eq([true, true])
        expect(client.frames.map { |f| [f.first_byte, f.payload] }).to eq([[0x82, 'p'.b], [0x83, 'q'.b]])
        expect(pongs).to eq(['p'])
      end
    end

    describe 'closing' do
      it 'by the client: the server echoes the close body, closes TCP, onclose 1005 clean' do
        log = []
        client = legacy_session(5, log, on_open: ->(c) { c.send_close(body: [4000].pack('n') + 'bye') })
        expect(log).to eq([[:open, 5], [:close, { code: 1005, reason: '', was_clean: true }, :closed]])
        expect(client.body).to eq("\x81\x05".b + [4000].pack('n') + 'bye')
        expect(client).to be_closed
      end

      it 'by the server: ws.close(code, reason) sends the close frame "\x53", :closing, then 1005 on the echo' do
        log = []
        states = []
        client = legacy_session(5, log) do |ws|
          ws.onopen do
            ws.close(4000, 'not sent in draft 05')
            states << ws.state
          end
        end
        expect(states).to eq([:closing])
        expect(client.body).to eq(CLOSE05)
        expect(log).to eq([[:close, { code: 1005, reason: '', was_clean: true }, :closed]])
        expect(client).to be_closed
      end

    end

    describe 'failing the connection' do
      def provoke(bytes, &extra)
        provoke_legacy(5, bytes, &extra)
      end

      it 'over max_frame_size (the payload length): WSMessageTooBigError, "\x53" close frame, TCP closed' do
        log, client = with_max_frame_size(100) do
          provoke(L.encode05(:text, 'a' * 100) + L.encode05(:text, 'b' * 101))
        end
        expect(log).to eq([
          [:open, 5], [:message, 'a' * 100],
          [:error, WS::WSMessageTooBigError, 'Frame length too long (101 bytes)'],
          [:close, { code: 1006, was_clean: false }, :closed]
        ])
        expect(client.body).to eq(CLOSE05)
        expect(client).to be_closed
      end

    end

    describe 'exceptions in callbacks' do
      include_examples 'application errors under a draft', 5,
                       close_bytes: "\x81\x01\x53".b,
                       closed: { code: 1005, reason: '', was_clean: true },
                       triggers: %i[onopen onmessage onbinary]
    end

    include_examples 'a hybi draft before RFC 6455', 5,
                     encode: ->(type, payload) { L.encode05(type, payload) },
                     unknown_opcode: 9,
                     close_frame: ->(_code, _reason) { CLOSE05 },
                     original_checks_utf8: false
  end
end
