require 'spec_helper'
require_relative '../../support/legacy_frames'

module EMWSSpec
  # How em-websocket picks the protocol: Sec-WebSocket-Version (drafts 04
  # onwards) first, then Sec-WebSocket-Draft (01-03), then
  # Sec-WebSocket-Key1 (76), else 75; and drafts 07, 08 and 13, which share
  # RFC 6455's framing and report their own version.
  RSpec.describe 'protocol versions' do
    # Sends +request+; returns [log, client]. (The reactor stops with an open
    # connection after a successful handshake: that onclose is left out.)
    def handshake_with(request, version: 13)
      log = []
      client = nil
      em_run do
        start_server { |ws| record_all(ws, log, stop: false) }
        client = connect_legacy(version, request: request.respond_to?(:call) ? request.call : request)
        client.on_open { done_later(0.05) }
        client.on_close { done_later(0.05) }
      end
      [log, client]
    end

    def opened(log)
      log.reject { |l| l.first == :close }
    end

    def hostport
      "#{host}:#{port}"
    end

    describe 'drafts 07, 08 and 13' do
      [7, 8, 13].each do |version|
        it "reports version #{version}, pings, close codes and RFC 6455 framing" do
          log = []
          info = nil
          client = nil
          key = H.new_key
          em_run do
            start_server do |ws|
              record_all(ws, log)
              ws.onopen do |hs|
                info = [hs.protocol_version, hs.origin, ws.pingable?, ws.supports_close_codes?]
              end
              ws.onmessage { |m| log << [:message, m]; ws.send(+"v#{version} #{m}") }
              ws.onbinary { |m| log << [:binary, m]; ws.send_binary(m) }
            end
            client = connect_legacy(version, key: key, origin: 'http://v.example')
            client.on_open do
              client.send_text('hi')
              client.send_binary("\x00\x01".b)
              client.send_ping('p')
            end
            client.on_frame { client.send_close(4000, 'done') if client.frames.size == 3 }
          end
          expect(client.response.header_set).to eq(H.expected_rfc6455_lines(key).sort)
          expect(info).to eq([version, 'http://v.example', true, true])
          expect(log).to eq([
            [:message, 'hi'], [:binary, "\x00\x01".b], [:ping, 'p'],
            [:close, { code: 4000, reason: 'done', was_clean: true }, :closed]
          ])
          # (the order of the automatic pong among the replies: see draft06_spec)
          expect(client.frames.first(3).map { |f| [f.opcode, f.payload] }).to contain_exactly(
            [0x1, "v#{version} hi".b], [0x2, "\x00\x01".b], [0xA, 'p'.b]
          )
          expect(client.frames.drop(3).map { |f| [f.opcode, f.payload] }).to eq([[0x8, [4000].pack('n')]])
        end
      end
    end

    describe 'Sec-WebSocket-Version' do
      [[5, 5], [6, 6], [7, 7], [8, 8], [13, 13], ['8x', 8]].each do |header, version|
        it "#{header.inspect} is answered as version #{version}" do
          log, client = handshake_with(-> { L.hybi_request(host: hostport, version: header) })
          expect(opened(log)).to eq([[:open, version]])
          expect(client.response.status_line).to eq('HTTP/1.1 101 Switching Protocols')
        end
      end

      [[4, 4], [9, 9], [10, 10], [12, 12], [14, 14], [99, 99], ['abc', 0], ['-1', -1]].each do |header, version|
        it "#{header.inspect} is refused: HandshakeError, connection aborted, no onclose" do
          log, client = handshake_with(-> { L.hybi_request(host: hostport, version: header) })
          expect(log).to eq([[:error, WS::HandshakeError, "Protocol version #{version} not supported"]])
          expect(client.data).to eq(''.b)
          expect(client).to be_closed
        end
      end

      it 'wins over Sec-WebSocket-Draft and Sec-WebSocket-Key1' do
        log, client = handshake_with(lambda {
          L.draft76_request(host: hostport, draft: 3, key3: nil,
                            extra: [['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', H::SAMPLE_KEY]])
        })
        expect(opened(log)).to eq([[:open, 13]])
        expect(client.response['sec-websocket-accept']).to eq(H::SAMPLE_ACCEPT)
      end

      it '"75" is answered with the draft 75 handshake' do
        log, client = handshake_with(-> { L.hybi_request(host: hostport, version: 75) }, version: 75)
        expect(opened(log)).to eq([[:open, 75]])
        expect(client.response.status_line).to eq('HTTP/1.1 101 Web Socket Protocol Handshake')
      end

      it '"3" with draft 76 keys is answered as draft 03' do
        log, client = handshake_with(lambda {
          L.draft76_request(host: hostport, extra: [['Sec-WebSocket-Version', '3']])
        }, version: 3)
        expect(opened(log)).to eq([[:open, 3]])
        expect(client.challenge_answer).to eq(L::ANSWER)
      end

      it 'without Sec-WebSocket-Key (versions 5 to 13): HandshakeError' do
        log, client = handshake_with(-> { H.rfc6455_request(host: hostport, version: 6, drop: ['Sec-WebSocket-Key']) })
        expect(log).to eq([[:error, WS::HandshakeError, 'sec-websocket-key header is required']])
        expect(client.data).to eq(''.b)
      end
    end

    describe 'Sec-WebSocket-Draft' do
      [[4, 4], [0, 0], ['x', 0]].each do |header, version|
        it "#{header.inspect} is refused: Protocol version #{version} not supported" do
          log, client = handshake_with(-> { L.draft76_request(host: hostport, draft: header) }, version: 3)
          expect(log).to eq([[:error, WS::HandshakeError, "Protocol version #{version} not supported"]])
          expect(client.data).to eq(''.b)
        end
      end

      it 'wins over Sec-WebSocket-Key1, and still needs the draft 76 keys' do
        req = -> { Handshake.format_request(headers: [['Host', hostport], %w[Upgrade WebSocket], %w[Connection Upgrade], ['Sec-WebSocket-Draft', '2']]) + L::KEY3 }
        log, client = handshake_with(req, version: 2)
        expect(log).to eq([[:error, WS::HandshakeError, 'WebSocket key1 or key2 is missing']])
        expect(client.data).to eq(''.b)
      end
    end

    describe 'neither header' do
      it 'Sec-WebSocket-Key1 means draft 76' do
        log, client = handshake_with(-> { L.draft76_request(host: hostport) }, version: 76)
        expect(opened(log)).to eq([[:open, 76]])
        expect(client.response.status_line).to eq('HTTP/1.1 101 WebSocket Protocol Handshake')
      end

      it 'anything else means draft 75' do
        log, client = handshake_with(-> { L.draft75_request(host: hostport) }, version: 75)
        expect(opened(log)).to eq([[:open, 75]])
        expect(client.response.status_line).to eq('HTTP/1.1 101 Web Socket Protocol Handshake')
      end
    end

    # em-websocket does not hand the rest of the request's packet to the
    # protocol handler (drafts 05 onwards): a frame sent along with the
    # request is lost. (75 and 76/01-03 refuse such bytes: see their specs.)
    it 'drops a frame sent in the same packet as a draft 06 request',
       original_only: 'em-websocket 0.5.1 loses bytes after the request; em-websocket-rs reads them' do
      log = []
      em_run do
        start_server { |ws| record_all(ws, log) }
        client = connect_legacy(6, request: legacy_request(6) + L.encode05(:text, 'early'))
        client.on_open do
          client.send_text('later')
          EM.add_timer(0.05) { client.close_connection }
        end
      end
      expect(log).to eq([[:open, 6], [:message, 'later'], [:close, { code: 1006, was_clean: false }, :closed]])
    end

    it 'delivers a frame sent in the same packet as a draft 06 request',
       rs_only: 'em-websocket 0.5.1 drops the bytes that follow the request in its packet' do
      log = []
      em_run do
        start_server { |ws| record_all(ws, log) }
        client = connect_legacy(6, request: legacy_request(6) + L.encode05(:text, 'early'))
        client.on_open do
          client.send_text('later')
          EM.add_timer(0.05) { client.close_connection }
        end
      end
      expect(log).to eq([
        [:open, 6], [:message, 'early'], [:message, 'later'], [:close, { code: 1006, was_clean: false }, :closed]
      ])
    end
  end
end
