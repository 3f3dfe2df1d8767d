# frozen_string_literal: true

require_relative 'legacy_frames'
require_relative 'legacy_helpers'

module EMWSSpec
  # What the hybi drafts before RFC 6455 (03, 05, 06) share, each with its
  # own framing:
  #
  #   include_examples 'a hybi draft before RFC 6455', 5,
  #                    encode: ->(type, payload) { L.encode05(type, payload) },
  #                    unknown_opcode: 9,
  #                    close_frame: ->(_code, _reason) { "\x81\x01\x53".b },
  #                    original_checks_utf8: false
  #
  # +close_frame+ is the close frame the server sends for a code and reason
  # (drafts 03 and 05 send fixed ones); +original_checks_utf8+ whether
  # em-websocket 0.5.1 fails invalid UTF-8 under the draft.
  RSpec.shared_examples 'a hybi draft before RFC 6455' do |version, encode:, unknown_opcode:, close_frame:,
                                                          original_checks_utf8:|
    describe 'failing the connection (shared)' do
      # The log of a connection failed with +error+ after opening.
      def failed(version, error, message)
        [[:open, version], [:error, error, message], [:close, { code: 1006, was_clean: false }, :closed]]
      end

      it 'a continuation frame without a message: WSProtocolError' do
        log, client = provoke_legacy(version, encode.call(:continuation, 'x'))
        expect(log).to eq(failed(version, WS::WSProtocolError, 'Continuation frame not expected'))
        expect(client.body).to eq(close_frame.call(1002, 'Continuation frame not expected'))
      end

      it 'an unknown opcode: WSProtocolError' do
        log, client = provoke_legacy(version, encode.call(unknown_opcode, 'x'))
        expect(log).to eq(failed(version, WS::WSProtocolError, "Unknown opcode #{unknown_opcode}"))
        expect(client.body).to eq(close_frame.call(1002, "Unknown opcode #{unknown_opcode}"))
      end

      it 'over max_frame_size set on the connection, as soon as the header is in' do
        frame = encode.call(:text, 'a' * 256)
        header_and_three = frame.byteslice(0, frame.bytesize - 253)
        log, client = provoke_legacy(version, header_and_three) { |ws| ws.max_frame_size = 255 }
        expect(log).to eq(failed(version, WS::WSMessageTooBigError, 'Frame length too long (256 bytes)'))
        expect(client.body).to eq(close_frame.call(1009, 'Frame length too long (256 bytes)'))
      end

      utf8 = original_checks_utf8 ? {} : { rs_only: "em-websocket 0.5.1 does not check UTF-8 under draft #{version}" }
      it 'invalid UTF-8 text: InvalidDataError', **utf8 do
        log, client = provoke_legacy(version, encode.call(:text, "\xC3\x28 bad".b))
        expect(log).to eq(failed(version, WS::InvalidDataError, 'Invalid UTF8 data'))
        expect(client.body).to eq(close_frame.call(1007, 'Invalid UTF8 data'))
      end
    end

    describe 'closing (shared)' do
      it 'drops TCP after close_timeout when the close is not acknowledged' do
        log = []
        client = nil
        started = elapsed = nil
        em_run do
          start_server(close_timeout: 0.3) do |ws|
            record_all(ws, log)
            ws.onopen do
              started = monotonic
              ws.close(4002, 'answer me')
            end
          end
          client = connect_legacy(version, echo_close: false)
          client.on_close { elapsed = monotonic - started }
        end
        expect(log).to eq([
                            [:error, WS::WSProtocolError, 'Close handshake un-acked after 0.3s, closing tcp connection'],
                            [:close, { code: 1006, was_clean: false }, :closed]
                          ])
        expect(elapsed).to be_between(0.25, 2)
        expect(client.body).to eq(close_frame.call(4002, 'answer me'))
      end

      it 'an abrupt TCP close gives onclose 1006, not clean' do
        log = []
        legacy_session(version, log, on_open: ->(c) { c.close_connection })
        expect(log).to eq([[:open, version], [:close, { code: 1006, was_clean: false }, :closed]])
      end
    end

    describe 'ping and pong (shared)' do
      it 'answers a ping of 200 bytes (no control frame limit before RFC 6455)' do
        log = []
        client = legacy_session(version, log, on_open: lambda { |c|
          c.send_ping('p' * 200)
          c.send_frame(:close)
        })
        expect(log.take(2)).to eq([[:open, version], [:ping, 'p' * 200]])
        expect(client.frames.first.payload).to eq('p'.b * 200)
      end
    end
  end
end
