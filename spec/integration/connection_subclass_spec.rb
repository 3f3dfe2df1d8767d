require 'spec_helper'
require 'socket'
require 'tmpdir'

module EMWSSpec
  # Applications that subclass EM::WebSocket::Connection and override
  # EventMachine's life cycle: receive_data, dispatch, unbind, initialize,
  # post_init. Each example starts the class with EM.start_server, as such
  # applications do, and runs against both gems.
  RSpec.describe 'EM::WebSocket::Connection subclasses' do
    # Every call of the overridden methods, in order.
    let(:calls) { [] }

    # EM.start_server with +klass+ (its instances record into calls);
    # the block runs for each connection as in EM.
    def serve(klass, options = {}, &blk)
      recorder = calls
      klass.define_method(:calls) { recorder }
      EM.start_server(host, port, klass, options, &blk)
    end

    def upgrade_request(path = '/')
      Handshake.rfc6455_request(host: "#{host}:#{port}", path: path)
    end

    # A TCP connection to the server, which the reactor may still be
    # starting (the clients run in a thread begun before it); closed after
    # the block, if one is given.
    def connect_tcp
      deadline = monotonic + 3
      begin
        socket = TCPSocket.new(host, port)
      rescue Errno::ECONNREFUSED
        raise if monotonic > deadline

        sleep 0.01
        retry
      end
      return socket unless block_given?

      begin
        yield socket
      ensure
        socket.close
      end
    end

    # Reads from +socket+ until +bytes+ have come or the deadline passes.
    def read_exactly(socket, bytes, timeout: 4)
      buf = +''.b
      deadline = monotonic + timeout
      while buf.bytesize < bytes
        left = deadline - monotonic
        break if left <= 0 || !IO.select([socket], nil, nil, left)

        chunk = socket.read_nonblock(65_536, exception: false)
        break if chunk.nil?

        buf << chunk unless chunk == :wait_readable
      end
      buf
    end

    # Reads from +socket+ until the server closes it (bounded).
    def read_all(socket, timeout: 4)
      buf = +''.b
      deadline = monotonic + timeout
      loop do
        left = deadline - monotonic
        raise 'the server did not close the connection' if left <= 0
        next unless IO.select([socket], nil, nil, left)

        chunk = socket.read_nonblock(65_536, exception: false)
        break if chunk.nil?

        buf << chunk unless chunk == :wait_readable
      end
      buf
    rescue Errno::ECONNRESET
      buf
    end

    # A raw socket that has completed an RFC 6455 handshake.
    def upgraded_socket(path = '/')
      socket = connect_tcp
      socket.write(upgrade_request(path))
      response = read_exactly(socket, 1)
      response << read_exactly(socket, 1) until response.include?("\r\n\r\n")
      [socket, response]
    end

    def echo_frame(socket, text)
      socket.write(Frames.encode(:text, text))
      Frames.decode(read_exactly(socket, text.bytesize + 2))&.first&.text
    end

    describe 'dispatch overridden to answer plain HTTP on the WebSocket port' do
      let(:http_aware) do
        Class.new(EM::WebSocket::Connection) do
          def dispatch(data)
            calls << [:dispatch, data]
            return super if data =~ /^Upgrade:/i

            send_data "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
            close_connection_after_writing
          end

          def unbind
            calls << :unbind
            super
          end
        end
      end

      def callbacks_into(ws, events)
        ws.onopen { |hs| events << [:onopen, hs.path] }
        ws.onmessage { |msg| events << [:onmessage, msg]; ws.send(msg) }
        ws.onclose { |ev| events << [:onclose, ev[:code]] }
        ws.onerror { |e| events << [:onerror, e.class, e.message]; raise e }
      end

      it 'answers what the override writes, and the application hears nothing of it' do
        events = []
        thread, holder = in_thread do
          connect_tcp do |s|
            s.write("GET /livereload.js HTTP/1.1\r\nHost: x\r\n\r\n")
            read_all(s)
          end
        end
        em_run do
          serve(http_aware) { |ws| callbacks_into(ws, events) }
        end
        reply = join_thread!(thread, holder)
        expect(reply).to eq("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi".b)
        expect(events).to eq([])
        expect(calls).to eq([[:dispatch, "GET /livereload.js HTTP/1.1\r\nHost: x\r\n\r\n"], :unbind])
      end

      it 'carries an upgrade on with super: handshake, messages, close' do
        events = []
        thread, holder = in_thread do
          socket, response = upgraded_socket('/ws')
          echoed = echo_frame(socket, 'over super')
          socket.write(Frames.encode(:close, Frames.close_payload(1000, '')))
          read_all(socket)
          socket.close
          [response, echoed]
        end
        em_run do
          serve(http_aware) { |ws| callbacks_into(ws, events) }
        end
        response, echoed = join_thread!(thread, holder)
        expect(response).to start_with('HTTP/1.1 101')
        expect(echoed).to eq('over super')
        expect(events).to eq([[:onopen, '/ws'], [:onmessage, 'over super'], [:onclose, 1000]])
        expect(calls.first).to eq([:dispatch, upgrade_request('/ws')])
        expect(calls.size).to eq(2)
        expect(calls.last).to eq(:unbind)
      end

      it 'serves both kinds of client side by side' do
        events = []
        thread, holder = in_thread do
          socket, = upgraded_socket
          replies = 3.times.map do
            connect_tcp { |s| s.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"); read_all(s) }
          end
          echoed = echo_frame(socket, 'still here')
          socket.close
          [replies.uniq.size, echoed]
        end
        em_run do
          serve(http_aware) { |ws| callbacks_into(ws, events) }
        end
        expect(join_thread!(thread, holder)).to eq([1, 'still here'])
        expect(events.map(&:first) - [:onclose]).to eq(%i[onopen onmessage])
      end
      it 'works the same over TLS (:secure)' do
        require 'openssl'
        Dir.mktmpdir('emws-tls') do |dir|
          tls = self_signed_cert(dir)
          tls_socket = lambda do
            context = OpenSSL::SSL::SSLContext.new
            context.verify_mode = OpenSSL::SSL::VERIFY_NONE
            ssl = OpenSSL::SSL::SSLSocket.new(connect_tcp, context)
            ssl.sync_close = true
            ssl.connect
            ssl
          end
          read_ssl = lambda do |ssl, until_bytes|
            buf = +''.b
            buf << ssl.readpartial(65_536) while buf.bytesize < until_bytes
            buf
          rescue EOFError, OpenSSL::SSL::SSLError # EventMachine ends TLS without close_notify
            buf
          end
          events = []
          thread, holder = in_thread do
            https = tls_socket.call
            https.write("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = read_ssl.call(https, 1 << 20)
            https.close
            wss = tls_socket.call
            wss.write(upgrade_request)
            response = read_ssl.call(wss, 1)
            response << read_ssl.call(wss, 1) until response.include?("\r\n\r\n")
            wss.write(Frames.encode(:text, 'secure'))
            echoed = Frames.decode(read_ssl.call(wss, 8))&.first&.text
            wss.close
            [reply.split("\r\n\r\n", 2).last, response[/\A[^\r]*/], echoed]
          end
          em_run do
            serve(http_aware, secure: true, tls_options: tls) { |ws| callbacks_into(ws, events) }
          end
          expect(join_thread!(thread, holder)).to eq(['hi', 'HTTP/1.1 101 Switching Protocols', 'secure'])
          expect(events.map(&:first) - [:onclose]).to eq(%i[onopen onmessage])
        end
      end
    end

    describe 'receive_data overridden' do
      let(:byte_counter) do
        Class.new(EM::WebSocket::Connection) do
          def receive_data(data)
            calls << [:receive_data, data, data.encoding]
            super
          end

          def dispatch(data)
            calls << [:dispatch, data]
            super
          end
        end
      end

      it 'sees each read as it arrives: the handshake through dispatch, then frames' do
        messages = []
        frame1 = Frames.encode(:text, 'one')
        frames23 = Frames.encode(:text, 'two') + Frames.encode(:text, 'three')
        thread, holder = in_thread do
          socket, = upgraded_socket
          socket.write(frame1)
          first = read_exactly(socket, 5)
          socket.write(frames23)
          rest = read_exactly(socket, 12)
          socket.close
          Frames.decode_all(first + rest).first.map(&:text)
        end
        em_run do
          serve(byte_counter) do |ws|
            ws.onopen { calls << :onopen }
            ws.onmessage { |msg| messages << msg; calls << [:onmessage, msg]; ws.send(msg) }
          end
        end
        expect(join_thread!(thread, holder)).to eq(%w[one two three])
        expect(messages).to eq(%w[one two three])
        binary = Encoding::BINARY
        expect(calls).to eq([
                              [:receive_data, upgrade_request, binary],
                              [:dispatch, upgrade_request],
                              :onopen,
                              [:receive_data, frame1, binary],
                              [:onmessage, 'one'],
                              [:receive_data, frames23, binary],
                              [:onmessage, 'two'],
                              [:onmessage, 'three']
                            ])
      end

      it 'filters: bytes the override keeps back never reach the protocol' do
        filter = Class.new(EM::WebSocket::Connection) do
          # Drops any read that holds the frame "drop me".
          def receive_data(data)
            return if data.end_with?('drop me')

            super
          end
        end
        messages = []
        thread, holder = in_thread do
          socket, = upgraded_socket
          socket.write(Frames.encode(:text, 'drop me', mask: false))
          sleep 0.1
          echoed = echo_frame(socket, 'keep me')
          socket.close
          echoed
        end
        em_run do
          serve(filter) { |ws| ws.onmessage { |msg| messages << msg; ws.send(msg) } }
        end
        expect(join_thread!(thread, holder)).to eq('keep me')
        expect(messages).to eq(['keep me'])
      end

      it 'is honoured on one connection only: a singleton method or an extended module' do
        logger = Module.new do
          def receive_data(data)
            (@bytes ||= []) << data.bytesize
            super
          end
        end
        seen = {}
        thread, holder = in_thread do
          2.times.map do
            socket, = upgraded_socket
            echoed = echo_frame(socket, 'hi')
            socket.close
            echoed
          end
        end
        em_run do
          count = 0
          start_server do |ws|
            count += 1
            ws.extend(logger) if count == 1
            if count == 2
              def ws.dispatch(data)
                (@dispatched ||= []) << data.bytesize
                super
              end
            end
            ws.onmessage { |msg| ws.send(msg) }
            ws.onclose { seen[ws.object_id] = [ws.instance_variable_get(:@bytes), ws.instance_variable_get(:@dispatched)] }
          end
        end
        expect(join_thread!(thread, holder)).to eq(%w[hi hi])
        expect(seen.values).to contain_exactly([[upgrade_request.bytesize, 8], nil], [nil, [upgrade_request.bytesize]])
      end

      it 'is honoured through a module prepended to the class' do
        klass = Class.new(EM::WebSocket::Connection)
        klass.prepend(Module.new do
          def receive_data(data)
            calls << data.bytesize
            super
          end
        end)
        thread, holder = in_thread do
          socket, = upgraded_socket
          echoed = echo_frame(socket, 'prepended')
          socket.close
          echoed
        end
        em_run { serve(klass) { |ws| ws.onmessage { |msg| ws.send(msg) } } }
        expect(join_thread!(thread, holder)).to eq('prepended')
        expect(calls).to eq([upgrade_request.bytesize, 15])
      end

      it 'an application error in onmessage closes with 3000 and goes to onerror, as without the override' do
        errors = []
        thread, holder = in_thread do
          socket, = upgraded_socket
          socket.write(Frames.encode(:text, 'boom'))
          frame = Frames.decode(read_exactly(socket, 4 + 'Application error'.bytesize))&.first
          socket.close
          frame && [frame.type, frame.close_code]
        end
        em_run do
          serve(byte_counter) do |ws|
            ws.onmessage { |_| raise ArgumentError, 'boom' }
            ws.onerror { |e| errors << [e.class, e.message] }
          end
        end
        expect(join_thread!(thread, holder)).to eq([:close, 3000])
        expect(errors).to eq([[ArgumentError, 'boom']])
      end
    end

    describe 'the life cycle' do
      let(:life_cycle) do
        Class.new(EM::WebSocket::Connection) do
          def initialize(options)
            calls << [:initialize, options[:tag]]
            super
          end

          def post_init
            calls << :post_init
            super
          end

          def unbind
            calls << [:unbind, state]
            super
          end
        end
      end

      it 'calls initialize(options) and post_init before the block, unbind before onclose' do
        thread, holder = in_thread do
          socket, = upgraded_socket
          socket.write(Frames.encode(:close, Frames.close_payload(1000, 'bye')))
          read_all(socket)
          socket.close
        end
        em_run do
          serve(life_cycle, tag: 'mine') do |ws|
            calls << :block
            ws.onopen { calls << :onopen }
            ws.onclose { |ev| calls << [:onclose, ev] }
          end
        end
        join_thread!(thread, holder)
        expect(calls).to eq([[:initialize, 'mine'], :post_init, :block, :onopen, [:unbind, :connected],
                             [:onclose, { code: 1000, reason: 'bye', was_clean: true }]])
      end

      it 'delivers no onclose when the unbind override does not call super' do
        silent = Class.new(EM::WebSocket::Connection) do
          def unbind
            calls << :unbind
          end
        end
        thread, holder = in_thread do
          socket, = upgraded_socket
          socket.close
        end
        em_run do
          serve(silent) do |ws|
            ws.onclose { calls << :onclose }
            ws.onopen { EM.add_timer(0.3) { done } }
          end
        end
        join_thread!(thread, holder)
        expect(calls).to eq([:unbind])
      end

      it 'calls unbind once for a connection that never upgraded' do
        thread, holder = in_thread do
          connect_tcp { |s| s.write("GET / HTTP/1.1\r\n") }
          sleep 0.3
        end
        em_run { serve(life_cycle) { |ws| ws.onclose { calls << :onclose } } }
        join_thread!(thread, holder)
        expect(calls).to eq([[:initialize, nil], :post_init, [:unbind, :handshake]])
      end

      it 'sets @handler to the negotiated draft\'s handler class' do
        handlers = []
        thread, holder = in_thread do
          [Handshake.rfc6455_request(host: "#{host}:#{port}"),
           Handshake.rfc6455_request(host: "#{host}:#{port}", version: 8)].each do |request|
            connect_tcp do |s|
              s.write(request)
              read_exactly(s, 12)
            end
          end
          sleep 0.1
        end
        em_run do
          start_server do |ws|
            handlers << ws.instance_variable_get(:@handler)
            ws.onopen { handlers << ws.instance_variable_get(:@handler).class }
          end
        end
        join_thread!(thread, holder)
        expect(handlers).to eq([nil, EM::WebSocket::Handler13, nil, EM::WebSocket::Handler08])
      end
    end

    describe 'EventMachine::Connection methods' do
      it 'get_sockname answers the local address' do
        sockname = nil
        thread, holder = in_thread do
          socket, = upgraded_socket
          sleep 0.1
          socket.close
        end
        em_run { start_server { |ws| ws.onopen { sockname = Socket.unpack_sockaddr_in(ws.get_sockname) } } }
        join_thread!(thread, holder)
        expect(sockname).to eq([port, '127.0.0.1'])
      end

      it 'EM.connection_count counts the server and its connections' do
        counts = []
        thread, holder = in_thread do
          sleep 0.2
          sockets = 2.times.map { upgraded_socket.first }
          sleep 0.1
          sockets.each do |socket|
            socket.close
            sleep 0.2
          end
        end
        em_run do
          opened = 0
          start_server do |ws|
            ws.onopen do
              opened += 1
              counts << EM.connection_count if opened == 2
            end
            ws.onclose { EM.next_tick { counts << EM.connection_count } }
          end
          EM.next_tick { counts << EM.connection_count }
        end
        join_thread!(thread, holder)
        expect(counts).to eq([1, 3, 2, 1])
      end

      it 'pause holds the connection\'s messages until resume' do
        events = []
        thread, holder = in_thread do
          socket, = upgraded_socket
          socket.write(Frames.encode(:text, 'while paused'))
          echoed = Frames.decode(read_exactly(socket, 14))&.first&.text
          socket.close
          echoed
        end
        em_run do
          start_server do |ws|
            ws.onopen do
              events << [:paused, ws.pause, ws.paused?]
              EM.add_timer(0.3) do
                events << :resume
                events << [:resumed, ws.resume, ws.paused?]
              end
            end
            ws.onmessage { |msg| events << [:message, msg]; ws.send(msg) }
          end
        end
        expect(join_thread!(thread, holder)).to eq('while paused')
        expect(events).to eq([[:paused, true, true], :resume, [:resumed, true, false], [:message, 'while paused']])
      end

      it 'raises NotImplementedError naming an EventMachine method it cannot serve',
         rs_only: 'em-websocket connections are EventMachine\'s own' do
        errors = []
        thread, holder = in_thread do
          socket, = upgraded_socket
          sleep 0.1
          socket.close
        end
        em_run do
          start_server do |ws|
            ws.onopen do
              %i[get_peer_cert get_idle_time detach].each do |name|
                ws.public_send(name)
              rescue NotImplementedError => e
                errors << e.message[/#(\w+)/, 1]
              end
              begin
                ws.start_tls
              rescue NotImplementedError => e
                errors << e.message[/#(\w+)/, 1]
              end
            end
          end
        end
        join_thread!(thread, holder)
        expect(errors).to eq(%w[get_peer_cert get_idle_time detach start_tls])
      end
    end

    describe 'files' do
      around do |example|
        Dir.mktmpdir('emws-files') do |dir|
          @dir = dir
          example.run
        end
      end

      def file_of(bytes)
        path = File.join(@dir, "file-#{bytes}")
        File.binwrite(path, Random.new(bytes).bytes(bytes))
        path
      end

      # A server answering every plain request by streaming +path+ (after a
      # response head), closing when the stream's deferrable succeeds.
      def file_server(path, options = {}, stream_options = {}, &on_stream)
        streamer = Class.new(EM::WebSocket::Connection) do
          define_method(:dispatch) do |_data|
            unless stream_options[:http_chunks] || !File.exist?(path)
              send_data "HTTP/1.1 200 OK\r\nContent-Length: #{File.size(path)}\r\n\r\n"
            end
            deferrable = stream_file_data(path, stream_options)
            on_stream&.call(self, deferrable)
            deferrable.callback { calls << :streamed; close_connection_after_writing }
            deferrable.errback { |e| calls << [:failed, e]; close_connection_after_writing }
          end
        end
        serve(streamer, options)
      end

      def fetch
        connect_tcp do |s|
          s.write("GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
          read_all(s, timeout: 10)
        end
      end

      it 'stream_file_data streams a 1 MiB file whole and then succeeds' do
        path = file_of(1 << 20)
        thread, holder = in_thread { fetch }
        em_run(timeout: 10) { file_server(path) }
        reply = join_thread!(thread, holder, timeout: 10)
        expect(reply.split("\r\n\r\n", 2)[1] == File.binread(path)).to be(true)
        expect(calls).to eq([:streamed])
      end

      it 'stream_file_data keeps the outbound buffer bounded for a reader that waits' do
        # More than the kernel's socket buffers take, so that the rest waits.
        path = file_of(8 << 20)
        peak = 0
        thread, holder = in_thread do
          connect_tcp do |s|
            s.write("GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
            sleep 0.5
            read_all(s, timeout: 10)
          end
        end
        em_run(timeout: 10) do
          file_server(path) do |ws, _|
            timer = EM.add_periodic_timer(0.01) { peak = [peak, ws.get_outbound_data_size].max }
            ws.define_singleton_method(:unbind) { timer.cancel; super() }
          end
        end
        reply = join_thread!(thread, holder, timeout: 10)
        expect(reply.bytesize).to be > (8 << 20)
        expect(peak).to be > 0
        expect(peak).to be <= 128 * 1024
      end

      it 'stream_file_data sends HTTP chunks with :http_chunks' do
        path = file_of(40_000)
        thread, holder = in_thread { fetch }
        em_run { file_server(path, {}, http_chunks: true) }
        body = join_thread!(thread, holder)
        decoded = +''.b
        until body.empty?
          size, body = body.split("\r\n", 2)
          size = size.to_i(16)
          decoded << body.byteslice(0, size)
          body = body.byteslice(size + 2..)
        end
        expect(decoded == File.binread(path)).to be(true)
      end

      it 'stream_file_data fails with "file not found" for a missing file' do
        thread, holder = in_thread { fetch }
        em_run { file_server(File.join(@dir, 'missing')) }
        join_thread!(thread, holder)
        expect(calls).to eq([[:failed, 'file not found']])
      end

      it 'stream_file_data stays under :outbound_limit instead of aborting',
         rs_only: 'em-websocket aborts the connection when a streamed chunk passes the limit' do
        path = file_of(200_000)
        thread, holder = in_thread { fetch }
        em_run(timeout: 10) { file_server(path, outbound_limit: 20_000) }
        reply = join_thread!(thread, holder, timeout: 10)
        expect(reply.split("\r\n\r\n", 2)[1] == File.binread(path)).to be(true)
        expect(calls).to eq([:streamed])
      end

      it 'send_file_data sends a small file; a large one raises' do
        small = file_of(3000)
        large = file_of(40_000)
        errors = []
        thread, holder = in_thread do
          connect_tcp { |s| s.write("GET / HTTP/1.1\r\n\r\n"); read_all(s) }
        end
        em_run do
          sender = Class.new(EM::WebSocket::Connection) do
            define_method(:dispatch) do |_|
              send_file_data(small)
              begin
                send_file_data(large)
              rescue RuntimeError => e
                errors << e.message
              end
              close_connection_after_writing
            end
          end
          serve(sender)
        end
        expect(join_thread!(thread, holder) == File.binread(small)).to be(true)
        expect(errors).to eq(['File too large.  send_file_data() supports files under 32k.'])
      end
    end
  end
end
