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

  RSpec.describe 'trigger_on_* methods' do
    it 'call the registered blocks directly; trigger_on_error says whether onerror handled it' do
      calls = []
      results = []
      em_run do
        start_server do |ws|
          results << ws.trigger_on_error(RuntimeError.new('before onerror'))
          ws.onmessage { |m| calls << [:message, m] }
          ws.onbinary { |m| calls << [:binary, m] }
          ws.onping { |m| calls << [:ping, m] }
          ws.onpong { |m| calls << [:pong, m] }
          ws.onerror { |e| calls << [:error, e.message] }
          ws.onclose { |ev| calls << [:close, ev] }
          ws.onopen do
            ws.trigger_on_message('synthetic')
            ws.trigger_on_binary("\x01".b)
            ws.trigger_on_ping('p')
            ws.trigger_on_pong('q')
            results << ws.trigger_on_error(RuntimeError.new('handled'))
            ws.trigger_on_close(code: 4242, reason: 'fake', was_clean: true)
            done
          end
        end
        connect_client
      end
      expect(results).to eq([false, true])
      # (the real onclose follows when EM.stop drops the connection)
      expect(calls.first(6)).to eq([[:message, 'synthetic'], [:binary, "\x01".b], [:ping, 'p'], [:pong, 'q'],
                                    [:error, 'handled'], [:close, { code: 4242, reason: 'fake', was_clean: true }]])
    end
  end
end
