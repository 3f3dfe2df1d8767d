require 'spec_helper'
require 'socket'

module EMWSSpec
  RSpec.describe 'EventMachine::Connection methods on ws' do
    it 'exposes the peer address through remote_ip',
       rs_only: 'em-websocket 0.5.1 has no remote_ip' do
      ip = nil
      em_run do
        start_server { |ws| ws.onopen { ip = ws.remote_ip; done } }
        connect_client
      end
      expect(ip).to eq('127.0.0.1')
    end

    it 'get_peername returns a packed sockaddr of the client' do
      peer = nil
      client_addr = nil
      em_run do
        c = nil
        start_server do |ws|
          ws.onopen do
            peer = Socket.unpack_sockaddr_in(ws.get_peername)
            client_addr = Socket.unpack_sockaddr_in(c.get_sockname)
            done
          end
        end
        c = connect_client
      end
      expect(peer[1]).to eq('127.0.0.1')
      expect(client_addr).to eq(peer)
    end

    it 'send_data writes raw bytes to the socket' do
      client = nil
      em_run do
        start_server { |ws| ws.onopen { ws.send_data("\x81\x03raw\x82\x02\xFF\x00".b) } }
        client = connect_client
        client.on_frame { done if client.frames.size == 2 }
      end
      expect(client.frames.map { |f| [f.type, f.payload] }).to eq([[:text, 'raw'.b], [:binary, "\xFF\x00".b]])
    end

    it 'close_connection drops TCP at once: no close frame, onclose 1006' do
      closes = []
      client = nil
      em_run do
        start_server do |ws|
          ws.onmessage { ws.close_connection }
          ws.onclose { |ev| closes << ev }
        end
        client = connect_client
        client.on_open { client.send_text('kill me') }
        client.on_close { done_later(0.05) }
      end
      expect(client.frames).to eq([])
      expect(client).to be_closed
      expect(closes).to eq([{ code: 1006, was_clean: false }])
    end

    it 'close_connection_after_writing flushes what was sent, then drops TCP' do
      closes = []
      client = nil
      em_run do
        start_server do |ws|
          ws.onopen do
            ws.send(+'last words')
            ws.send_binary('x'.b * 100_000)
            ws.close_connection_after_writing
          end
          ws.onclose { |ev| closes << ev }
        end
        client = connect_client
        client.on_close { done_later(0.05) }
      end
      expect(client.frames.map(&:type)).to eq(%i[text binary])
      expect(client.frames[0].text).to eq('last words')
      expect(client.frames[1].payload.bytesize).to eq(100_000)
      expect(client).to be_closed
      expect(closes).to eq([{ code: 1006, was_clean: false }])
    end

    it 'get_outbound_data_size is a non-negative Integer' do
      sizes = []
      client = nil
      em_run do
        start_server do |ws|
          ws.onopen do
            sizes << ws.get_outbound_data_size
            ws.send_binary('o'.b * 500_000)
            sizes << ws.get_outbound_data_size
          end
        end
        client = connect_client
        client.on_frame { EM.add_timer(0.05) { done } }
      end
      expect(sizes.size).to eq(2)
      expect(sizes).to all(be_an(Integer))
      expect(sizes).to all(be >= 0)
      expect(client.frames.first.payload.bytesize).to eq(500_000)
    end

    it 'comm_inactivity_timeout= drops an idle connection (onclose 1006)' do
      read_back = nil
      closes = []
      elapsed = nil
      em_run do
        EM.heartbeat_interval = 0.1 if EM.respond_to?(:heartbeat_interval=)
        started = nil
        start_server do |ws|
          ws.onopen do
            started = monotonic
            ws.comm_inactivity_timeout = 0.5
            read_back = ws.comm_inactivity_timeout
          end
          ws.onclose do |ev|
            elapsed = monotonic - started
            closes << ev
            done_later(0.05)
          end
        end
        connect_client
      end
      expect(read_back).to be_within(0.01).of(0.5)
      expect(closes).to eq([{ code: 1006, was_clean: false }])
      expect(elapsed).to be_between(0.4, 3)
    end

    it 'signature identifies each connection' do
      sigs = []
      em_run do
        start_server do |ws|
          ws.onopen do
            sigs << ws.signature
            done if sigs.size == 2
          end
        end
        connect_client
        connect_client
      end
      expect(sigs.size).to eq(2)
      expect(sigs).to all(satisfy { |s| !s.nil? })
      expect(sigs.uniq.size).to eq(2)
    end

    it 'ws.send from another Ruby thread arrives' do
      client = nil
      em_run do
        # em-websocket only flushes writes made off the reactor thread when the
        # reactor next wakes up, so keep it ticking as a real app's timers would
        EM.add_periodic_timer(0.05) {}
        start_server do |ws|
          ws.onopen do
            Thread.new do
              ws.send(+'from a thread')
              ws.send_binary("\x00thread".b)
            end
          end
        end
        client = connect_client
        client.on_frame { done if client.frames.size == 2 }
      end
      expect(client.frames.map { |f| [f.type, f.payload] })
        .to eq([[:text, 'from a thread'.b], [:binary, "\x00thread".b]])
    end

    it 'fans out through EM::Channel to every subscriber' do
      clients = []
      subscribed = 0
      em_run do
        channel = EM::Channel.new
        start_server do |ws|
          sid = nil
          ws.onopen do
            sid = channel.subscribe { |msg| ws.send(msg) }
            subscribed += 1
          end
          ws.onmessage { |m| channel.push(+"relay: #{m}") }
          ws.onclose { channel.unsubscribe(sid) if sid }
        end
        3.times { clients << connect_client }
        when_true(-> { subscribed == 3 }) { clients.first.send_text('hello all') }
        when_true(-> { clients.all? { |c| c.frames.any? } }) { done_later(0.05) }
      end
      expect(clients.map { |c| c.frames.map(&:text) }).to eq([['relay: hello all']] * 3)
    end

    it 'aborts a connection whose outbound buffer would pass :outbound_limit (onclose 1006)',
       rs_only: 'em-websocket 0.5.1 has no :outbound_limit (added in 0.5.2)' do
      closes = []
      sent = 0
      sock = nil
      em_run(timeout: 15) do
        start_server(outbound_limit: 256 * 1024) do |ws|
          ws.onopen do
            chunk = 'x'.b * 65_536
            ticks = 0
            timer = EM.add_periodic_timer(0.005) do
              ticks += 1
              if !closes.empty? || ticks > 400
                timer.cancel
              else
                8.times do
                  ws.send_binary(chunk)
                  sent += chunk.bytesize
                rescue StandardError
                  break
                end
              end
            end
          end
          ws.onclose do |ev|
            closes << ev
            done_later(0.05)
          end
        end
        # a client that never reads
        sock = Socket.new(:INET, :STREAM)
        sock.setsockopt(:SOCKET, :RCVBUF, 4096)
        sock.connect(Socket.sockaddr_in(port, '127.0.0.1'))
        sock.write(ws_request)
      end
      expect(closes).to eq([{ code: 1006, was_clean: false }])
      expect(sent).to be < 400 * 8 * 65_536
    ensure
      sock&.close
    end
  end
end
