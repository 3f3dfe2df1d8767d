require 'spec_helper'
require_relative '../../support/legacy_helpers'
require_relative '../../support/legacy_app_errors'
require_relative '../../support/legacy_hybi_examples'

module EMWSSpec
  # Draft 06 (Sec-WebSocket-Version: 6): draft 05's framing (whole-frame
  # masking, draft 03 opcodes with a FIN bit) with close codes and reasons,
  # and UTF-8 checked in text messages.
  RSpec.describe 'draft 06' do
    # A server close frame of draft 06: FIN | close (0x81), code, reason
    def close06(code, reason = '')
      body = [code].pack('n') + reason.b
      "\x81".b + body.bytesize.chr.b + body
    end

    describe 'handshake' do
      it 'answers with Sec-WebSocket-Accept and reports version 6, pingable, close codes' do
        info = nil
        client = nil
        key = H.new_key
        em_run do
          start_server do |ws|
            ws.onopen do |hs|
              info = [hs.protocol_version, hs.path, hs.query_string, hs.origin, ws.state, ws.pingable?,
                      ws.supports_close_codes?]
            end
          end
          client = connect_legacy(6, key: key, path: '/six?a=b', origin: 'http://six.example')
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(H.expected_rfc6455_lines(key).sort)
        expect(client.body).to eq(''.b)
        expect(info).to eq([6, '/six', 'a=b', 'http://six.example', :connected, true, true])
      end
    end

    describe 'messages' do
      it 'exchanges text and binary with masked client frames and FIN-bit server frames' do
        log = []
        client = legacy_session(6, log, on_open: lambda { |c|
          c.send_text('héllo', key: "\x01\x02\x03\x04".b)
          c.send_binary("\x00\xFF".b)
        }) do |ws|
          ws.onmessage { |m| log << [:message, m]; ws.send(+"echo #{m}") }
          ws.onbinary do |m|
            log << [:binary, m]
            ws.send_binary(m)
            ws.close(1000)
          end
        end
        expect(log).to eq([
          [:open, 6], [:message, 'héllo'], [:binary, "\x00\xFF".b],
          [:close, { code: 1000, reason: '', was_clean: true }, :closed]
        ])
        expect(client.body).to eq("\x84\x0Becho h\xC3\xA9llo\x85\x02\x00\xFF".b + close06(1000))
      end

      it 'joins a message sent as a first frame and a final continuation, with a ping between' do
        log = []
        client = legacy_session(6, log, on_open: lambda { |c|
          c.send_text('Hello ', fin: false)
          c.send_ping('mid')
          c.send_frame(:continuation, 'world')
          c.send_close(1000)
        })
        expect(log).to eq([
          [:open, 6], [:ping, 'mid'], [:message, 'Hello world'],
          [:close, { code: 1000, reason: '', was_clean: true }, :closed]
        ])
        expect(client.frames.map { |f| [f.first_byte, f.payload] }).to eq([[0x83, 'mid'.b], [0x81, [1000].pack('n')]])
      end

      # A binary message in three fragments, then 'after', then a close
      def send_three_fragments(log)
        legacy_session(6, log, on_open: lambda { |c|
          c.send_binary('a', fin: false)
          c.send_frame(:continuation, 'b', fin: false)
          c.send_frame(:continuation, 'c')
          c.send_text('after')
          c.send_close(1000)
        })
      end

      it 'drops a message sent in three fragments, as em-websocket does',
         original_only: 'em-websocket 0.5.1 loses a message of 3+ fragments; em-websocket-rs delivers it' do
        log = []
        send_three_fragments(log)
        expect(log).to eq([
          [:open, 6], [:message, 'after'], [:close, { code: 1000, reason: '', was_clean: true }, :closed]
        ])
      end

      it 'delivers a message sent in three fragments whole, once',
         rs_only: 'em-websocket 0.5.1 drops a message of three or more fragments' do
        log = []
        send_three_fragments(log)
        expect(log).to eq([
          [:open, 6], [:binary, 'abc'.b], [:message, 'after'],
          [:close, { code: 1000, reason: '', was_clean: true }, :closed]
        ])
      end

      it 'ignores the RSV bits, as em-websocket does before RFC 6455' do
        log = []
        legacy_session(6, log, on_open: lambda { |c|
          frame = L.plain05(:text, 'rsv set')
          frame.setbyte(0, frame.getbyte(0) | 0x70)
          key = "\x10\x20\x30\x40".b
          c.send_data(key + Frames.apply_mask(frame, key))
          c.send_close(1000)
        })
        expect(log).to eq([
          [:open, 6], [:message, 'rsv set'], [:close, { code: 1000, reason: '', was_clean: true }, :closed]
        ])
      end
    end

    describe 'ping and pong' do
      it 'answers pings, reports pongs; ws.ping and ws.pong return true' do
        log = []
        returned = nil
        client = legacy_session(6, log, on_open: lambda { |c|
          c.send_ping('ping 1')
          c.send_pong('pong 1')
          EM.add_timer(0.05) { c.send_close(1000) }
        }) do |ws|
          ws.onopen { returned = [ws.ping('s'), ws.pong('t')] }
        end
        expect(returned).to eq([true, true])
        expect(log[0..2]).to contain_exactly([:pong, 's'], [:ping, 'ping 1'], [:pong, 'pong 1'])
        expect(log[3..]).to eq([[:close, { code: 1000, reason: '', was_clean: true }, :closed]])
        # (when the automatic pong goes out: see 'order of replies')
        expect(client.frames.first(3).map { |f| [f.first_byte, f.payload] }).to contain_exactly(
          [0x82, 's'.b], [0x83, 't'.b], [0x83, 'ping 1'.b]
        )
        expect(client.frames.drop(3).map { |f| [f.first_byte, f.payload] }).to eq([[0x81, [1000].pack('n')]])
      end

    end

    describe 'closing' do
      it 'by the client with code and reason: both reach onclose, only the code is echoed' do
        log = []
        client = legacy_session(6, log, on_open: ->(c) { c.send_close(4000, 'bye now') })
        expect(log).to eq([[:open, 6], [:close, { code: 4000, reason: 'bye now', was_clean: true }, :closed]])
        expect(client.body).to eq(close06(4000))
        expect(client).to be_closed
      end

      it 'by the client with a non-ASCII reason: onclose gets its bytes' do
        log = []
        legacy_session(6, log, on_open: ->(c) { c.send_close(4001, 'adiós') })
        event = log.assoc(:close)[1]
        expect(event[:reason].bytes).to eq('adiós'.b.bytes)
        # em-websocket 0.5.1 hands the reason over as a BINARY String
        expect(event[:reason].encoding).to eq(Encoding::BINARY) if EMWSSpec.original?
      end

      it 'by the client with a non-ASCII reason: onclose gets a UTF-8 String',
         rs_only: 'close reasons are UTF-8 Strings in em-websocket-rs (BINARY in em-websocket)' do
        log = []
        legacy_session(6, log, on_open: ->(c) { c.send_close(4001, 'adiós') })
        expect(log.assoc(:close)[1]).to eq(code: 4001, reason: 'adiós', was_clean: true)
        expect(log.assoc(:close)[1][:reason].encoding).to eq(Encoding::UTF_8)
      end

      it 'by the client with a reason that is not UTF-8: accepted, as em-websocket does before RFC 6455' do
        log = []
        client = legacy_session(6, log, on_open: ->(c) { c.send_close(body: [4001].pack('n') + "\xC3\x28".b) })
        expect(log.map(&:first)).to eq(%i[open close])
        event = log.assoc(:close)[1]
        expect([event[:code], event[:reason].b, event[:was_clean]]).to eq([4001, "\xC3\x28".b, true])
        expect(client.body).to eq(close06(4001))
      end

      it 'by the client without a body: onclose 1005, the server answers 1000' do
        log = []
        client = legacy_session(6, log, on_open: ->(c) { c.send_close })
        expect(log).to eq([[:open, 6], [:close, { code: 1005, reason: '', was_clean: true }, :closed]])
        expect(client.body).to eq(close06(1000))
      end

      it 'accepts any close code, as em-websocket does before RFC 6455' do
        log = []
        client = legacy_session(6, log, on_open: ->(c) { c.send_close(1005, 'reserved') })
        expect(log).to eq([[:open, 6], [:close, { code: 1005, reason: 'reserved', was_clean: true }, :closed]])
        expect(client.body).to eq(close06(1005))
      end

      it 'a close body of one byte fails the connection with 1002' do
        log = []
        client = legacy_session(6, log, client_opts: { echo_close: false },
                                        on_open: ->(c) { c.send_close(body: "\x03".b) })
        msg = 'Close frames with a body must contain a 2 byte status code'
        expect(log).to eq([[:open, 6], [:error, WS::WSProtocolError, msg], [:close, { code: 1006, was_clean: false }, :closed]])
        expect(client.body).to eq(close06(1002, msg))
      end

      it 'by the server: sends code and reason, :closing, then onclose with the echoed code' do
        log = []
        states = []
        client = legacy_session(6, log) do |ws|
          ws.onopen do
            ws.close(4001, 'server says bye')
            states << ws.state
          end
        end
        expect(states).to eq([:closing])
        expect(client.body).to eq(close06(4001, 'server says bye'))
        expect(log).to eq([[:close, { code: 4001, reason: '', was_clean: true }, :closed]])
      end

      it 'by the server without a code: an empty close frame, then 1005 on the empty echo' do
        log = []
        client = legacy_session(6, log) { |ws| ws.onopen { ws.close } }
        expect(client.body).to eq("\x81\x00".b)
        expect(log).to eq([[:close, { code: 1005, reason: '', was_clean: true }, :closed]])
      end

    end

    # em-websocket handles the frames of a packet one after the other, running
    # the application's callbacks in between
    describe 'order of replies' do
      it 'a reply sent from onmessage goes out before the answer to a close that followed the message' do
        log = []
        client = legacy_session(6, log, on_open: lambda { |c|
          c.send_data(L.encode05(:text, 'one') + L.encode05(:text, 'two') + L.encode05(:close, [4000].pack('n')))
        }) { |ws| ws.onmessage { |m| log << [:message, m]; ws.send(+"re: #{m}") } }
        expect(log).to eq([
          [:open, 6], [:message, 'one'], [:message, 'two'],
          [:close, { code: 4000, reason: '', was_clean: true }, :closed]
        ])
        expect(client.body).to eq("\x84\x07re: one\x84\x07re: two".b + close06(4000))
      end

      it 'the pong to a ping comes after the replies to the messages before it' do
        log = []
        client = legacy_session(6, log, on_open: lambda { |c|
          c.send_data(L.encode05(:text, 'one') + L.encode05(:ping, 'p'))
          EM.add_timer(0.1) { c.send_close(1000) }
        }) { |ws| ws.onmessage { |m| log << [:message, m]; ws.send(+"re: #{m}") } }
        expect(client.frames.map { |f| [f.first_byte, f.payload] }).to eq([
          [0x84, 're: one'.b], [0x83, 'p'.b], [0x81, [1000].pack('n')]
        ])
      end
    end

    describe 'failing the connection' do
      def provoke(bytes, &extra)
        provoke_legacy(6, bytes, &extra)
      end

      it 'over max_frame_size (the payload length): 1009 with the error message' do
        log, client = with_max_frame_size(100) do
          provoke(L.encode05(:text, 'a' * 100) + L.encode05(:binary, 'b' * 101))
        end
        msg = 'Frame length too long (101 bytes)'
        expect(log).to eq([
          [:open, 6], [:message, 'a' * 100], [:error, WS::WSMessageTooBigError, msg],
          [:close, { code: 1006, was_clean: false }, :closed]
        ])
        expect(client.body).to eq(close06(1009, msg))
        expect(client).to be_closed
      end

      it 'invalid UTF-8 split over fragments is checked on the whole message' do
        log, client = provoke(L.encode05(:text, "ok \xC3".b, fin: false) + L.encode05(:continuation, "\x28".b))
        expect(log).to eq([
          [:open, 6], [:error, WS::InvalidDataError, 'Invalid UTF8 data'],
          [:close, { code: 1006, was_clean: false }, :closed]
        ])
        expect(client.body).to eq(close06(1007, 'Invalid UTF8 data'))
      end

    end

    describe 'exceptions in callbacks' do
      include_examples 'application errors under a draft', 6,
                       close_bytes: "\x81\x13".b + [3000].pack('n') + 'Application error',
                       closed: { code: 3000, reason: '', was_clean: true },
                       triggers: %i[onopen onmessage onbinary]
    end

    include_examples 'a hybi draft before RFC 6455', 6,
                     encode: ->(type, payload) { L.encode05(type, payload) },
                     unknown_opcode: 11,
                     close_frame: lambda { |code, reason|
                       body = [code].pack('n') + reason.b
                       "\x81".b + body.bytesize.chr.b + body
                     },
                     original_checks_utf8: true
  end
end
