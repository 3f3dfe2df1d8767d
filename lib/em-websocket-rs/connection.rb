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
    #
    # The server makes one for each accepted connection and hands it to the
    # block of {EventMachine::WebSocket.run}, which sets its callbacks
    # (`onopen`, `onmessage`, ...); they all run on the reactor thread.
    # Applications may subclass it and start the subclass with
    # `EM.start_server(host, port, MyConnection, options) { |ws| ... }` (or
    # `connection_class: MyConnection`), overriding `receive_data`,
    # `dispatch`, `post_init`, `unbind` or the `trigger_on_*` methods as with
    # em-websocket (see "Subclassing the connection" in the README).
    #
    # @example
    #   EM::WebSocket.run(host: '0.0.0.0', port: 8080) do |ws|
    #     ws.onopen    { |handshake| ws.send("hello #{handshake.query['name']}") }
    #     ws.onmessage { |msg| ws.send(msg) }
    #     ws.onclose   { |event| puts "closed with #{event[:code]}" }
    #   end
    class Connection < EventMachine::Connection
      include Debugger
      include EmWebSocketRs::EventMachineMethods
      include EmWebSocketRs::NativeEvents

      # The encoding of the text messages `onmessage` is given.
      # @api private
      UTF8 = Encoding::UTF_8
      # The encoding of binary messages.
      # @api private
      BINARY_ENCODING = Encoding::BINARY



      # Creates the object for a connection the native server accepted:
      # `initialize(options)`, then `post_init`.
      # @param native [EmWebSocketRs::Native::Connection] its native handle
      # @param options [Hash] its server's options
      # @return [Connection]
      # @api private
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
      #
      # The block runs after the request has been read and checked and
      # before any response is written, and decides with `upgrade.accept` or
      # `upgrade.refuse`, then or later (the connection waits, reading
      # nothing, until `:handshake_timeout`). A refused connection never
      # reaches `onopen` or `onclose`. If the block raises, the client is
      # answered 500 and the error goes up like any callback's.
      #
      # @yield [handshake, upgrade]
      # @yieldparam handshake [Handshake] the request: path, query, headers, origin
      # @yieldparam upgrade [Upgrade] to accept or refuse it with
      # @return [Proc, nil] the block
      # @example
      #   ws.onupgrade do |handshake, upgrade|
      #     if ALLOWED_ORIGINS.include?(handshake.origin)
      #       upgrade.accept
      #     else
      #       upgrade.refuse(403)
      #     end
      #   end
      def onupgrade(&blk);  @onupgrade = blk; end
      # Sets the block called when the handshake has completed, with the
      # request. It runs before anything read after the handshake is handled, so
      # a `pause` or `max_frame_size=` there applies to the next message.
      # @yield [handshake]
      # @yieldparam handshake [Handshake] path, query, headers, origin, protocol
      # @return [Proc, nil] the block
      def onopen(&blk);     @onopen = blk;    end
      # Sets the block called once when a connection whose handshake had
      # completed has ended (a connection that ends before that gets none).
      # @yield [event]
      # @yieldparam event [Hash] `:code` (1005 when the client's close frame had
      #   none), `:reason` (a UTF-8 String) and `:was_clean`; a connection that
      #   did not close cleanly reports 1006 and no `:reason`
      # @return [Proc, nil] the block
      def onclose(&blk);    @onclose = blk;   end
      # Sets the block called with the connection's errors: the protocol errors
      # it is failed with ({WSProtocolError} 1002, {InvalidDataError} 1007,
      # {WSMessageTooBigError} 1009), a failed handshake ({HandshakeError}), and
      # exceptions raised by the application's own blocks, after which the
      # connection is closed with 3000 "Application error". Without an
      # `onerror`, such an exception goes up into the reactor (out of `EM.run`,
      # or to `EM.error_handler`).
      # @yield [error]
      # @yieldparam error [Exception]
      # @return [Proc, nil] the block
      def onerror(&blk);    @onerror = blk;   end
      # Sets the block called with each text message.
      # @yield [message]
      # @yieldparam message [String] UTF-8, valid
      # @return [Proc, nil] the block
      def onmessage(&blk);  @onmessage = blk; end
      # Sets the block called with each binary message.
      # @yield [message]
      # @yieldparam message [String] ASCII-8BIT
      # @return [Proc, nil] the block
      def onbinary(&blk);   @onbinary = blk;  end
      # Sets the block called with the body of each ping received; the pong is
      # sent by the server.
      # @yield [data]
      # @yieldparam data [String]
      # @return [Proc, nil] the block
      def onping(&blk);     @onping = blk;    end
      # Sets the block called with the body of each pong received.
      # @yield [data]
      # @yieldparam data [String]
      # @return [Proc, nil] the block
      def onpong(&blk);     @onpong = blk;    end
      # em-websocket-rs: the outbound buffer has been written out after
      # growing past `:drain_threshold` (for backpressure without polling).
      #
      # `buffered_amount` is 0 inside the block. A drain the application
      # refilled before hearing of it is reported when the refill has been
      # written.
      # @yield once the buffer is empty again
      # @return [Proc, nil] the block
      # @example
      #   ws.ondrain { send_more(ws) }   # after a send found the buffer above :drain_threshold
      def ondrain(&blk);    @ondrain = blk;   end

      # Calls the `onmessage` block, if any. The native dispatch calls the
      # block itself while this method is the library's own; one overridden in
      # a subclass, a prepended module or a single connection is called for
      # each text message instead, as in em-websocket.
      # @param msg [String] the message
      # @return [Object, nil] the block's value
      def trigger_on_message(msg)
        @onmessage.call(msg) if defined? @onmessage
      end

      # Calls the `onbinary` block, if any (see {#trigger_on_message}).
      # @param msg [String] the message
      # @return [Object, nil] the block's value
      def trigger_on_binary(msg)
        @onbinary.call(msg) if defined? @onbinary
      end

      # Calls the `onopen` block, if any.
      # @param handshake [Handshake]
      # @return [Object, nil] the block's value
      def trigger_on_open(handshake)
        @onopen.call(handshake) if defined? @onopen
      end

      # Calls the `onclose` block, if any.
      # @param event [Hash] `:code`, `:reason`, `:was_clean`
      # @return [Object, nil] the block's value
      def trigger_on_close(event = {})
        @onclose.call(event) if defined? @onclose
      end

      # Calls the `onping` block, if any.
      # @param data [String] the ping's body
      # @return [Object, nil] the block's value
      def trigger_on_ping(data)
        @onping.call(data) if defined? @onping
      end

      # Calls the `onpong` block, if any.
      # @param data [String] the pong's body
      # @return [Object, nil] the block's value
      def trigger_on_pong(data)
        @onpong.call(data) if defined? @onpong
      end

      # Calls the `ondrain` block, if any.
      # @return [Object, nil] the block's value
      def trigger_on_drain
        @ondrain.call if defined? @ondrain
      end

      # Calls the `onerror` block, if any.
      # @param reason [Exception] the error
      # @return [Boolean] whether there was a block to call
      def trigger_on_error(reason)
        return false unless defined? @onerror

        @onerror.call(reason)
        true
      end

      # Called for each accepted connection with its server's options, before
      # `post_init` and the server's block; an override calls `super`.
      # @param options [Hash] the options the server was started with
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
      # (em-websocket started TLS here.) Runs after `initialize` and before
      # the server's block; subclasses may override it.
      # @return [void]
      def post_init; end

      # em-websocket's entry for the connection's bytes, called with each
      # read as it arrives when the connection's class (or the object)
      # overrides it or `dispatch`: the bytes go to the handler once the
      # handshake is done, else to `dispatch`. Without such an override the
      # native side reads them itself and this is never called.
      #
      # An exception raised here closes the connection with 3000
      # "Application error" and goes to `onerror` (or up into the reactor
      # without one).
      # @param data [String] the bytes read (ASCII-8BIT)
      # @return [void]
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
      #
      # A request the override answers itself with `send_data`,
      # `stream_file_data` or `close_connection(_after_writing)` goes out whole
      # and in order, and never reaches `onerror`, `onopen` or `onclose`.
      # @param data [String] the bytes read (ASCII-8BIT)
      # @return [void]
      # @example Plain HTTP and WebSocket on one port
      #   class AppConnection < EM::WebSocket::Connection
      #     def dispatch(data)
      #       return super if data =~ /^Upgrade:\s*websocket/i   # the handshake, natively
      #       send_data "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
      #       close_connection_after_writing
      #     end
      #   end
      def dispatch(data)
        @native.receive(data.to_s)
      end

      # Methods the native side may stand in for while they are the library's
      # own, with where the library defines them.
      # @api private
      LIBRARY_METHODS = %i[trigger_on_message trigger_on_binary receive_data dispatch].to_h do |name|
        [name, instance_method(name).source_location]
      end.freeze
      # The triggers whose blocks the native dispatch may call itself.
      # @api private
      TRIGGERS = %i[trigger_on_message trigger_on_binary].freeze
      # Overriding either sends the connection's bytes through Ruby.
      # @api private
      BYTE_HOOKS = %i[receive_data dispatch].freeze

      # Whether this class keeps the library's own `names`.
      # @param names [Array<Symbol>]
      # @return [Boolean]
      # @api private
      def self.library_methods?(names)
        names.all? { |name| library_method?(instance_method(name)) }
      end

      # Whether `method` is the library's own definition.
      # @param method [Method, UnboundMethod]
      # @return [Boolean]
      # @api private
      def self.library_method?(method)
        method.owner == Connection && method.source_location == LIBRARY_METHODS[method.name]
      end

      # For a connection with methods of its own (a singleton method, an
      # extended module): whether its bytes go to receive_data/dispatch.
      # @return [Boolean]
      # @api private
      def _rs_reads_bytes?
        BYTE_HOOKS.any? { |name| !Connection.library_method?(method(name)) }
      end

      # The connection's state: :handshake, :connected, :closing or :closed.
      # @return [Symbol]
      attr_reader :state

      # Closes the WebSocket cleanly: sends a close frame and waits (up to
      # `close_timeout`) for the client to acknowledge it.
      #
      # Drafts 75 and 76 have no closing handshake: the connection is
      # dropped. Before the handshake has completed, the connection is
      # dropped too, as in em-websocket.
      # @param code [Integer, nil] 1000, 1003, 1008, 1011 or 3000-4999; nil
      #   for a close frame without a code (drafts before 06 send none)
      # @param body [String, nil] the reason, sent with a code
      # @return [void]
      # @raise [RuntimeError] for any other code ("Application code may only
      #   use codes from 1000, 3000-4999")
      # @example
      #   ws.close(4001, 'session expired')
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
      # @param data [String]
      # @return [nil]
      # @raise [WebSocketError] "Data sent to WebSocket must be valid UTF-8 ...",
      #   "Cannot send data before onopen callback", or "Cannot send data
      #   frame since connection is closing"
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

      # em-websocket's name for {#send_text}.
      alias send send_text

      # Sends a binary frame.
      # @param data [String] sent as its bytes, whatever its encoding
      # @return [Integer] the bytes queued, or 0 when `:outbound_limit` was
      #   reached (the connection is then aborted)
      # @raise [WebSocketError] before the handshake has completed, on drafts 75
      #   and 76 (which have no binary frames; em-websocket raised
      #   NoMethodError), or while the connection is closing
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
      # The peer's pong goes to `onpong`.
      # @param body [String]
      # @return [Boolean] true once queued
      # @raise [WebSocketError] before the handshake has completed
      def ping(body = '')
        raise WebSocketError, "Cannot ping before onopen callback" unless @handler
        return false unless @pingable

        send_frame(:ping, body)
        true
      end

      # Sends an unsolicited pong; pongs answering pings are sent automatically.
      # @param body [String]
      # @return [Boolean] true once queued, false on drafts without ping
      # @raise [WebSocketError] before the handshake has completed
      def pong(body = '')
        raise WebSocketError, "Cannot ping before onopen callback" unless @handler
        return false unless @pingable

        send_frame(:pong, body)
        true
      end

      # Whether the connection's draft has ping and pong (all but drafts 75 and
      # 76).
      # @return [Boolean]
      # @raise [WebSocketError] before the handshake has completed
      def pingable?
        raise WebSocketError, "Cannot test whether pingable before onopen callback" unless @handler

        @pingable
      end

      # Whether the connection's draft has close codes (draft 06 onwards and RFC
      # 6455).
      # @return [Boolean]
      # @raise [WebSocketError] before the handshake has completed
      def supports_close_codes?
        raise WebSocketError, "Cannot test before onopen callback" unless @handler

        @handler.supports_close_codes?
      end

      # The largest frame this connection accepts, in bytes: its own if set,
      # else {EventMachine::WebSocket.max_frame_size}.
      # @return [Integer]
      def max_frame_size
        defined?(@max_frame_size) ? @max_frame_size : WebSocket.max_frame_size
      end

      # Sets this connection's largest frame; a larger one closes it with 1009.
      # Set in `onopen`, it applies from the first message.
      # @param size [Integer] bytes
      # @return [Integer] size
      # @raise [ArgumentError] unless size is a positive Integer
      def max_frame_size=(size)
        raise ArgumentError, "max_frame_size must be a positive Integer, got #{size.inspect}" unless size.is_a?(Integer) && size.positive?

        @max_frame_size = size
        @native.max_frame_size = size
      end

      # Seconds the client has to answer our close frame: the server's
      # `:close_timeout`, else {EventMachine::WebSocket.close_timeout}.
      # @return [Numeric]
      def close_timeout
        @options[:close_timeout] || WebSocket.close_timeout
      end

      # The peer's IP address as a String (IPv4 or IPv6): the client a
      # PROXY protocol header named (`:proxy_protocol`), or, from `onopen`
      # on, the one a trusted proxy forwarded for (`:trusted_proxies`).
      # @return [String]
      def remote_ip
        @_rs_forwarded_for ? @_rs_forwarded_for.first : @native.peer_ip
      end

      # [ip, port] of the peer, as `remote_ip` tells it.
      # @return [Array(String, Integer)]
      # @api private
      def _rs_peer
        @_rs_forwarded_for || [@native.peer_ip, @native.peer_port]
      end

      # The native handle, for EmWebSocketRs::Channel.
      # @return [EmWebSocketRs::Native::Connection]
      # @api private
      def _rs_native
        @native
      end

      # Called by the handler as the connection ends, before `onclose`.
      # @return [void]
      # @api private
      def _rs_closed
        @state = :closed
      end

      # Called once when the connection has ended, as EventMachine calls it,
      # before `onclose`: the handler delivers `onclose` when the handshake had
      # completed. An override calls `super` for `onclose` (one that does not
      # gets none, as in em-websocket).
      # @return [void]
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
