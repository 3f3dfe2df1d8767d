require 'spec_helper'

module EMWSSpec
  RSpec.describe 'closing' do
    APP_CODE_ERROR = 'Application code may only use codes from 1000, 3000-4999'

    # Server recording onclose events (and the state seen in onclose)
    def recording_server(events, opts = {}, &extra)
      start_server(opts) do |ws|
        ws.onclose do |ev|
          events << [ev, ws.state]
          done_later(0.05)
        end
        extra&.call(ws)
      end
    end

    describe 'initiated by the client' do
      it 'with code and reason: onclose is clean, the server echoes the code and closes TCP' do
        events = []
        client = nil
        em_run do
          recording_server(events)
          client = connect_client
          client.on_open { client.send_close(4000, 'bye now') }
        end
        expect(events).to eq([[{ code: 4000, reason: 'bye now', was_clean: true }, :closed]])
        expect(client.frames.map(&:type)).to eq([:close])
        expect(client.close_frame.payload).to eq([4000].pack('n'))
        expect(client).to be_closed
      end

      it 'with code 1000 and no reason' do
        events = []
        client = nil
        em_run do
          recording_server(events)
          client = connect_client
          client.on_open { client.send_close(1000) }
        end
        expect(events.map(&:first)).to eq([{ code: 1000, reason: '', was_clean: true }])
        expect(client.close_frame.close_code).to eq(1000)
      end

      it 'without a code: onclose gets 1005 and the server answers with 1000' do
        events = []
        client = nil
        em_run do
          recording_server(events)
          client = connect_client
          client.on_open { client.send_close }
        end
        expect(events.map(&:first)).to eq([{ code: 1005, reason: '', was_clean: true }])
        expect(client.frames.map(&:type)).to eq([:close])
        expect(client.close_frame.close_code).to eq(1000)
        expect(client).to be_closed
      end

      it 'by dropping TCP: onclose gets 1006, was_clean false and no :reason' do
        events = []
        em_run do
          recording_server(events)
          client = connect_client
          client.on_open { client.close_connection }
        end
        expect(events).to eq([[{ code: 1006, was_clean: false }, :closed]])
        expect(events.first.first).not_to have_key(:reason)
      end
    end

    describe 'initiated by the server with ws.close' do
      it 'sends code and reason, goes :closing, and on the echo closes cleanly with the echoed code' do
        events = []
        states = []
        client = nil
        em_run do
          recording_server(events) do |ws|
            ws.onopen do
              ws.close(4001, 'server says bye')
              states << ws.state
            end
          end
          client = connect_client # echoes the close frame
        end
        expect(states).to eq([:closing])
        expect(client.frames.map(&:type)).to eq([:close])
        expect(client.close_frame.close_code).to eq(4001)
        expect(client.close_frame.close_reason).to eq('server says bye')
        expect(events).to eq([[{ code: 4001, reason: '', was_clean: true }, :closed]])
        expect(client).to be_closed
      end

      it 'without arguments sends an empty close frame' do
        events = []
        client = nil
        em_run do
          recording_server(events) { |ws| ws.onopen { ws.close } }
          client = connect_client
        end
        expect(client.close_frame.payload).to eq(''.b)
        expect(events.map(&:first)).to eq([{ code: 1005, reason: '', was_clean: true }])
      end

      it 'close_websocket is the same as close' do
        client = nil
        em_run do
          start_server { |ws| ws.onopen { ws.close_websocket(1000, 'old api') } }
          client = connect_client
          client.on_close { done }
        end
        expect(client.close_frame.close_code).to eq(1000)
        expect(client.close_frame.close_reason).to eq('old api')
      end

      [1000, 1003, 1008, 1011, 3000, 3999, 4000, 4999].each do |code|
        it "allows code #{code}" do
          client = nil
          em_run do
            start_server { |ws| ws.onopen { ws.close(code, "c#{code}") } }
            client = connect_client
            client.on_close { done }
          end
          expect(client.close_frame.close_code).to eq(code)
          expect(client.close_frame.close_reason).to eq("c#{code}")
        end
      end

      it 'raises RuntimeError for codes applications may not use, and sends nothing' do
        bad = [999, 1001, 1002, 1004, 1005, 1006, 1007, 1009, 1010, 1015, 2000, 2999, 5000]
        errors = []
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              bad.each do |code|
                ws.close(code, 'nope')
                errors << [code, nil]
              rescue RuntimeError => e
                errors << [code, e]
              end
              ws.send(+'still open')
            end
          end
          client = connect_client
          client.on_frame { done }
        end
        expect(errors.map(&:first)).to eq(bad)
        expect(errors.map { |e| e[1].class }).to all(eq(RuntimeError))
        expect(errors.map { |e| e[1].message }.uniq).to eq([APP_CODE_ERROR])
        expect(client.frames.map { |f| [f.type, f.payload] }).to eq([[:text, 'still open'.b]])
      end

      it 'refuses data frames once closing' do
        error = nil
        client = nil
        em_run do
          start_server do |ws|
            ws.onopen do
              ws.close(1000)
              begin
                ws.send(+'too late')
              rescue StandardError => e
                error = e
              end
            end
          end
          client = connect_client
          client.on_close { done }
        end
        expect(error).to be_a(EM::WebSocket::WebSocketError)
        expect(error.message).to eq('Cannot send data frame since connection is closing')
        expect(client.frames.map(&:type)).to eq([:close])
      end

      it 'before the handshake drops the TCP connection without a response' do
        client = nil
        em_run do
          start_server { |ws| ws.close }
          client = connect_client
          client.on_close { done_later(0.05) }
        end
        expect(client.data).to eq(''.b)
        expect(client).to be_closed
      end
    end

    describe 'close timeout' do
      it 'defaults to 60 seconds globally and per connection' do
        per_conn = nil
        em_run do
          start_server { |ws| ws.onopen { per_conn = ws.close_timeout; done } }
          connect_client
        end
        expect(EM::WebSocket.close_timeout).to eq(60)
        expect(per_conn).to eq(60)
      end

      it 'drops TCP when the client never answers the close: onerror then onclose 1006' do
        log = []
        timeout_seen = nil
        client = nil
        closed_after = nil
        em_run do
          started = nil
          start_server(close_timeout: 0.5) do |ws|
            ws.onopen do
              timeout_seen = ws.close_timeout
              started = monotonic
              ws.close(4002, 'please answer')
            end
            ws.onerror { |e| log << [:error, e.class, e.message] }
            ws.onclose do |ev|
              closed_after = monotonic - started
              log << [:close, ev]
              done_later(0.05)
            end
          end
          client = connect_client(echo_close: false)
        end
        expect(timeout_seen).to eq(0.5)
        expect(log).to eq([
          [:error, EM::WebSocket::WSProtocolError, 'Close handshake un-acked after 0.5s, closing tcp connection'],
          [:close, { code: 1006, was_clean: false }]
        ])
        expect(closed_after).to be_between(0.4, 3)
        expect(client.close_frame.close_code).to eq(4002)
        expect(client).to be_closed
      end
    end

    it 'moves through :handshake, :connected, :closing and :closed' do
      states = []
      em_run do
        start_server do |ws|
          states << [:run, ws.state]
          ws.onopen do
            states << [:open, ws.state]
            ws.close(1000)
            states << [:after_close, ws.state]
          end
          ws.onclose do
            states << [:onclose, ws.state]
            done
          end
        end
        connect_client
      end
      expect(states).to eq([[:run, :handshake], [:open, :connected], [:after_close, :closing], [:onclose, :closed]])
    end
  end
end
