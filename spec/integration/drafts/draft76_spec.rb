require 'spec_helper'
require_relative '../../support/legacy_helpers'
require_relative '../../support/legacy_app_errors'

module EMWSSpec
  # Hixie draft 76: Sec-WebSocket-Key1/Key2 and an 8 byte third key answered
  # with an MD5 challenge; "\x00 text \xFF" frames; "\xFF\x00" closing
  # handshake; length-prefixed frames (type 0x80-0xFF) are read and dropped.
  # No ping, no close codes: every close is 1006, not clean.
  RSpec.describe 'draft 76' do
    CLOSED76 = { code: 1006, was_clean: false }.freeze

    # A handshake that must fail: onerror gets a HandshakeError with +message+,
    # no onopen, no onclose, and the client gets no byte before TCP closes
    def expect_handshake_error(message, **request_opts)
      log = []
      client = nil
      em_run do
        start_server { |ws| record_all(ws, log) }
        client = connect_legacy(76, **request_opts)
        client.on_close { done_later(0.05) }
      end
      expect(log).to eq([[:error, WS::HandshakeError, message]])
      expect(client.data).to eq(''.b)
      expect(client).to be_closed
    end

    describe 'handshake' do
      it 'answers with the draft 76 headers, the location with the query, and the challenge' do
        info = nil
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do |hs|
              info = [hs.protocol_version, hs.path, hs.query_string, hs.origin, hs.secure?, ws.state,
                      ws.pingable?, ws.supports_close_codes?, ws.ping('x'), ws.pong('y')]
            end
          end
          client = connect_legacy(76, path: '/demo?a=1&b=2', protocol: 'chat')
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(d76_response_lines(path: '/demo?a=1&b=2', protocol: 'chat'))
        expect(client.challenge_answer).to eq(L::ANSWER)
        expect(client.body).to eq(''.b) # ping and pong sent nothing
        expect(info).to eq([76, '/demo', 'a=1&b=2', 'http://example.com', false, :connected, false, false,
                            false, false])
      end

      it 'computes the challenge from other keys' do
        key1 = '3 70 36 8'   # 370368 / 3 spaces
        key2 = '8 0000 00000' # 8000000000 / 2 spaces (just under 2**32)
        key3 = "\x00\xFF\x01\xFE abc".b
        client = nil
        em_run do
          start_server { |_ws| }
          client = connect_legacy(76, key1: key1, key2: key2, key3: key3)
          client.on_open { done_later(0.05) }
        end
        expect(client.challenge_answer).to eq(L.challenge(key1, key2, key3))
        expect(client.challenge_answer).to eq(Digest::MD5.digest([123_456, 4_000_000_000].pack('NN') + key3))
      end

      it 'answers with an empty Sec-WebSocket-Origin when the client sends no Origin' do
        client = nil
        em_run do
          start_server { |_ws| }
          client = connect_legacy(76, origin: nil)
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_lines).to include('Sec-WebSocket-Origin: ')
      end

      it 'sends a wss:// location behind a TLS proxy (:secure_proxy)' do
        client = nil
        secure = nil
        em_run do
          start_server(secure_proxy: true) { |ws| ws.onopen { |hs| secure = hs.secure? } }
          client = connect_legacy(76, path: '/tls')
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(d76_response_lines(path: '/tls', scheme: 'wss'))
        expect(secure).to be(true)
      end

      it 'waits for the third key when it comes in a later packet' do
        snapshots = []
        client = nil
        em_run do
          opened = false
          start_server { |ws| ws.onopen { opened = true } }
          client = connect_legacy(76, key3: nil)
          EM.add_timer(0.1) do
            snapshots << [client.data.dup, opened]
            client.send_data(L::KEY3)
            EM.add_timer(0.1) do
              snapshots << [client.challenge_answer, opened]
              done
            end
          end
        end
        expect(snapshots).to eq([[''.b, false], [L::ANSWER, true]])
      end

      it 'fails on bytes after the third key' do
        expect_handshake_error('Extra bytes after third key', key3: L::KEY3 + "\x00hi\xFF".b)
      end

      it 'fails without Sec-WebSocket-Key2' do
        req = Handshake.format_request(headers: [
          ['Host', "#{host}:#{port}"], %w[Connection Upgrade], %w[Upgrade WebSocket],
          ['Sec-WebSocket-Key1', L::KEY1], ['Origin', 'http://example.com']
        ]) + L::KEY3
        expect_handshake_error('WebSocket key1 or key2 is missing', request: req)
      end

      it 'fails on a key without spaces' do
        expect_handshake_error(
          'Websocket Key1 or Key2 does not contain spaces - this is a symptom of a cross-protocol attack',
          key2: '1299853Y31.P00'
        )
      end

      it 'fails on a key whose number is not a multiple of its spaces' do
        expect_handshake_error('Invalid Key "1 2 3"', key1: '1 2 3')
      end

      it 'fails on a key whose quotient is over 32 bits' do
        expect_handshake_error('Challenge computation out of range for key "50000 00000"', key1: '50000 00000')
      end

      it 'fails on an empty Sec-WebSocket-Protocol' do
        expect_handshake_error('Invalid WebSocket-Protocol: empty', protocol: '')
      end
    end

    describe 'messages' do
      it 'receives text frames as UTF-8, several in a packet or one split over packets' do
        log = []
        encodings = []
        legacy_session(76, log, on_open: lambda { |c|
          c.send_data("\x00one\xFF\x00h\xC3\xA9\xFF\x00\xFF\x00spl".b)
          EM.add_timer(0.05) do
            c.send_data("it\xFF".b)
            EM.add_timer(0.05) { c.close_connection }
          end
        }) { |ws| ws.onmessage { |m| log << [:message, m]; encodings << m.encoding } }
        expect(log).to eq([
          [:open, 76], [:message, 'one'], [:message, 'hé'], [:message, ''], [:message, 'split'],
          [:close, CLOSED76, :closed]
        ])
        expect(encodings.uniq).to eq([Encoding::UTF_8])
      end

      it 'sends text as 0x00 ... 0xFF frames' do
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              ws.send(+'héllo')
              ws.send_text(+'')
            end
          end
          client = connect_legacy(76)
          client.on_frame { done_later(0.05) if client.frames.size == 2 }
        end
        expect(client.body).to eq("\x00h\xC3\xA9llo\xFF\x00\xFF".b)
      end

      # ws.send_binary, then ws.send: [what send_binary raised, the client]
      def send_binary_then_text
        error = nil
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              begin
                ws.send_binary("\x01".b)
              rescue Exception => e # rubocop:disable Lint/RescueException
                error = e
              end
              ws.send(+'still open')
            end
          end
          client = connect_legacy(76)
          client.on_frame { done_later(0.05) }
        end
        [error, client]
      end

      it 'has no binary frames to send: ws.send_binary raises NoMethodError',
         original_only: 'em-websocket 0.5.1 fails by accident (undefined send_frame); em-websocket-rs says why' do
        error, client = send_binary_then_text
        expect(error).to be_a(NoMethodError)
        expect(client.body).to eq("\x00still open\xFF".b)
      end

      it 'has no binary frames to send: ws.send_binary raises WebSocketError and sends nothing',
         rs_only: 'em-websocket 0.5.1 raises a NoMethodError by accident' do
        error, client = send_binary_then_text
        expect(error).to be_an_instance_of(WS::WebSocketError)
        expect(error.message).to eq('Binary frames are not supported by draft 76')
        expect(client.body).to eq("\x00still open\xFF".b)
      end

      it 'reads and drops a length-prefixed frame' do
        log = []
        legacy_session(76, log, on_open: lambda { |c|
          c.send_data(L.hixie_length_frame('x' * 200))
          EM.add_timer(0.05) do
            c.send_data(L.hixie_text('after'))
            EM.add_timer(0.05) { c.close_connection }
          end
        })
        expect(log).to eq([[:open, 76], [:message, 'after'], [:close, CLOSED76, :closed]])
      end

      # A length-prefixed frame and a text frame in one packet, then (after
      # :next_packet in +log+) a text frame in another
      def send_length_frame_and_text(log)
        legacy_session(76, log, on_open: lambda { |c|
          c.send_data(L.hixie_length_frame('abc') + L.hixie_text('same packet'))
          EM.add_timer(0.1) do
            log << :next_packet
            c.send_data(L.hixie_text('next packet'))
            EM.add_timer(0.05) { c.close_connection }
          end
        })
      end

      # em-websocket's Framing76 stops reading the buffer after a dropped
      # length-prefixed frame: what follows in the same packet waits for the
      # next packet.
      it 'reads what follows a length-prefixed frame in the same packet only with the next packet',
         original_only: 'em-websocket 0.5.1 leaves the rest of the packet unread; em-websocket-rs reads it' do
        log = []
        send_length_frame_and_text(log)
        expect(log).to eq([
          [:open, 76], :next_packet, [:message, 'same packet'], [:message, 'next packet'],
          [:close, CLOSED76, :closed]
        ])
      end

      it 'reads what follows a length-prefixed frame in the same packet at once',
         rs_only: 'em-websocket 0.5.1 reads it only when the next packet arrives' do
        log = []
        send_length_frame_and_text(log)
        expect(log).to eq([
          [:open, 76], [:message, 'same packet'], :next_packet, [:message, 'next packet'],
          [:close, CLOSED76, :closed]
        ])
      end
    end

    describe 'closing' do
      it 'by the client: "\xFF\x00" is answered with "\xFF\x00", TCP closed, onclose 1006' do
        log = []
        client = legacy_session(76, log, on_open: ->(c) { c.send_data("\x00last\xFF\xFF\x00".b) })
        expect(log).to eq([[:open, 76], [:message, 'last'], [:close, CLOSED76, :closed]])
        expect(client.body).to eq("\xFF\x00".b)
        expect(client).to be_closed
      end

      it 'a reply sent from onmessage goes out before the answer to a "\xFF\x00" that followed the message' do
        log = []
        client = legacy_session(76, log, on_open: ->(c) { c.send_data("\x00one\xFF\xFF\x00".b) }) do |ws|
          ws.onmessage { |m| log << [:message, m]; ws.send(+"re: #{m}") }
        end
        expect(log).to eq([[:open, 76], [:message, 'one'], [:close, CLOSED76, :closed]])
        expect(client.body).to eq("\x00re: one\xFF\xFF\x00".b)
      end

      it 'by the client with any zero-length length-prefixed frame ("\x80\x00")' do
        log = []
        client = legacy_session(76, log, on_open: ->(c) { c.send_data("\x80\x00".b) })
        expect(log).to eq([[:open, 76], [:close, CLOSED76, :closed]])
        expect(client.body).to eq("\xFF\x00".b)
      end

      it 'by the server: ws.close drops TCP without a closing handshake, state stays :connected until then' do
        log = []
        states = []
        client = legacy_session(76, log) do |ws|
          ws.onopen do
            ws.send(+'bye')
            ws.close(4000, 'no codes in 76')
            states << ws.state
          end
        end
        expect(states).to eq([:connected])
        expect(client.body).to eq("\x00bye\xFF".b)
        expect(log).to eq([[:close, CLOSED76, :closed]])
        expect(client).to be_closed
      end

      it 'ws.close still checks the application close code' do
        error = nil
        legacy_session(76, []) do |ws|
          ws.onopen do
            ws.close(1006)
          rescue RuntimeError => e
            error = e
            ws.close
          end
        end
        expect(error.message).to eq('Application code may only use codes from 1000, 3000-4999')
      end

      it 'an abrupt TCP close gives onclose 1006' do
        log = []
        legacy_session(76, log, on_open: ->(c) { c.close_connection })
        expect(log).to eq([[:open, 76], [:close, CLOSED76, :closed]])
      end
    end

    describe 'failing the connection' do
      # The client drops TCP after 0.3 s when the server has not
      def provoke(bytes, &extra)
        provoke_legacy(76, bytes, close_after: 0.3, &extra)
      end

      it 'a text frame over max_frame_size: WSMessageTooBigError, TCP closed, nothing sent' do
        log, client = with_max_frame_size(20) do
          provoke("\x00".b + ('a' * 30))
        end
        expect(log).to eq([
          [:open, 76], [:error, WS::WSMessageTooBigError, 'Frame length too long (31 bytes)'],
          [:close, CLOSED76, :closed]
        ])
        expect(client.body).to eq(''.b)
        expect(client).to be_closed
      end

      # em-websocket compares the size of the whole buffer, not of one frame
      it 'text frames in one packet over max_frame_size together: WSMessageTooBigError',
         original_only: 'em-websocket 0.5.1 checks the whole buffer; em-websocket-rs checks each frame' do
        log, client = with_max_frame_size(8) do
          provoke("\x00aaaa\xFF\x00bbbb\xFF".b)
        end
        expect(log).to eq([
          [:open, 76], [:error, WS::WSMessageTooBigError, 'Frame length too long (12 bytes)'],
          [:close, CLOSED76, :closed]
        ])
        expect(client.body).to eq(''.b)
      end

      it 'text frames in one packet, each within max_frame_size but not together: both delivered',
         rs_only: 'em-websocket 0.5.1 compares the whole buffer with max_frame_size' do
        log, client = with_max_frame_size(8) do
          provoke("\x00aaaa\xFF\x00bbbb\xFF".b)
        end
        expect(log).to eq([[:open, 76], [:message, 'aaaa'], [:message, 'bbbb'], [:close, CLOSED76, :closed]])
        expect(client.body).to eq(''.b)
      end

      it 'a length-prefixed frame over max_frame_size (set on the connection), from its length alone' do
        log, client = provoke(L.hixie_length_frame('', length: 300)) { |ws| ws.max_frame_size = 299 }
        expect(log).to eq([
          [:open, 76], [:error, WS::WSMessageTooBigError, 'Frame length too long (300 bytes)'],
          [:close, CLOSED76, :closed]
        ])
        expect(client.body).to eq(''.b)
      end

      it 'a frame starting with neither 0x00 nor a high bit: WSProtocolError' do
        log, client = provoke("\x00ok\xFF\x41bad".b)
        expect(log).to eq([
          [:open, 76], [:message, 'ok'], [:error, WS::WSProtocolError, 'Invalid frame received'],
          [:close, CLOSED76, :closed]
        ])
        expect(client.body).to eq(''.b)
      end

      it 'text that is not UTF-8 is passed on as is',
         original_only: 'em-websocket-rs checks UTF-8 under every draft (see the rs_only example)' do
        log, = provoke("\x00\xC3\x28 bad\xFF".b + "\x00next\xFF".b)
        expect(log.map(&:first)).to eq(%i[open message message close])
        expect(log[1][1].b).to eq("\xC3\x28 bad".b)
        expect(log[1][1].encoding).to eq(Encoding::UTF_8)
        expect(log[1][1]).not_to be_valid_encoding
      end

      it 'text that is not UTF-8: InvalidDataError, TCP closed',
         rs_only: 'em-websocket 0.5.1 does not check UTF-8 in drafts 75/76' do
        log, client = provoke("\x00\xC3\x28 bad\xFF".b)
        expect(log).to eq([
          [:open, 76], [:error, WS::InvalidDataError, 'Invalid UTF8 data'], [:close, CLOSED76, :closed]
        ])
        expect(client.body).to eq(''.b)
        expect(client).to be_closed
      end
    end

    describe 'exceptions in callbacks' do
      include_examples 'application errors under a draft', 76,
                       close_bytes: ''.b, # no close frame: TCP is dropped
                       closed: { code: 1006, was_clean: false },
                       triggers: %i[onopen onmessage]
    end
  end
end
