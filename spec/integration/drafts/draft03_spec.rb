require 'spec_helper'
require_relative '../../support/legacy_helpers'
require_relative '../../support/legacy_app_errors'
require_relative '../../support/legacy_hybi_examples'

module EMWSSpec
  # Drafts 01, 02 and 03 (Sec-WebSocket-Draft): draft 76's handshake, then
  # unmasked frames with a MORE bit and the opcodes continuation 0, close 1,
  # ping 2, pong 3, text 4, binary 5. Close frames carry no code.
  RSpec.describe 'draft 03 (and 01, 02)' do
    describe 'handshake' do
      [1, 2, 3].each do |draft|
        it "answers Sec-WebSocket-Draft: #{draft} with draft 76's headers and challenge, and reports version #{draft}" do
          info = nil
          client = nil
          em_run do
            start_server do |ws|
              ws.onopen do |hs|
                info = [hs.protocol_version, hs.path, hs.query_string, hs.origin, ws.state, ws.pingable?,
                        ws.supports_close_codes?]
              end
            end
            client = connect_legacy(draft, path: '/chat?room=1', protocol: 'sample')
            client.on_open { done_later(0.05) }
          end
          expect(client.response.header_set).to eq(d76_response_lines(path: '/chat?room=1', protocol: 'sample'))
          expect(client.challenge_answer).to eq(L::ANSWER)
          expect(client.body).to eq(''.b)
          expect(info).to eq([draft, '/chat', 'room=1', 'http://example.com', :connected, true, false])
        end
      end

      [1, 2].each do |draft|
        it "speaks draft 03 framing under Sec-WebSocket-Draft: #{draft}" do
          client = nil
          em_run do
            start_server { |ws| ws.onmessage { |m| ws.send(+"d#{draft} #{m}") } }
            client = connect_legacy(draft)
            client.on_open { client.send_text('hi') }
            client.on_frame { done_later(0.05) }
          end
          expect(client.body).to eq("\x04\x05d#{draft} hi".b)
        end
      end

      it 'moves through :handshake, :connected, :closing and :closed' do
        states = []
        em_run do
          start_server do |ws|
            states << ws.state
            ws.onopen do
              states << ws.state
              ws.close
              states << ws.state
            end
            ws.onclose { states << ws.state; done_later(0.05) }
          end
          connect_legacy(3)
        end
        expect(states).to eq(%i[handshake connected closing closed])
      end

      it 'leaves out Sec-WebSocket-Protocol when the client asks for none' do
        client = nil
        em_run do
          start_server { |_ws| }
          client = connect_legacy(3, path: '/chat')
          client.on_open { done }
        end
        expect(client.response.header_set).to eq(d76_response_lines(path: '/chat'))
      end

      it 'sends a wss:// location behind a TLS proxy (:secure_proxy)' do
        client = nil
        secure = nil
        em_run do
          start_server(secure_proxy: true) { |ws| ws.onopen { |hs| secure = hs.secure? } }
          client = connect_legacy(3, path: '/chat')
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(d76_response_lines(path: '/chat', scheme: 'wss'))
        expect(secure).to be(true)
      end

      it 'waits for the third key when it comes in a later packet' do
        snapshot = nil
        opened = false
        client = nil
        em_run do
          start_server { |ws| ws.onopen { opened = true } }
          client = connect_legacy(3, key3: nil)
          EM.add_timer(0.1) do
            snapshot = [client.data.dup, opened]
            client.send_data(L::KEY3)
          end
          client.on_open { done_later(0.05) }
        end
        expect(snapshot).to eq([''.b, false])
        expect(opened).to be(true)
        expect(client.challenge_answer).to eq(L::ANSWER)
      end

      it 'aborts with a HandshakeError when bytes follow the third key (no onopen, no onclose)' do
        log = []
        client = nil
        em_run do
          start_server { |ws| record_all(ws, log) }
          client = connect_legacy(3, key3: L::KEY3 + "\x04\x02hi".b)
          client.on_close { done_later(0.05) }
        end
        expect(log).to eq([[:error, WS::HandshakeError, 'Extra bytes after third key']])
        expect(client.data).to eq(''.b)
        expect(client).to be_closed
      end
    end

    describe 'messages' do
      it 'receives text (as UTF-8) and binary (as BINARY) frames' do
        log = []
        encodings = []
        legacy_session(3, log, on_open: lambda { |c|
          c.send_text('héllo')
          c.send_binary("\x00\xFF\x01".b)
          c.send_frame(:close)
        }) do |ws|
          ws.onmessage { |m| log << [:message, m]; encodings << m.encoding }
          ws.onbinary { |m| log << [:binary, m]; encodings << m.encoding }
        end
        expect(log).to eq([
          [:open, 3], [:message, 'héllo'], [:binary, "\x00\xFF\x01".b],
          [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
        expect(encodings).to eq([Encoding::UTF_8, Encoding::BINARY])
      end

      it 'sends text (opcode 4) and binary (opcode 5) frames without the MORE bit' do
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              ws.send(+'héllo')
              ws.send_binary("\x00\xFF".b)
              ws.send_text(+'')
            end
          end
          client = connect_legacy(3)
          client.on_frame { done_later(0.05) if client.frames.size == 3 }
        end
        expect(client.frames.map(&:first_byte)).to eq([0x04, 0x05, 0x04])
        expect(client.frames.map(&:payload)).to eq(['héllo'.b, "\x00\xFF".b, ''.b])
        expect(client.body).to eq("\x04\x06h\xC3\xA9llo\x05\x02\x00\xFF\x04\x00".b)
      end

      it 'uses the 16-bit and 64-bit lengths both ways' do
        mid = 'm' * 300
        big = 'b' * 70_000
        client = nil
        got = []
        em_run do
          start_server do |ws|
            ws.onmessage do |m|
              got << m.bytesize
              ws.send(m)
            end
          end
          client = connect_legacy(3)
          client.on_open do
            client.send_text(mid)
            client.send_text(big)
          end
          client.on_frame { done_later(0.05) if client.frames.size == 2 }
        end
        expect(got).to eq([300, 70_000])
        expect(client.frames.map { |f| f.payload.bytesize }).to eq([300, 70_000])
        expect(client.body.byteslice(0, 4)).to eq("\x04\x7E\x01\x2C".b)
        expect(client.body.byteslice(304, 10)).to eq("\x04\x7F".b + [70_000].pack('Q>'))
      end

      it 'joins fragments sent with the MORE bit, answering a ping in between' do
        log = []
        client = legacy_session(3, log, on_open: lambda { |c|
          c.send_text('Hel', more: true)
          c.send_frame(:continuation, 'lo ', more: true)
          c.send_ping('mid')
          c.send_frame(:continuation, 'world')
          c.send_binary('ab', more: true)
          c.send_frame(:continuation, 'cd')
          c.send_frame(:close)
        })
        expect(log).to eq([
          [:open, 3], [:ping, 'mid'], [:message, 'Hello world'], [:binary, 'abcd'],
          [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
        expect(client.types).to eq(%i[pong close])
        expect(client.frames.first.payload).to eq('mid'.b)
      end
    end

    describe 'ping and pong' do
      it 'answers a ping with a pong (opcode 3) and reports pongs' do
        log = []
        client = legacy_session(3, log, on_open: lambda { |c|
          c.send_ping('are you there')
          c.send_pong('unsolicited')
          c.send_frame(:close)
        })
        expect(log).to eq([
          [:open, 3], [:ping, 'are you there'], [:pong, 'unsolicited'],
          [:close, { code: 1005, reason: '', was_clean: true }, :closed]
        ])
        expect(client.frames.first.first_byte).to eq(0x03)
        expect(client.frames.first.payload).to eq('are you there'.b)
      end

      it 'ws.ping and ws.pong send opcode 2 and 3 frames and return true' do
        log = []
        returned = nil
        client = nil
        em_run do
          start_server do |ws|
            record_all(ws, log, stop: false)
            ws.onopen { returned = [ws.ping('p'), ws.pong('q')] }
            ws.onpong { |d| log << [:pong, d]; done_later(0.05) }
          end
          client = connect_legacy(3)
        end
        expect(returned).to eq([true, true])
        expect(client.frames.map { |f| [f.first_byte, f.payload] }).to eq([[0x02, 'p'.b], [0x03, 'q'.b]])
        expect(log.first).to eq([:pong, 'p']) # the client's answer to the ping
      end

    end

    describe 'closing' do
      it 'by the client: the server echoes the close body, closes TCP, onclose 1005 clean' do
        log = []
        client = legacy_session(3, log, on_open: ->(c) { c.send_close(body: 'bye') })
        expect(log).to eq([[:open, 3], [:close, { code: 1005, reason: '', was_clean: true }, :closed]])
        expect(client.frames.map { |f| [f.first_byte, f.payload] }).to eq([[0x01, 'bye'.b]])
        expect(client).to be_closed
      end

      it 'by the server: ws.close(code, reason) sends an empty close frame, :closing, then 1005 on the echo' do
        log = []
        states = []
        client = legacy_session(3, log) do |ws|
          ws.onopen do
            ws.close(4000, 'not sent in draft 03')
            states << ws.state
          end
        end
        expect(states).to eq([:closing])
        expect(client.body).to eq("\x01\x00".b)
        expect(log).to eq([[:close, { code: 1005, reason: '', was_clean: true }, :closed]])
        expect(client).to be_closed
      end

      it 'refuses data frames once closing, and still checks the application close code' do
        errors = []
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              begin
                ws.close(1002)
              rescue RuntimeError => e
                errors << [e.class, e.message]
              end
              ws.close
              begin
                ws.send(+'late')
              rescue EM::WebSocket::WebSocketError => e
                errors << [e.class, e.message]
              end
            end
            ws.onclose { done_later(0.05) }
          end
          client = connect_legacy(3)
        end
        expect(errors).to eq([
          [RuntimeError, 'Application code may only use codes from 1000, 3000-4999'],
          [WS::WebSocketError, 'Cannot send data frame since connection is closing']
        ])
        expect(client.types).to eq([:close])
      end

    end

    describe 'failing the connection' do
      # The client does not acknowledge the close frame: the server drops TCP
      def provoke(bytes, &extra)
        provoke_legacy(3, bytes, &extra)
      end

      it 'over max_frame_size: WSMessageTooBigError, an empty close frame, then TCP closed' do
        log, client = with_max_frame_size(100) do
          provoke(L.encode03(:text, 'a' * 100) + L.encode03(:text, 'b' * 101))
        end
        expect(log).to eq([
          [:open, 3], [:message, 'a' * 100],
          [:error, WS::WSMessageTooBigError, 'Frame length too long (101 bytes)'],
          [:close, { code: 1006, was_clean: false }, :closed]
        ])
        expect(client.body).to eq("\x01\x00".b)
        expect(client).to be_closed
      end

    end

    describe 'exceptions in callbacks' do
      include_examples 'application errors under a draft', 3,
                       close_bytes: "\x01\x00".b, # an empty close frame, whatever the code
                       closed: { code: 1005, reason: '', was_clean: true },
                       triggers: %i[onopen onmessage onbinary]
    end

    include_examples 'a hybi draft before RFC 6455', 3,
                     encode: ->(type, payload) { L.encode03(type, payload) },
                     unknown_opcode: 6,
                     close_frame: ->(_code, _reason) { "\x01\x00".b }, # always empty
                     original_checks_utf8: false
  end
end
