require 'spec_helper'
require_relative '../../support/legacy_helpers'
require_relative '../../support/legacy_app_errors'

module EMWSSpec
  # Hixie draft 75: a request without any Sec-WebSocket-* version hint, a
  # WebSocket-Origin / WebSocket-Location answer, "\x00 text \xFF" frames.
  # No ping, no close codes, no closing handshake of its own (em-websocket
  # reads draft 76's "\xFF\x00" under 75 too): every close is 1006, not clean.
  RSpec.describe 'draft 75' do
    CLOSED75 = { code: 1006, was_clean: false }.freeze

    def d75_lines(path: '/', scheme: 'ws', origin: 'http://example.com')
      [
        'HTTP/1.1 101 Web Socket Protocol Handshake', 'Upgrade: WebSocket', 'Connection: Upgrade',
        "WebSocket-Origin: #{origin}", "WebSocket-Location: #{scheme}://#{host}:#{port}#{path}"
      ].sort
    end

    describe 'handshake' do
      it 'answers with the draft 75 headers (no protocol) and reports version 75, no ping, no close codes' do
        info = nil
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do |hs|
              info = [hs.protocol_version, hs.path, hs.query_string, hs.origin, ws.state, ws.pingable?,
                      ws.supports_close_codes?, ws.ping, ws.pong]
            end
          end
          client = connect_legacy(75, path: '/seventy-five?x=1', protocol: 'sample')
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(d75_lines(path: '/seventy-five?x=1'))
        expect(client.body).to eq(''.b)
        expect(info).to eq([75, '/seventy-five', 'x=1', 'http://example.com', :connected, false, false, false, false])
      end

      it 'answers with an empty WebSocket-Origin when the client sends no Origin' do
        client = nil
        em_run do
          start_server { |_ws| }
          client = connect_legacy(75, origin: nil)
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(d75_lines(origin: ''))
      end

      it 'sends a wss:// location behind a TLS proxy (:secure_proxy)' do
        client = nil
        em_run do
          start_server(secure_proxy: true) { |_ws| }
          client = connect_legacy(75, path: '/tls')
          client.on_open { done_later(0.05) }
        end
        expect(client.response.header_set).to eq(d75_lines(path: '/tls', scheme: 'wss'))
      end

      it 'fails on bytes sent after the request in the same packet' do
        log = []
        client = nil
        em_run do
          start_server { |ws| record_all(ws, log) }
          client = connect_legacy(75, request: legacy_request(75) + L.hixie_text('too early'))
          client.on_close { done_later(0.05) }
        end
        expect(log).to eq([[:error, WS::HandshakeError, 'Extra bytes after header']])
        expect(client.data).to eq(''.b)
      end
    end

    describe 'messages' do
      it 'exchanges text frames both ways' do
        log = []
        client = legacy_session(75, log, on_open: lambda { |c|
          c.send_data("\x00one\xFF\x00h\xC3\xA9\xFF\x00par".b)
          EM.add_timer(0.05) { c.send_data("tial\xFF".b) }
        }) do |ws|
          ws.onmessage do |m|
            log << [:message, m, m.encoding]
            ws.send(+"echo #{m}")
            ws.close if m == 'partial'
          end
        end
        expect(log).to eq([
          [:open, 75], [:message, 'one', Encoding::UTF_8], [:message, 'hé', Encoding::UTF_8],
          [:message, 'partial', Encoding::UTF_8], [:close, CLOSED75, :closed]
        ])
        expect(client.body).to eq("\x00echo one\xFF\x00echo h\xC3\xA9\xFF\x00echo partial\xFF".b)
      end
    end

    describe 'closing' do
      it 'by the client with "\xFF\x00": answered with "\xFF\x00", TCP closed, onclose 1006' do
        log = []
        client = legacy_session(75, log, on_open: ->(c) { c.send_data("\x00last\xFF\xFF\x00".b) })
        expect(log).to eq([[:open, 75], [:message, 'last'], [:close, CLOSED75, :closed]])
        expect(client.body).to eq("\xFF\x00".b)
      end

      it 'by the server: ws.close drops TCP, ignoring the code' do
        log = []
        states = []
        client = legacy_session(75, log, server_opts: { close_timeout: 10 }) do |ws|
          ws.onopen do
            ws.close(1000, 'no codes in 75')
            states << ws.state
          end
        end
        expect(states).to eq([:connected])
        expect(client.body).to eq(''.b)
        expect(log).to eq([[:close, CLOSED75, :closed]])
      end

      it 'an abrupt TCP close gives onclose 1006' do
        log = []
        legacy_session(75, log, on_open: ->(c) { c.close_connection })
        expect(log).to eq([[:open, 75], [:close, CLOSED75, :closed]])
      end
    end

    describe 'failing the connection' do
      # The client drops TCP after 0.3 s when the server has not
      def provoke(bytes)
        provoke_legacy(75, bytes, close_after: 0.3)
      end

      it 'a text frame over max_frame_size: WSMessageTooBigError, TCP closed' do
        log, client = with_max_frame_size(10) { provoke("\x00".b + ('z' * 10)) }
        expect(log).to eq([
          [:open, 75], [:error, WS::WSMessageTooBigError, 'Frame length too long (11 bytes)'],
          [:close, CLOSED75, :closed]
        ])
        expect(client.body).to eq(''.b)
      end

      it 'a length-prefixed frame over max_frame_size: WSMessageTooBigError' do
        log, = with_max_frame_size(10) { provoke(L.hixie_length_frame('y' * 11, type: 0xC2)) }
        expect(log).to eq([
          [:open, 75], [:error, WS::WSMessageTooBigError, 'Frame length too long (11 bytes)'],
          [:close, CLOSED75, :closed]
        ])
      end

      it 'a frame starting with neither 0x00 nor a high bit: WSProtocolError' do
        log, client = provoke("\x7Fbad\xFF".b)
        expect(log).to eq([
          [:open, 75], [:error, WS::WSProtocolError, 'Invalid frame received'], [:close, CLOSED75, :closed]
        ])
        expect(client.body).to eq(''.b)
      end

      it 'text that is not UTF-8: InvalidDataError, TCP closed',
         rs_only: 'em-websocket 0.5.1 does not check UTF-8 in drafts 75/76' do
        log, client = provoke("\x00\xC3\x28 bad\xFF".b)
        expect(log).to eq([
          [:open, 75], [:error, WS::InvalidDataError, 'Invalid UTF8 data'], [:close, CLOSED75, :closed]
        ])
        expect(client).to be_closed
      end
    end

    describe 'exceptions in callbacks' do
      include_examples 'application errors under a draft', 75,
                       close_bytes: ''.b,
                       closed: { code: 1006, was_clean: false },
                       triggers: %i[onopen onmessage]
    end
  end
end
