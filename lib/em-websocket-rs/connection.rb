# frozen_string_literal: true

module EventMachine
  module WebSocket
    # One WebSocket connection, as em-websocket's `EM::WebSocket::Connection`.
    #
    # The socket, the handshake and the framing live in Rust; this object keeps
    # the application's callbacks and forwards what the application sends to its
    # native handle. It is an `EventMachine::Connection` so that code checking
    # for one keeps working, but EventMachine itself never sees its socket: every
    # method that would reach EventMachine with the signature is answered here.
    class Connection < EventMachine::Connection
      include Debugger

      UTF8 = Encoding::UTF_8
      BINARY_ENCODING = Encoding::BINARY

      # EventMachine's `send_file_data` sends files of up to 32 KiB.
      SEND_FILE_LIMIT = 32 * 1024

      ERROR_CLASSES = {
        handshake: HandshakeError,
        protocol: WSProtocolError,
        invalid_data: InvalidDataError,
        message_too_big: WSMessageTooBigError
      }.freeze

      # Creates the object for a connection the native server accepted.
      def self.accept(native, options)
        # Read by the native dispatch, checked on each accept so that a later
        # override counts (one on a single object is checked by
        # `_rs_reads_bytes?` and by the dispatch). When this class keeps the
        # library's own trigger_on_message/trigger_on_binary, the dispatch
        # may call the onmessage and onbinary blocks itself; when it
        # overrides receive_data or dispatch, the connection's bytes go to
        # them as they arrive, as in em-websocket.
        @_rs_plain_triggers = library_methods?(TRIGGERS)
        @_rs_byte_hooks = !library_methods?(BYTE_HOOKS)
        connection = allocate
        connection.instance_variable_set(:@native, native)
        connection.instance_variable_set(:@signature, native.id)
        connection.__send__(:initialize, options)
        connection.post_init
        connection
      end

      def onopen(&blk);     @onopen = blk;    end
      def onclose(&blk);    @onclose = blk;   end
      def onerror(&blk);    @onerror = blk;   end
      def onmessage(&blk);  @onmessage = blk; end
      def onbinary(&blk);   @onbinary = blk;  end
      def onping(&blk);     @onping = blk;    end
      def onpong(&blk);     @onpong = blk;    end
      # em-websocket-rs: the outbound buffer has been written out after
      # growing past `:drain_threshold` (for backpressure without polling).
      def ondrain(&blk);    @ondrain = blk;   end

      def trigger_on_message(msg)
        @onmessage.call(msg) if defined? @onmessage
      end

      def trigger_on_binary(msg)
        @onbinary.call(msg) if defined? @onbinary
      end

      def trigger_on_open(handshake)
        @onopen.call(handshake) if defined? @onopen
      end

      def trigger_on_close(event = {})
        @onclose.call(event) if defined? @onclose
      end

      def trigger_on_ping(data)
        @onping.call(data) if defined? @onping
      end

      def trigger_on_pong(data)
        @onpong.call(data) if defined? @onpong
      end

      def trigger_on_drain
        @ondrain.call if defined? @ondrain
      end

      def trigger_on_error(reason)
        return false unless defined? @onerror

        @onerror.call(reason)
        true
      end

      def initialize(options)
        super()
        @options = options
        @debug = options[:debug] || false
        # TLS and the outbound limit are the native server's: an idle
        # connection keeps only what its methods read.
        @state = :handshake
        # em-websocket's per-draft handler, set once the handshake completes.
        @handler = nil

        debug [:initialize]
      end

      # TLS is terminated in Rust before any byte reaches the protocol.
      def post_init; end

      # em-websocket's entry for the connection's bytes, called with each
      # read as it arrives when the connection's class (or the object)
      # overrides it or `dispatch`: the bytes go to the handler once the
      # handshake is done, else to `dispatch`. Without such an override the
      # native side reads them itself and this is never called.
      def receive_data(data)
        debug [:receive_data, data]

        if @handler
          @handler.receive_data(data)
        else
          dispatch(data)
        end
      rescue => e
        debug [:error, e]
        close_websocket_private(3000, "Application error")
        trigger_on_error(e) || raise(e)
      end

      # The bytes before the handshake has completed: `GET /healthcheck`,
      # the Flash policy file request, or the handshake, all answered by the
      # native side. An override answering some requests itself (plain HTTP
      # on the WebSocket port) calls `super` for the others.
      def dispatch(data)
        @native.receive(data.to_s)
      end

      # Methods the native side may stand in for while they are the library's
      # own, with where the library defines them.
      LIBRARY_METHODS = %i[trigger_on_message trigger_on_binary receive_data dispatch].to_h do |name|
        [name, instance_method(name).source_location]
      end.freeze
      TRIGGERS = %i[trigger_on_message trigger_on_binary].freeze
      BYTE_HOOKS = %i[receive_data dispatch].freeze

      # Whether this class keeps the library's own `names`.
      def self.library_methods?(names)
        names.all? { |name| library_method?(instance_method(name)) }
      end

      def self.library_method?(method)
        method.owner == Connection && method.source_location == LIBRARY_METHODS[method.name]
      end

      # For a connection with methods of its own (a singleton method, an
      # extended module): whether its bytes go to receive_data/dispatch.
      def _rs_reads_bytes?
        BYTE_HOOKS.any? { |name| !Connection.library_method?(method(name)) }
      end

      # The connection's state: :handshake, :connected, :closing or :closed.
      attr_reader :state

      # Closes the WebSocket cleanly: sends a close frame and waits (up to
      # `close_timeout`) for the client to acknowledge it.
      def close(code = nil, body = nil)
        if code && !acceptable_close_code?(code)
          raise "Application code may only use codes from 1000, 3000-4999"
        end

        close_websocket_private(code, body)
      end

      # Deprecated in em-websocket, kept for the applications that still call it.
      alias close_websocket close

      # Sends a text frame. Raises WebSocketError for data that is not valid
      # UTF-8 (ASCII-only data in any encoding is accepted), before the
      # handshake has completed, or while the connection is closing.
      def send_text(data)
        # The common case in one native call, which checks the encoding too;
        # anything it refuses goes through the checks below, which raise.
        return nil if @state == :connected && !@debug && @native.send_text(data) != :not_text

        unless (data.encoding == UTF8 && data.valid_encoding?) || data.ascii_only?
          raise WebSocketError, "Data sent to WebSocket must be valid UTF-8 but was #{data.encoding} (valid: #{data.valid_encoding?})"
        end
        raise WebSocketError, "Cannot send data before onopen callback" unless @handler

        send_frame(:text, data)
        nil
      end

      alias send send_text

      def send_binary(data)
        if @state == :connected && @pingable && !@debug && data.is_a?(String)
          return @native.send_frame(:binary, data) == :limit_reached ? 0 : data.bytesize
        end
        raise WebSocketError, "Cannot send binary before onopen callback" unless @handler
        # em-websocket fails here with a NoMethodError; say why instead.
        raise WebSocketError, "Binary frames are not supported by draft #{@handler.is_a?(Handler75) ? 75 : 76}" unless @pingable

        send_frame(:binary, data)
      end

      # Sends a ping; false on drafts without ping (before draft 01).
      def ping(body = '')
        raise WebSocketError, "Cannot ping before onopen callback" unless @handler
        return false unless @pingable

        send_frame(:ping, body)
        true
      end

      # Sends an unsolicited pong; pongs answering pings are sent automatically.
      def pong(body = '')
        raise WebSocketError, "Cannot ping before onopen callback" unless @handler
        return false unless @pingable

        send_frame(:pong, body)
        true
      end

      def pingable?
        raise WebSocketError, "Cannot test whether pingable before onopen callback" unless @handler

        @pingable
      end

      def supports_close_codes?
        raise WebSocketError, "Cannot test before onopen callback" unless @handler

        @handler.supports_close_codes?
      end

      def max_frame_size
        defined?(@max_frame_size) ? @max_frame_size : WebSocket.max_frame_size
      end

      def max_frame_size=(size)
        raise ArgumentError, "max_frame_size must be a positive Integer, got #{size.inspect}" unless size.is_a?(Integer) && size.positive?

        @max_frame_size = size
        @native.max_frame_size = size
      end

      def close_timeout
        @options[:close_timeout] || WebSocket.close_timeout
      end

      # The peer's IP address as a String (IPv4 or IPv6).
      def remote_ip
        @native.peer_ip
      end

      # --- EventMachine::Connection, answered without EventMachine ---

      # Writes bytes as they are, without framing. With `:outbound_limit`, a
      # write that would take the buffer past the limit aborts the connection
      # and returns 0, as em-websocket does.
      def send_data(data)
        data = data.to_s
        if @native.send_raw(data) == :limit_reached
          debug [:abort, :outbound_limit_reached]
          return 0
        end
        data.bytesize
      end

      def close_connection(after_writing = false)
        @native.disconnect(after_writing ? true : false)
        nil
      end

      def close_connection_after_writing
        close_connection(true)
      end

      def get_outbound_data_size
        @native.outbound_bytes
      end

      # Bytes sent and not yet written to the socket (the browser API's name).
      alias buffered_amount get_outbound_data_size

      def get_peername
        Socket.pack_sockaddr_in(@native.peer_port, @native.peer_ip)
      end

      # The local address, packed as EventMachine packs it; nil once the
      # connection has ended.
      def get_sockname
        ip, port = @native.local_address
        Socket.pack_sockaddr_in(port, ip) if ip
      end

      def comm_inactivity_timeout
        defined?(@comm_inactivity_timeout) ? @comm_inactivity_timeout : 0.0
      end

      def comm_inactivity_timeout=(seconds)
        @comm_inactivity_timeout = Float(seconds)
        @native.inactivity_timeout = @comm_inactivity_timeout
      end
      alias set_comm_inactivity_timeout comm_inactivity_timeout=

      def error?
        false
      end

      # Streams a file to the peer as it is (no framing) without reading it
      # whole; returns a Deferrable that succeeds once all of it is queued,
      # or fails with "file not found". `:http_chunks` sends it in HTTP/1.1
      # chunked encoding.
      def stream_file_data(filename, args = {})
        EmWebSocketRs::FileStreamer.new(self, filename, args)
      end

      # Sends a small file (up to 32 KiB, EventMachine's limit) as it is.
      def send_file_data(filename)
        raise "File too large.  send_file_data() supports files under 32k." if File.size(filename) > SEND_FILE_LIMIT

        send_data(File.binread(filename))
      rescue SystemCallError => e
        raise IOError, ": #{filename} #{SystemCallError.new(nil, e.errno).message}"
      end

      # Stops reading from and writing to the socket until `resume`; true if
      # the connection was not paused already.
      def pause
        return false if paused?

        @paused = true
        @native.paused = true
        true
      end

      def resume
        return false unless paused?

        @paused = false
        @native.paused = false
        true
      end

      def paused?
        defined?(@paused) ? @paused : false
      end

      # Not watched descriptors: the server owns the socket.
      def notify_readable?; false; end
      def notify_writable?; false; end
      def watch_only?; false; end

      # On a `:secure` server the connection is TLS from its first byte, as
      # em-websocket's `post_init` makes it; a plain one cannot switch.
      def start_tls(_options = {})
        return if @options[:secure]

        raise NotImplementedError, "#{self.class}#start_tls is not supported by em-websocket-rs: " \
                                   "serve wss:// with the server's :secure and :tls_options"
      end

      # EventMachine::Connection methods with no meaning for a connection
      # whose socket EventMachine does not own; each raises saying so.
      UNSUPPORTED = {
        associate_callback_target: 'EventMachine does not own the socket',
        detach: 'EventMachine does not own the socket',
        'notify_readable=': 'EventMachine does not own the socket',
        'notify_writable=': 'EventMachine does not own the socket',
        get_sock_opt: "socket options are the server's",
        set_sock_opt: "socket options are the server's",
        enable_keepalive: "socket options are the server's (use :ping_interval)",
        disable_keepalive: "socket options are the server's",
        get_idle_time: 'use comm_inactivity_timeout or :ping_interval',
        get_peer_cert: 'client certificates are checked by the server (:verify_peer with :ca_file)',
        get_cipher_bits: 'TLS is terminated by the server',
        get_cipher_name: 'TLS is terminated by the server',
        get_cipher_protocol: 'TLS is terminated by the server',
        get_sni_hostname: 'TLS is terminated by the server',
        proxy_incoming_to: 'proxying is not implemented',
        stop_proxying: 'proxying is not implemented',
        get_proxied_bytes: 'proxying is not implemented',
        send_datagram: 'a WebSocket connection is TCP',
        reconnect: 'a server connection cannot reconnect',
        get_pid: 'not a process connection',
        get_status: 'not a process connection',
        pending_connect_timeout: 'a server connection is already connected',
        'pending_connect_timeout=': 'a server connection is already connected',
        set_pending_connect_timeout: 'a server connection is already connected'
      }.freeze

      UNSUPPORTED.each do |name, why|
        define_method(name) do |*|
          raise NotImplementedError, "#{self.class}##{name} is not supported by em-websocket-rs: #{why}"
        end
      end

      # The native handle, for EmWebSocketRs::Channel.
      def _rs_native
        @native
      end

      # --- Events from the native side, called on the reactor thread ---

      def _rs_open(path, query_string, header_pairs, version, secure, protocol)
        # Not kept: em-websocket lets the handshake go after onopen too, and an
        # idle connection should not hold its request headers.
        handshake = Handshake.completed(path, query_string, header_pairs, version, secure, protocol)
        @handler = Handler.klass_factory(version).new(self, @debug)
        @pingable = @handler.pingable?
        @state = :connected
        debug [:accepting_ws_version, version]
        application { trigger_on_open(handshake) }
      end

      def _rs_message(message)
        debug [:message_received, :text, message] if @debug
        application { trigger_on_message(message) }
      end

      def _rs_binary(message)
        debug [:message_received, :binary, message] if @debug
        application { trigger_on_binary(message) }
      end

      def _rs_ping(data)
        application { trigger_on_ping(data) }
      end

      def _rs_pong(data)
        application { trigger_on_pong(data) }
      end

      def _rs_drain
        @_rs_streams&.dup&.each(&:stream)
        application { trigger_on_drain }
      end

      def _rs_error(kind, message)
        error = ERROR_CLASSES.fetch(kind).new(message)
        debug [:error, error]
        # Failing the connection sends a close frame: em-websocket is closing then.
        @state = :closing if @state == :connected && kind != :handshake && @pingable
        application { trigger_on_error(error) }
      end

      # An application block raised `error`: closed with 3000, then onerror
      # (or up into the reactor without one). Also called by the native
      # dispatch, which runs message callbacks without `application`.
      def _rs_application_error(error)
        debug [:error, error]
        close_websocket_private(3000, "Application error")
        trigger_on_error(error) || raise(error)
      end

      # The connection has ended: `unbind`, as EventMachine calls it, whose
      # handler delivers `onclose` when the handshake had completed.
      def _rs_close(code, reason, was_clean)
        @handler&.close_info = was_clean ? { code: code, reason: reason, was_clean: true } : { code: code, was_clean: false }
        @_rs_streams&.dup&.each(&:stream)
        unbind
      end

      # Called by the handler as the connection ends, before `onclose`.
      def _rs_closed
        @state = :closed
      end

      def unbind
        debug [:unbind, :connection]

        @handler&.unbind
      rescue => e
        debug [:error, e]
        trigger_on_error(e) || raise(e)
      end

      private

      # File streams waiting for the outbound buffer to drain.
      def _rs_add_stream(stream)
        (@_rs_streams ||= []) << stream
      end

      def _rs_remove_stream(stream)
        @_rs_streams.delete(stream)
      end

      def send_frame(kind, data)
        if @state == :closing && (kind == :text || kind == :binary)
          raise WebSocketError, "Cannot send data frame since connection is closing"
        end

        debug [:sending_frame, kind, data] if @debug
        if @native.send_frame(kind, data) == :limit_reached
          debug [:abort, :outbound_limit_reached]
          return 0
        end
        data.bytesize
      end

      # Runs an application block with em-websocket's rules for exceptions:
      # the connection is closed with 3000 "Application error" and the error
      # goes to onerror or, without one, up into the reactor.
      def application
        yield
      rescue => e
        _rs_application_error(e)
      end

      def close_websocket_private(code, body)
        if @handler && @state != :closed
          debug [:closing, code]
          @native.close(code, body&.to_s, close_timeout.to_f)
          # Drafts 75 and 76 have no closing handshake (nor ping): they just
          # drop the connection, and em-websocket leaves their state as it was.
          @state = :closing if @state == :connected && @pingable
        else
          # The handshake has not completed: em-websocket drops the connection.
          close_connection
        end
      end

      # Applications may close with 1000, 1003, 1008, 1011, 3000-4999; the
      # other codes are em-websocket's (and the protocol's) own.
      def acceptable_close_code?(code)
        case code
        when 1000, 1003, 1008, 1011, (3000..4999)
          true
        else
          false
        end
      end
    end
  end
end
