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
      include EmWebSocketRs::EventMachineMethods
      include EmWebSocketRs::NativeEvents

      UTF8 = Encoding::UTF_8
      BINARY_ENCODING = Encoding::BINARY



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

      # em-websocket-rs: decide on the upgrade before it happens (see Upgrade).
      # Set it in the server's block: the request is read after it has run.
      def onupgrade(&blk);  @onupgrade = blk; end
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

      # The peer's IP address as a String (IPv4 or IPv6): the client a
      # PROXY protocol header named (`:proxy_protocol`), or, from `onopen`
      # on, the one a trusted proxy forwarded for (`:trusted_proxies`).
      def remote_ip
        _rs_peer.first
      end

      # [ip, port] of the peer, as `remote_ip` tells it.
      def _rs_peer
        @_rs_forwarded_for || [@native.peer_ip, @native.peer_port]
      end

      # The native handle, for EmWebSocketRs::Channel.
      def _rs_native
        @native
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
