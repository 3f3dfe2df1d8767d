require 'spec_helper'

module EMWSSpec
  # The pre-RFC protocols em-websocket still speaks: hixie draft 75 and 76
  RSpec.describe 'legacy drafts' do
    DRAFT76_HEAD = H.format_request(path: '/demo', headers: [
      ['Host', 'example.com'], %w[Connection Upgrade], ['Sec-WebSocket-Key2', '12998 5 Y3 1  .P00'],
      ['Sec-WebSocket-Protocol', 'sample'], %w[Upgrade WebSocket],
      ['Sec-WebSocket-Key1', '4 @1  46546xW%0l 1 5'], ['Origin', 'http://example.com']
    ])
    DRAFT76_KEY3 = '^n:ds[4U'.b
    DRAFT76_ANSWER = "8jKS'y:G*Co,Wxa-".b

    DRAFT75_REQUEST = H.format_request(path: '/demo', headers: [
      %w[Upgrade WebSocket], %w[Connection Upgrade], ['Host', 'example.com'],
      ['Origin', 'http://example.com'], ['WebSocket-Protocol', 'sample']
    ])

    # Runs a server; the raw client sends +request+ and +after_open+ is called
    # with the client once +ready+ says the response is in.
    def legacy(request, ready:, &server)
      client = nil
      em_run do
        start_server { |ws| server.call(ws) }
        client = connect_client(request: request, handshake: false)
        client.on_data { |_| ready.call(client) }
        client.on_close { done_later(0.05) }
      end
      client
    end

    describe 'draft 76' do
      it 'answers the challenge and the headers of the draft' do
        client = legacy(DRAFT76_HEAD + DRAFT76_KEY3, ready: ->(c) { done if c.data.end_with?(DRAFT76_ANSWER) }) { |_ws| }
        response, rest = H.parse_response(client.data)
        expect(response.header_set).to eq([
          'HTTP/1.1 101 WebSocket Protocol Handshake', 'Upgrade: WebSocket', 'Connection: Upgrade',
          'Sec-WebSocket-Location: ws://example.com/demo', 'Sec-WebSocket-Origin: http://example.com',
          'Sec-WebSocket-Protocol: sample'
        ].sort)
        expect(rest).to eq(DRAFT76_ANSWER)
      end

      it 'waits for the third key when it comes in a later packet' do
        opened = false
        client = nil
        before_key = nil
        em_run do
          start_server { |ws| ws.onopen { opened = true } }
          client = connect_client(request: DRAFT76_HEAD, handshake: false)
          EM.add_timer(0.1) do
            before_key = [client.data.dup, opened]
            client.send_data(DRAFT76_KEY3)
          end
          client.on_data { |_| done_later(0.05) if client.data.end_with?(DRAFT76_ANSWER) }
        end
        expect(before_key).to eq([''.b, false]) # nothing happens before the key is in
        expect(opened).to be(true)
        expect(client.data).to end_with(DRAFT76_ANSWER)
      end

      it 'exchanges 0x00 ... 0xFF text frames and reports the draft\'s limits' do
        info = nil
        msgs = []
        client = legacy(DRAFT76_HEAD + DRAFT76_KEY3, ready: lambda { |c|
          c.send_data("\x00hello \xC3\xA9\xFF\x00second\xFF".b) if c.data.end_with?(DRAFT76_ANSWER)
          done_later(0.05) if c.data.end_with?("\x00echo: second\xFF".b)
        }) do |ws|
          ws.onopen do |hs|
            info = [hs.protocol_version, hs.origin, ws.pingable?, ws.ping('x'), ws.pong('x'),
                    ws.supports_close_codes?]
          end
          ws.onmessage do |m|
            msgs << [m, m.encoding]
            ws.send(+"echo: #{m}")
          end
        end
        expect(info).to eq([76, 'http://example.com', false, false, false, false])
        expect(msgs).to eq([['hello é', Encoding::UTF_8], ['second', Encoding::UTF_8]])
        _, rest = H.parse_response(client.data)
        expect(rest).to eq(DRAFT76_ANSWER + "\x00echo: hello \xC3\xA9\xFF\x00echo: second\xFF".b)
      end

      it 'answers the closing handshake 0xFF 0x00 and drops the connection' do
        client = legacy(DRAFT76_HEAD + DRAFT76_KEY3, ready: lambda { |c|
          c.send_data("\xFF\x00".b) if c.data.end_with?(DRAFT76_ANSWER)
        }) { |_ws| }
        _, rest = H.parse_response(client.data)
        expect(rest).to eq(DRAFT76_ANSWER + "\xFF\x00".b)
        expect(client).to be_closed
      end

      it 'ws.close drops the TCP connection' do
        closes = []
        client = legacy(DRAFT76_HEAD + DRAFT76_KEY3, ready: ->(_c) {}) do |ws|
          ws.onopen { ws.close(1000) }
          ws.onclose { |ev| closes << ev }
        end
        _, rest = H.parse_response(client.data)
        expect(rest).to eq(DRAFT76_ANSWER)
        expect(client).to be_closed
        expect(closes).to eq([{ code: 1006, was_clean: false }])
      end

      it 'drops a handshake with key1 without spaces' do
        errors = []
        req = DRAFT76_HEAD.sub('4 @1  46546xW%0l 1 5', '4@146546xW%0l15') + DRAFT76_KEY3
        client = legacy(req, ready: ->(_c) {}) { |ws| ws.onerror { |e| errors << e } }
        expect(errors.map(&:class)).to eq([EM::WebSocket::HandshakeError])
        expect(client.data).to eq(''.b)
      end
    end

    describe 'draft 75' do
      it 'answers with the draft 75 headers and exchanges text frames' do
        info = nil
        msgs = []
        client = legacy(DRAFT75_REQUEST, ready: lambda { |c|
          c.send_data("\x00hi 75\xFF".b) if c.data.end_with?("\r\n\r\n")
          done_later(0.05) if c.data.end_with?("\x00back\xFF".b)
        }) do |ws|
          ws.onopen { |hs| info = [hs.protocol_version, hs.path, hs.origin, ws.pingable?, ws.supports_close_codes?] }
          ws.onmessage do |m|
            msgs << m
            ws.send(+'back')
          end
        end
        response, rest = H.parse_response(client.data)
        expect(response.header_set).to eq([
          'HTTP/1.1 101 Web Socket Protocol Handshake', 'Upgrade: WebSocket', 'Connection: Upgrade',
          'WebSocket-Origin: http://example.com', 'WebSocket-Location: ws://example.com/demo'
        ].sort)
        expect(info).to eq([75, '/demo', 'http://example.com', false, false])
        expect(msgs).to eq(['hi 75'])
        expect(rest).to eq("\x00back\xFF".b)
      end
    end
  end
end
