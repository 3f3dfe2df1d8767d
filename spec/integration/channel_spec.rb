require 'spec_helper'

module EMWSSpec
  RSpec.describe 'EmWebSocketRs::Channel (native fan-out)',
                 rs_only: 'EmWebSocketRs::Channel is em-websocket-rs API' do
    it 'delivers each push to every subscriber, text and binary, in order' do
      clients = []
      subscribed = 0
      counts = []
      em_run do
        room = EmWebSocketRs::Channel.new
        start_server do |ws|
          ws.onopen do
            expect(room.subscribe(ws)).to be(true)
            expect(room.subscribe(ws)).to be(false)
            subscribed += 1
          end
          ws.onmessage do |m|
            counts << room.push(+"relay: #{m}")
            counts << room.push_binary("\x00\xFFbin".b)
          end
        end
        3.times { clients << connect_client }
        when_true(-> { subscribed == 3 }) { clients.first.send_text('héllo') }
        when_true(-> { clients.all? { |c| c.frames.size == 2 } }) { done_later(0.05) }
      end
      expect(counts).to eq([3, 3])
      clients.each do |c|
        expect(c.frames.map { |f| [f.type, f.payload] })
          .to eq([[:text, 'relay: héllo'.b], [:binary, "\x00\xFFbin".b]])
      end
    end

    it 'leaves out unsubscribed and closed connections' do
      clients = []
      sockets = []
      counts = []
      em_run do
        room = EmWebSocketRs::Channel.new
        start_server do |ws|
          ws.onopen do
            room.subscribe(ws)
            sockets << ws
          end
          ws.onclose do
            # Only the first close (the client closed below); EM.stop closes
            # the others. The closed connection is still counted until the
            # next push drops it.
            if counts.size == 1
              counts << room.push('after close')
              counts << room.size
            end
          end
        end
        3.times { clients << connect_client }
        when_true(-> { sockets.size == 3 }) do
          # Which client is which server-side connection does not matter here.
          expect(room.unsubscribe(sockets[0])).to be(true)
          expect(room.unsubscribe(sockets[0])).to be(false)
          counts << room.push('two of three')
          when_true(-> { clients.count { |c| c.frames.any? } == 2 }) do
            clients.find { |c| c.frames.any? }.close_connection
          end
        end
        when_true(-> { counts.size == 3 && clients.count { |c| c.frames.size == 2 } == 1 }) { done_later(0.05) }
      end
      expect(counts).to eq([2, 1, 1])
      expect(clients.map { |c| c.frames.map(&:text) }).to contain_exactly(
        [], ['two of three'], ['two of three', 'after close']
      )
    end

    it 'refuses invalid UTF-8 text and connections not yet open' do
      errors = []
      em_run do
        room = EmWebSocketRs::Channel.new
        start_server do |ws|
          begin
            room.subscribe(ws)
          rescue EM::WebSocket::WebSocketError => e
            errors << e.message
          end
          ws.onopen do
            room.subscribe(ws)
            begin
              room.push("\xFF".b.force_encoding('UTF-8'))
            rescue EM::WebSocket::WebSocketError => e
              errors << e.message
            end
            done
          end
        end
        connect_client
      end
      expect(errors).to eq(['Cannot subscribe before onopen callback',
                            'Data sent to WebSocket must be valid UTF-8 but was UTF-8 (valid: false)'])
    end
  end
end
