require 'spec_helper'
require 'socket'

module EMWSSpec
  # Each limit em-websocket-rs puts on what a peer may make the server hold
  # or wait for, with real sockets on loopback, and a well-behaved client in
  # the same reactor that must keep being served.
  RSpec.describe 'limits' do
    def rss_kb
      File.read('/proc/self/status')[/^VmRSS:\s+(\d+)/, 1].to_i
    end

    # An echo server recording what the application sees.
    def recording_server(rec, opts = {})
      start_server(opts) do |ws|
        rec[:blocks] += 1
        ws.onopen { rec[:opens] += 1 }
        ws.onmessage { |m| ws.send(m) }
        ws.onbinary { |m| ws.send_binary(m) }
        ws.onerror { |e| rec[:errors] << e }
        ws.onclose { |ev| rec[:closes] << ev }
      end
    end

    def new_rec
      { blocks: 0, opens: 0, errors: [], closes: [] }
    end

    # A client that completes its handshake and echoes +count+ messages one
    # after another; +on_done+ runs when the last echo is back.
    def echo_client(count: 5, prefix: 'hello', &on_done)
      echoes = []
      c = connect_client
      c.on_open { c.send_text("#{prefix} 0") }
      c.on_frame do |f|
        next unless f.type == :text

        echoes << f.text
        if echoes.size < count
          c.send_text("#{prefix} #{echoes.size}")
        else
          on_done&.call
        end
      end
      [c, echoes]
    end

    describe ':handshake_timeout', rs_only: 'em-websocket 0.5.1 has no handshake timeout' do
      it 'drops a client trickling its request (slowloris) and serves others meanwhile' do
        rec = new_rec
        slow = nil
        dropped_after = nil
        echoes = nil
        closes = nil
        em_run(timeout: 8) do
          recording_server(rec, handshake_timeout: 0.5)
          started = monotonic
          request = ws_request
          # one byte every 50 ms: the whole request would take ~8 s
          slow = connect_client(request: false, handshake: false)
          sent = 0
          trickle = EM.add_periodic_timer(0.05) do
            slow.send_data(request.byteslice(sent, 1)) if sent < request.bytesize - 1
            sent += 1
          end
          slow.on_close do
            dropped_after = monotonic - started
            trickle.cancel
          end
          _, echoes = echo_client
          when_true(-> { dropped_after && echoes.size == 5 }, timeout: 6) do
            closes = rec[:closes].dup # before EM.stop closes the good client
            done
          end
        end
        expect(dropped_after).to be_between(0.4, 2.5)
        expect(slow.data).not_to start_with('HTTP/1.1 101')
        expect(echoes).to eq((0..4).map { |i| "hello #{i}" })
        expect(rec[:opens]).to eq(1)
        expect(closes).to eq([])
      end

      it 'drops a client that connects and sends nothing' do
        rec = new_rec
        dropped_after = nil
        em_run(timeout: 5) do
          recording_server(rec, handshake_timeout: 0.3)
          started = monotonic
          idle = connect_client(request: false, handshake: false)
          idle.on_close do
            dropped_after = monotonic - started
            done_later(0.05)
          end
        end
        expect(dropped_after).to be_between(0.25, 2)
        expect(rec[:opens]).to eq(0)
        expect(rec[:closes]).to eq([])
      end
    end

    describe ':max_handshake_size', rs_only: 'em-websocket 0.5.1 does not bound the request head' do
      def oversized(rec, opts, header_bytes)
        client = nil
        em_run(timeout: 5) do
          recording_server(rec, opts)
          request = ws_request(extra: [['X-Padding', 'p' * header_bytes]])
          client = connect_client(request: request, handshake: false)
          client.on_close { done_later(0.05) }
          client.on_data { done_later(0.05) if client.data.include?("\r\n\r\n") }
        end
        client
      end

      it 'drops a request head over the bound, with a HandshakeError and no onopen or onclose' do
        rec = new_rec
        client = oversized(rec, { max_handshake_size: 1024 }, 2000)
        expect(client).to be_closed
        expect(client.data).not_to start_with('HTTP/1.1 101')
        expect(rec[:opens]).to eq(0)
        expect(rec[:closes]).to eq([])
        expect(rec[:errors].map(&:class)).to eq([WS::HandshakeError])
        expect(rec[:errors].first.message).to match(/\ARequest header too large \(\d+ bytes\)\z/)
      end

      it 'bounds it at 16 KiB by default' do
        rec = new_rec
        expect(oversized(rec, {}, 15 * 1024).data).to start_with('HTTP/1.1 101')
        rec = new_rec
        expect(oversized(rec, {}, 17 * 1024).data).to eq('')
        expect(rec[:errors].map(&:class)).to eq([WS::HandshakeError])
      end
    end

    describe ':max_message_size', rs_only: 'em-websocket 0.5.1 bounds frames only' do
      it 'fails a fragmented message growing past it with 1009 and WSMessageTooBigError' do
        rec = new_rec
        client = nil
        em_run do
          recording_server(rec, max_message_size: 1000)
          client = connect_client(echo_close: false)
          client.on_open do
            # every frame is small; only the message is too large
            client.send_frame(:text, 'a' * 400, fin: false)
            client.send_frame(:continuation, 'b' * 400, fin: false)
            client.send_frame(:continuation, 'c' * 400, fin: true)
          end
          client.on_close { done_later(0.05) }
        end
        expect(client.frames.map(&:type)).to eq([:close])
        expect(client.close_frame.close_code).to eq(1009)
        expect(rec[:errors].map(&:class)).to eq([WS::WSMessageTooBigError])
        expect(rec[:errors].first.message).to eq('Message too large (1200 bytes)')
        expect(rec[:closes]).to eq([{ code: 1006, was_clean: false }])
      end

      it 'lets a fragmented message up to it through' do
        rec = new_rec
        client = nil
        em_run do
          recording_server(rec, max_message_size: 1200)
          client = connect_client
          client.on_open do
            client.send_frame(:text, 'a' * 600, fin: false)
            client.send_frame(:continuation, 'b' * 600, fin: true)
          end
          client.on_frame { done }
        end
        expect(client.frames.map(&:text)).to eq(['a' * 600 + 'b' * 600])
      end
    end

    describe ':max_connections', rs_only: 'em-websocket 0.5.1 has no connection limit' do
      it 'answers 503 beyond the limit without running the block, and accepts again once one closes' do
        rec = new_rec
        clients = []
        extra = nil
        late = nil
        em_run(timeout: 8) do
          recording_server(rec, max_connections: 3)
          3.times { clients << connect_client }
          when_true(-> { rec[:opens] == 3 }) do
            extra = connect_client(request: ws_request, handshake: false)
            extra.on_close do
              clients.first.send_close(1000)
              when_true(-> { rec[:closes].size == 1 }) do
                late = connect_client
                late.on_open { late.send_text('let in') }
                late.on_frame { done_later(0.05) }
              end
            end
          end
        end
        expect(extra.data).to start_with('HTTP/1.1 503 Service Unavailable')
        expect(extra).to be_closed
        expect(rec[:blocks]).to eq(4)
        expect(rec[:opens]).to eq(4)
        expect(late.frames.map(&:text)).to eq(['let in'])
      end
    end

    describe ':ping_interval and :ping_timeout', rs_only: 'em-websocket 0.5.1 has no keep-alive pings' do
      it 'pings an idle connection, which stays open while it answers' do
        rec = new_rec
        client = nil
        open = nil
        em_run(timeout: 6) do
          recording_server(rec, ping_interval: 0.2, ping_timeout: 0.5)
          client = connect_client
          client.on_frame { |f| client.send_pong(f.payload) if f.type == :ping }
          EM.add_timer(1.5) do
            open = client.open? # before EM.stop closes it
            done
          end
        end
        expect(client.frames_of(:ping).size).to be_between(3, 9)
        expect(open).to be(true)
        expect(rec[:errors]).to eq([])
        expect(rec[:closes]).to eq([{ code: 1006, was_clean: false }]) # by EM.stop
      end

      it 'drops a peer that answers nothing: onerror, then onclose 1006' do
        rec = new_rec
        sock = nil
        closed_after = nil
        em_run(timeout: 6) do
          started = nil
          start_server(ping_interval: 0.2, ping_timeout: 0.3) do |ws|
            ws.onopen { started = monotonic }
            ws.onerror { |e| rec[:errors] << e }
            ws.onclose do |ev|
              closed_after = monotonic - started
              rec[:closes] << ev
              done_later(0.05)
            end
          end
          # a dead peer: handshake, then never a byte, never a read
          sock = TCPSocket.new(host, port)
          sock.write(ws_request)
        end
        expect(rec[:errors].map(&:class)).to eq([WS::WSProtocolError])
        expect(rec[:errors].first.message).to eq('Ping unanswered after 0.3s, closing tcp connection')
        expect(rec[:closes]).to eq([{ code: 1006, was_clean: false }])
        expect(closed_after).to be_between(0.45, 2)
      ensure
        sock&.close
      end

      it 'counts any frame as an answer, not only pongs' do
        rec = new_rec
        client = nil
        open = nil
        em_run(timeout: 6) do
          recording_server(rec, ping_interval: 0.2, ping_timeout: 0.3)
          client = connect_client
          ticker = EM.add_periodic_timer(0.1) { client.send_text('tick') }
          EM.add_timer(1.2) do
            ticker.cancel
            open = client.open?
            done
          end
        end
        expect(open).to be(true)
        expect(rec[:errors]).to eq([])
      end
    end

    describe 'buffered_amount and ondrain', rs_only: 'em-websocket 0.5.1 has neither' do
      it 'reports what is queued for a slow reader and fires ondrain once it is written out' do
        amounts = []
        drains = []
        sock = nil
        reader = nil
        em_run(timeout: 15) do
          start_server(drain_threshold: 64 * 1024) do |ws|
            ws.onopen do
              chunk = 'd'.b * 65_536
              # 8 MiB for a client not reading yet (loopback socket buffers
              # take up to ~4 MiB of it)
              128.times { ws.send_binary(chunk) }
              amounts << ws.buffered_amount
              EM.add_timer(0.3) do
                amounts << ws.buffered_amount
                reader = Thread.new do
                  got = 0
                  deadline = monotonic + 10
                  while got < 128 * 65_540 && monotonic < deadline
                    IO.select([sock], nil, nil, 0.5) or next
                    chunk = sock.read_nonblock(1 << 20, exception: false)
                    break if chunk.nil?

                    got += chunk.bytesize unless chunk == :wait_readable
                  end
                  got
                end
              end
            end
            ws.ondrain do
              drains << ws.buffered_amount
              done_later(0.3)
            end
          end
          sock = Socket.new(:INET, :STREAM)
          sock.setsockopt(:SOCKET, :RCVBUF, 8192)
          sock.connect(Socket.sockaddr_in(port, host))
          sock.write(ws_request)
        end
        expect(amounts.size).to eq(2)
        expect(amounts).to all(be > 1024 * 1024)
        expect(drains).to eq([0])
        expect(reader.value).to be >= 128 * 65_536
      ensure
        sock&.close
      end
    end

    describe 'ondrain while the application keeps sending', rs_only: 'em-websocket 0.5.1 has no ondrain' do
      # Bursts from timers (each woken at once, so the task writes while the
      # next burst is queued) to a client reading all along: a drain the task
      # reported before the next burst must not reach the application as one.
      it 'sees an empty buffer in every ondrain, and a last ondrain after the last burst' do
        seen = []
        bursts = 0
        client = nil
        chunk = 'x'.b * 16_384
        em_run(timeout: 15) do
          start_server(drain_threshold: 16_384) do |ws|
            ws.ondrain { seen << ws.buffered_amount }
            ws.onopen do
              ticker = EM.add_periodic_timer(0.002) do
                (bursts % 7 + 1).times { ws.send_binary(chunk) }
                bursts += 1
                next unless bursts == 150

                ticker.cancel
                when_true(-> { ws.buffered_amount.zero? && !seen.empty? }) { done_later(0.2) }
              end
            end
          end
          client = connect_client
        end
        expect(bursts).to eq(150)
        expect(seen).not_to be_empty
        expect(seen.uniq).to eq([0])
        expect(client.frames.size).to eq((0...150).sum { |i| i % 7 + 1 })
      end
    end

    describe 'a flood of pings' do
      # Reads server frames from +sock+ until a pong with +last+ arrives;
      # returns [pong count, payloads other than +last+ seen, last payload].
      # (Parses in place: 100_000 frames through BlockingClient's
      # buffer-slicing decoder would take minutes.)
      def read_pongs(sock, last, deadline, buf)
        pos = 0
        count = 0
        bodies = Hash.new(0)
        loop do
          while buf.bytesize - pos >= 2
            len = buf.getbyte(pos + 1) & 0x7F
            break if len > 125 || buf.bytesize - pos < 2 + len # pongs only here

            opcode = buf.getbyte(pos) & 0x0F
            payload = buf.byteslice(pos + 2, len)
            pos += 2 + len
            next unless opcode == 0xA
            return [count + 1, bodies] if payload == last

            count += 1
            bodies[payload] += 1
          end
          raise "no pong #{last.inspect} by the deadline (#{count} pongs)" if monotonic > deadline

          IO.select([sock], nil, nil, 0.5) or next
          chunk = sock.read_nonblock(1 << 20, exception: false)
          raise EOFError, 'server closed the connection' if chunk.nil?
          next if chunk == :wait_readable

          buf = buf.byteslice(pos..) << chunk
          pos = 0
        end
      end

      it 'is answered (the last ping last), in bounded memory, while others are served' do
        pings = 100_000
        body = 'p' * 120
        flood = (Frames.encode(:ping, body) * 1000).b
        rec = new_rec
        result = nil
        rss_before = rss_kb
        rss_peak = rss_before
        latencies = []
        ticks = 0
        em_run(timeout: 45) do
          recording_server(rec)
          EM.add_periodic_timer(0.1) { rss_peak = [rss_peak, rss_kb].max }
          # a well-behaved client, one message every 100 ms during the flood
          good = connect_client
          sent_at = {}
          good.on_frame { |f| latencies << monotonic - sent_at.fetch(f.text) }
          ticker = EM.add_periodic_timer(0.1) do
            next unless good.open?

            sent_at["tick #{ticks}"] = monotonic
            good.send_text("tick #{ticks}")
            ticks += 1
          end
          thread, holder = in_thread(stop_reactor: false) do
            sock = TCPSocket.new(host, port)
            sock.write(ws_request)
            # the whole flood without reading a byte, from another thread
            writer = Thread.new do
              (pings / 1000).times { sock.write(flood) }
              sock.write(Frames.encode(:ping, 'last'))
            end
            sleep 0.5 # the server meets a peer that does not read
            head = +''.b
            head << sock.readpartial(65_536) until head.include?("\r\n\r\n")
            rest = head.byteslice((head.index("\r\n\r\n") + 4)..)
            pongs = read_pongs(sock, 'last', monotonic + 35, rest)
            writer.join(5) or raise 'the flood writer is still blocked'
            sock.close
            pongs
          end
          when_true(-> { !thread.alive? }, timeout: 42) do
            ticker.cancel
            result = join_thread!(thread, holder)
            done_later(0.3)
          end
        end
        count, bodies = result
        expect(count).to be_between(1, pings + 1)
        expect(bodies.keys).to eq(count > 1 ? [body] : [])
        expect(ticks).to be > 3
        expect(latencies.size).to eq(ticks)
        expect(latencies.max).to be < 2
        expect(rec[:errors]).to eq([])
        # 12 MiB of pings and as much in pongs: far less is ever held
        expect(rss_peak - rss_before).to be < 64 * 1024
      end
    end
  end
end
