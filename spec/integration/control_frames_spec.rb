require 'spec_helper'

module EMWSSpec
  RSpec.describe 'ping and pong' do
    it 'answers a client ping with a pong carrying the same body and calls onping' do
      pings = []
      client = nil
      em_run do
        start_server { |ws| ws.onping { |d| pings << [d, d.encoding] } }
        client = connect_client
        client.on_open do
          client.send_ping('are you there?')
          client.send_ping('')
        end
        client.on_frame { done_later(0.05) if client.frames_of(:pong).size == 2 }
      end
      expect(client.frames.map { |f| [f.type, f.payload] })
        .to eq([[:pong, 'are you there?'.b], [:pong, ''.b]])
      expect(client.frames.map(&:masked)).to eq([false, false])
      expect(pings.map(&:first)).to eq(['are you there?', ''])
    end

    it 'answers an unmasked client ping too' do
      client = nil
      em_run do
        start_server { |_ws| }
        client = connect_client
        client.on_open { client.send_ping("\x00\x01\x02".b, mask: false) }
        client.on_frame { done }
      end
      expect(client.frames.map { |f| [f.type, f.payload] }).to eq([[:pong, "\x00\x01\x02".b]])
    end

    it 'ws.ping sends a ping frame and returns true; the pong reaches onpong' do
      pongs = []
      results = []
      client = nil
      em_run do
        start_server do |ws|
          ws.onopen do
            results << ws.pingable?
            results << ws.ping('hello')
          end
          ws.onpong do |d|
            pongs << d
            done
          end
        end
        client = connect_client
        client.on_frame { |f| client.send_pong(f.payload) if f.type == :ping }
      end
      expect(results).to eq([true, true])
      expect(client.frames.map { |f| [f.type, f.payload] }).to eq([[:ping, 'hello'.b]])
      expect(client.data.end_with?("\x89\x05hello".b)).to be(true)
      expect(pongs).to eq(['hello'])
    end

    it 'ws.ping with no body sends an empty ping' do
      client = nil
      em_run do
        start_server { |ws| ws.onopen { ws.ping } }
        client = connect_client
        client.on_frame { done }
      end
      expect(client.frames.map { |f| [f.type, f.payload] }).to eq([[:ping, ''.b]])
    end

    it 'ws.pong sends an unsolicited pong and returns true' do
      result = nil
      client = nil
      em_run do
        start_server { |ws| ws.onopen { result = ws.pong('tick') } }
        client = connect_client
        client.on_frame { done }
      end
      expect(result).to be(true)
      expect(client.frames.map { |f| [f.type, f.payload] }).to eq([[:pong, 'tick'.b]])
    end

    it 'calls onpong for an unsolicited client pong and does not answer it' do
      pongs = []
      client = nil
      em_run do
        start_server { |ws| ws.onpong { |d| pongs << d; done_later(0.1) } }
        client = connect_client
        client.on_open { client.send_pong('unasked') }
      end
      expect(pongs).to eq(['unasked'])
      expect(client.frames).to eq([])
    end

    it 'reports pingable? and supports_close_codes? as true for RFC 6455' do
      flags = nil
      em_run do
        start_server { |ws| ws.onopen { flags = [ws.pingable?, ws.supports_close_codes?]; done } }
        connect_client
      end
      expect(flags).to eq([true, true])
    end

    it 'raises before onopen from supports_close_codes?' do
      error = nil
      em_run do
        start_server do |ws|
          begin
            ws.supports_close_codes?
          rescue StandardError => e
            error = e
          end
          done
        end
        connect_client(request: false)
      end
      expect(error).to be_a(EM::WebSocket::WebSocketError)
      expect(error.message).to eq('Cannot test before onopen callback')
    end
  end
end
