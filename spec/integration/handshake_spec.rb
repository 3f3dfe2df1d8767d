require 'spec_helper'

module EMWSSpec
  RSpec.describe 'opening handshake' do
    it 'answers an RFC 6455 request with exactly the em-websocket header set' do
      response = nil
      em_run do
        start_server { |_ws| }
        c = connect_client(key: H::SAMPLE_KEY)
        c.on_open do |r|
          response = r
          done
        end
      end
      expect(response.status_line).to eq('HTTP/1.1 101 Switching Protocols')
      expect(response['sec-websocket-accept']).to eq(H::SAMPLE_ACCEPT)
      expect(response.header_set).to eq(H.expected_rfc6455_lines(H::SAMPLE_KEY).sort)
      expect(response.body).to eq(''.b)
    end

    it 'computes Sec-WebSocket-Accept from a random key' do
      key = H.new_key
      response = nil
      em_run do
        start_server { |_ws| }
        connect_client(key: key).on_open do |r|
          response = r
          done
        end
      end
      expect(response['sec-websocket-accept']).to eq(H.accept_for(key))
      expect(response['upgrade']).to match(/\Awebsocket\z/i)
      expect(response['connection']).to match(/\AUpgrade\z/i)
    end

    it 'exposes path, query_string, query, origin, headers and protocol_version to onopen' do
      seen = nil
      em_run do
        start_server do |ws|
          ws.onopen do |hs|
            seen = {
              klass: hs.class.name, path: hs.path, query_string: hs.query_string, query: hs.query,
              origin: hs.origin, headers: hs.headers, headers_downcased: hs.headers_downcased,
              secure: hs.secure?, version: hs.protocol_version
            }
            done
          end
        end
        connect_client(path: '/chat/room?foo=bar&baz=qux', origin: 'http://example.com',
                       extra: [['X-Custom-Header', 'Some Value']])
      end
      expect(seen[:klass]).to eq('EventMachine::WebSocket::Handshake')
      expect(seen[:path]).to eq('/chat/room')
      expect(seen[:query_string]).to eq('foo=bar&baz=qux')
      expect(seen[:query]).to eq('foo' => 'bar', 'baz' => 'qux')
      expect(seen[:origin]).to eq('http://example.com')
      expect(seen[:headers]).to include(
        'Host' => "127.0.0.1:#{port}", 'Upgrade' => 'websocket', 'Connection' => 'Upgrade',
        'Sec-WebSocket-Version' => '13', 'X-Custom-Header' => 'Some Value'
      )
      expect(seen[:headers_downcased]).to include(
        'host' => "127.0.0.1:#{port}", 'upgrade' => 'websocket',
        'sec-websocket-key' => H::SAMPLE_KEY, 'x-custom-header' => 'Some Value'
      )
      expect(seen[:headers_downcased].keys).to eq(seen[:headers_downcased].keys.map(&:downcase))
      expect(seen[:secure]).to be(false)
      expect(seen[:version]).to eq(13)
    end

    it 'gives an empty query_string and query without a query, and keeps query values undecoded' do
      seen = []
      em_run do
        start_server do |ws|
          ws.onopen do |hs|
            seen << [hs.path, hs.query_string, hs.query]
            done if seen.size == 2
          end
        end
        connect_client(path: '/')
        connect_client(path: '/p?x=a%20b&y=')
      end
      expect(seen).to contain_exactly(['/', '', {}], ['/p', 'x=a%20b&y=', { 'x' => 'a%20b', 'y' => '' }])
    end

    it 'has no origin when the client sends none' do
      origin = :unset
      em_run do
        start_server { |ws| ws.onopen { |hs| origin = hs.origin; done } }
        connect_client
      end
      expect(origin).to be_nil
    end

    [8, 7].each do |version|
      it "accepts protocol version #{version}, reads Sec-WebSocket-Origin, and echoes text" do
        seen = nil
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen { |hs| seen = [hs.protocol_version, hs.origin] }
            ws.onmessage { |m| ws.send("v#{version}:#{m}") }
          end
          client = connect_client(version: version, origin: 'http://old.example')
          client.on_open { client.send_text('hi') }
          client.on_frame { |f| done if f.type == :text }
        end
        expect(seen).to eq([version, 'http://old.example'])
        expect(client.response.status).to eq(101)
        expect(client.response['sec-websocket-accept']).to eq(H::SAMPLE_ACCEPT)
        expect(client.frames_of(:text).map(&:text)).to eq(["v#{version}:hi"])
      end
    end

    it 'accepts a handshake that arrives one byte at a time' do
      opened = false
      client = nil
      em_run do
        start_server { |ws| ws.onopen { opened = true } }
        client = connect_client(request: false)
        bytes = ws_request.bytes
        timer = EM.add_periodic_timer(0.001) do
          if bytes.empty?
            timer.cancel
          else
            client.send_data(bytes.shift.chr)
          end
        end
        client.on_open { done_later(0.05) }
      end
      expect(opened).to be(true)
      expect(client.response.status).to eq(101)
    end

    it 'handles a handshake and a first frame in the same TCP segment',
       rs_only: 'em-websocket 0.5.1 discards frame bytes read together with the handshake' do
      msgs = []
      em_run do
        start_server { |ws| ws.onmessage { |m| msgs << m; done } }
        connect_client(request: ws_request + Frames.encode(:text, 'early bird'))
      end
      expect(msgs).to eq(['early bird'])
    end

    it 'reports secure? true behind a TLS-terminating proxy (:secure_proxy)' do
      secure = nil
      em_run do
        start_server(secure_proxy: true) { |ws| ws.onopen { |hs| secure = hs.secure?; done } }
        connect_client
      end
      expect(secure).to be(true)
    end

    it 'does not echo a whole list of subprotocols back' do
      response = nil
      em_run do
        start_server { |_ws| }
        connect_client(protocol: 'chat, superchat').on_open { |r| response = r; done }
      end
      expect(response.status).to eq(101)
      expect(response['sec-websocket-protocol']).not_to eq('chat, superchat')
    end

    describe 'rejected handshakes' do
      def expect_rejected(request, message)
        errors = []
        events = []
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen { events << :open }
            ws.onclose { events << :close }
            ws.onerror { |e| errors << e }
          end
          client = connect_client(request: request, handshake: false)
          client.on_close { done_later(0.05) }
        end
        expect(errors.size).to eq(1)
        expect(errors.first).to be_a(EM::WebSocket::HandshakeError)
        expect(errors.first).to be_a(EM::WebSocket::WebSocketError)
        if message.is_a?(Regexp)
          expect(errors.first.message).to match(message)
        else
          expect(errors.first.message).to eq(message)
        end
        expect(client.data).to eq(''.b)
        expect(client).to be_closed
        expect(events).to eq([])
      end

      it 'drops a request that is not GET' do
        expect_rejected(ws_request(method: 'POST'), 'Must be GET request')
      end

      it 'drops a GET that is not an upgrade' do
        expect_rejected(H.format_request(path: '/', headers: [['Host', 'x']]), 'Not an upgrade request')
      end

      it 'drops a request with a bad Upgrade header' do
        req = H.format_request(headers: [['Host', 'x'], %w[Upgrade foo], %w[Connection Upgrade],
                                         ['Sec-WebSocket-Key', H::SAMPLE_KEY], ['Sec-WebSocket-Version', '13']])
        expect_rejected(req, 'Invalid upgrade header: "foo"')
      end

      it 'drops an unsupported protocol version' do
        expect_rejected(ws_request(version: 99), 'Protocol version 99 not supported')
      end

      it 'drops a version 13 request without Sec-WebSocket-Key' do
        expect_rejected(ws_request(drop: ['Sec-WebSocket-Key']), 'sec-websocket-key header is required')
      end

      it 'drops bytes that are not HTTP' do
        expect_rejected("\x16\x03\x01 not http at all\r\n\r\n".b, /\AInvalid HTTP header/)
      end
    end
  end
end
