# frozen_string_literal: true

module EmWebSocketRs
  # Joins the native servers to EventMachine's reactor.
  #
  # The native side queues events and makes one descriptor readable per batch;
  # EventMachine watches that descriptor, so every application block runs on
  # the reactor thread, in order per connection. When the reactor stops, every
  # server started in it is stopped, its connections are closed, and their
  # last events (`onclose`) are delivered before `EM.run` returns.
  # @api private
  class Reactor
    # Delivers the batches when the wake descriptor becomes readable.
    # @api private
    module Watch
      # @param reactor [Reactor] the reactor to dispatch for
      # @api private
      def initialize(reactor)
        super()
        @reactor = reactor
      end

      # EventMachine's call: the wake descriptor is readable.
      # @return [Integer] the events delivered
      # @api private
      def notify_readable
        @reactor.dispatch
      end
    end

    # A server started by `EM::WebSocket.run`: its native server, options,
    # connection class and block.
    # @api private
    Listener = Struct.new(:native, :options, :connection_class, :block)

    # Seconds `EM.stop` waits for connections to close.
    # @api private
    STOP_WAIT = 5.0

    # The reactor of this process, made on first use.
    # @return [Reactor]
    # @api private
    def self.instance
      # A forked child has a native runtime of its own, and so a reactor of its own.
      @instance = nil if @instance && @pid != Process.pid
      @pid = Process.pid
      @instance ||= new
    end

    # The reactor of this process, if one has been made.
    # @return [Reactor, nil]
    # @api private
    def self.current
      @instance if @instance && @pid == Process.pid
    end

    # A reactor with its native dispatcher, no server yet.
    # @api private
    def initialize
      @native = Native::Dispatcher.new
      @connections = {}
      @listeners = {}
      @channel_listeners = {}
      @drains = {}
      @watch = nil
    end

    # The native dispatcher (for the channels' backends, which report to it).
    # @return [EmWebSocketRs::Native::Dispatcher]
    # @api private
    attr_reader :native

    # Has EventMachine watch the dispatcher, if it runs (servers do so when
    # they start; a channel's backend reports through it too).
    # @return [void]
    # @api private
    def attach
      watch if EM.reactor_running?
    end

    # Lets the dispatcher deliver to `channel`'s block listeners what its
    # Redis backend receives; returns the id the backend reports with.
    # @param channel [Channel]
    # @return [Integer]
    # @api private
    def add_channel_listener(channel)
      attach
      @channel_listeners[channel.object_id] = channel
      channel.object_id
    end

    # Stops delivering to `channel`'s block listeners.
    # @param channel [Channel]
    # @return [Channel, nil]
    # @api private
    def remove_channel_listener(channel)
      @channel_listeners.delete(channel.object_id)
    end

    # Called by the native dispatch: a message from Redis for a channel's listeners.
    # @param id [Integer] the id {#add_channel_listener} returned
    # @param message [String]
    # @return [void]
    # @api private
    def _rs_channel_message(id, message)
      @channel_listeners[id]&._rs_listeners_call(message)
    end

    # Called by the native dispatch: a fault of a channel's Redis.
    # @param message [String]
    # @return [void]
    # @api private
    def _rs_channel_error(message)
      Channel._rs_report(message)
    end

    # Binds and starts a server; the block runs for each accepted connection.
    # @param options [Hash] the options of `EM::WebSocket.run`
    # @param connection_class [Class] {EventMachine::WebSocket::Connection} or a subclass
    # @return [Server]
    # @raise [RuntimeError] outside `EM.run`, or when the port cannot be bound
    # @raise [ArgumentError] for a bad option
    # @api private
    def listen(options, connection_class, &block)
      raise "eventmachine not initialized: EM::WebSocket.run must be called inside EM.run" unless EM.reactor_running?

      watch
      native = @native.listen(Options.native(options))
      @listeners[native.id] = Listener.new(native, options, connection_class, block)
      Server.new(self, native)
    end

    # Stops a server at once: its connections are closed and their last
    # events delivered.
    # @param native [EmWebSocketRs::Native::Server]
    # @return [void]
    # @api private
    def stop_server(native)
      return unless @listeners.delete(native.id)

      @drains.delete(native.id)&.cancel
      native.stop(STOP_WAIT)
      dispatch
    end

    # A graceful drain of one server (see Server#stop); `on_done` runs once
    # every connection has closed or the deadline has dropped the rest.
    # @param native [EmWebSocketRs::Native::Server]
    # @param seconds [Float] the deadline
    # @return [void]
    # @api private
    def drain_server(native, seconds, &on_done)
      return unless @listeners.key?(native.id)

      drain = @drains[native.id] ||= Drain.new(self, native, seconds)
      drain.callbacks << on_done if on_done
      drain.start
      drain_progress
    end

    # Drains every server, then runs the block (`EM::WebSocket.stop`).
    # @param seconds [Float] the deadline
    # @return [void]
    # @api private
    def drain_all(seconds, &on_done)
      natives = @listeners.each_value.map(&:native)
      return on_done&.call if natives.empty?

      left = natives.size
      natives.each do |native|
        drain_server(native, seconds) do
          left -= 1
          on_done&.call if left.zero?
        end
      end
    end

    # Whether a drain is under way.
    # @return [Boolean]
    # @api private
    def draining?
      !@drains.empty?
    end

    # Delivers what the native side has queued to the connections' Ruby
    # objects, and checks the drains under way.
    # @return [Integer] the events delivered
    # @api private
    def dispatch
      delivered = @native.dispatch(self, @connections)
      drain_progress unless @drains.empty?
      delivered
    end

    # What EventMachine would count of these servers' sockets if it owned
    # them (a listening socket per address, a connection each), less the
    # one descriptor it does watch for them.
    # @return [Integer]
    # @api private
    def descriptor_count
      listening = @listeners.each_value.sum { |listener| listener.native.addresses.size }
      listening + @connections.size - (@watch ? 1 : 0)
    end

    # Called by the native dispatch for each accepted connection; returns
    # the connection, or nil for one refused because its server has stopped.
    # @param server_id [Integer]
    # @param native [EmWebSocketRs::Native::Connection]
    # @return [EventMachine::WebSocket::Connection, nil]
    # @api private
    def _rs_accept(server_id, native)
      listener = @listeners[server_id]
      unless listener
        native.disconnect(false)
        return
      end
      connection = listener.connection_class.accept(native, listener.options)
      @connections[native.id] = connection
      listener.block&.call(connection)
      connection
    end

    # Called by a drain at its end: the server is stopped (what is left is
    # dropped, `onclose` 1006) and its callbacks run.
    # @param drain [Drain]
    # @return [void]
    # @api private
    def _rs_drain_done(drain)
      @drains.delete(drain.native.id)
      stop_server(drain.native)
      drain.callbacks.each(&:call)
    end

    private

    def drain_progress
      @drains.each_value.select(&:done?).each(&:finish)
    end

    def watch
      return if @watch

      io = IO.for_fd(@native.fd, autoclose: false)
      @watch = EM.watch(io, Watch, self)
      @watch.notify_readable = true
      EM.add_shutdown_hook { shutdown }
    end

    def shutdown
      @drains.each_value(&:cancel)
      @drains.clear
      listeners = @listeners.values
      @listeners.clear
      listeners.each { |listener| listener.native.stop(STOP_WAIT) }
      @watch&.detach
      @watch = nil
      deliver_last_events
      @connections.clear
    end

    # Delivers every connection's last events while the reactor still runs. An
    # exception from an application block here cannot go up into the reactor
    # (it is stopping, and the other connections still need their `onclose`),
    # so it is reported on stderr.
    def deliver_last_events
      loop do
        break if dispatch.zero?
      rescue => e
        warn "em-websocket-rs: #{e.class} raised while the reactor stopped: #{e.message}"
      end
    end
  end

  # One server's graceful drain: no more accepts, a close frame 1001 to each
  # connection, and a deadline after which what is left is dropped.
  # @api private
  class Drain
    # `native`: the server being drained; `callbacks`: the blocks to run when
    # the drain is over.
    # @return [EmWebSocketRs::Native::Server, Array<Proc>]
    # @api private
    attr_reader :native, :callbacks

    # The longest drain: a day.
    # @api private
    MAX_SECONDS = 86_400

    # Checks a drain's deadline: a positive number of seconds, at most a day.
    # @param value [Numeric]
    # @return [Float]
    # @raise [ArgumentError] for anything else
    # @api private
    def self.seconds(value)
      unless value.is_a?(Numeric) && value.positive? && value <= MAX_SECONDS
        raise ArgumentError, "drain must be a positive number of seconds (at most #{MAX_SECONDS}), got #{value.inspect}"
      end

      value.to_f
    end

    # @param reactor [Reactor]
    # @param native [EmWebSocketRs::Native::Server] the server to drain
    # @param seconds [Float] the deadline
    # @api private
    def initialize(reactor, native, seconds)
      @reactor = reactor
      @native = native
      @seconds = seconds
      @callbacks = []
      @timer = nil
    end

    # Starts the drain (once): the native server stops accepting and sends
    # each connection a close frame 1001, and the deadline's timer starts.
    # @return [void]
    # @api private
    def start
      return if @timer

      @native.drain(@seconds)
      @timer = EM.add_timer(@seconds) { finish }
    end

    # Whether every connection has closed.
    # @return [Boolean]
    # @api private
    def done?
      @native.open_connections.zero?
    end

    # Ends the drain: the server is stopped and the callbacks run.
    # @return [void]
    # @api private
    def finish
      cancel
      @reactor._rs_drain_done(self)
    end

    # Cancels the deadline's timer.
    # @return [void]
    # @api private
    def cancel
      EM.cancel_timer(@timer) if @timer
    end
  end

  # `EM.connection_count` counts WebSocket connections and servers, as it
  # does with em-websocket, whose sockets EventMachine owned.
  # Prepended to EventMachine's singleton class.
  module ConnectionCount
    # `EM.connection_count`: EventMachine's count, plus a listening socket per
    # address of each WebSocket server and each WebSocket connection.
    # @return [Integer]
    def connection_count
      super + (Reactor.current&.descriptor_count || 0)
    end
  end
  EventMachine.singleton_class.prepend(ConnectionCount)

  # What `EM::WebSocket.run` returns: the running server.
  #
  # @example
  #   server = EM::WebSocket.run(host: '0.0.0.0', port: 0, metrics: { port: 9394 }) { |ws| ... }
  #   server.port                  # => the port bound, e.g. 41235
  #   server.addresses             # => ["0.0.0.0:41235"]
  #   server.stats[:connections]   # => 0
  #   server.stop(drain: 30) { puts 'drained' }
  class Server
    # Made by `EM::WebSocket.run`.
    # @param reactor [Reactor]
    # @param native [EmWebSocketRs::Native::Server]
    # @api private
    def initialize(reactor, native)
      @reactor = reactor
      @native = native
    end

    # The port actually bound (useful with `:port => 0`).
    # @return [Integer]
    def port
      @native.port
    end

    # Every address listened on, as "host:port" strings (a host name is
    # bound on every address it resolves to).
    # @return [Array<String>]
    def addresses
      @native.addresses
    end

    # Stops accepting and closes this server's connections at once.
    #
    # With `drain: seconds`, a graceful drain instead: the port is released at
    # once, every connection is sent a close frame 1001 "Going away" after
    # what the application queued, and has `seconds` to answer it (`onclose`
    # then reports `was_clean: true`); whatever is left at the deadline is
    # dropped (1006). Returns at once; the block runs when the drain is over.
    #
    # `EM.stop_server(server)` stops it at once too.
    # @param drain [Numeric, nil] seconds the connections have to close (at
    #   most a day); nil stops at once
    # @yield when the server has stopped (at once without `drain:`)
    # @return [nil]
    # @raise [ArgumentError] when `drain` is not a positive number of seconds
    #   of at most a day
    def stop(drain: nil, &on_done)
      if drain
        @reactor.drain_server(@native, Drain.seconds(drain), &on_done)
      else
        @reactor.stop_server(@native)
        on_done&.call
      end
      nil
    end

    # The port `metrics: { port: }` listens on, or nil.
    # @return [Integer, nil]
    def metrics_port
      @native.metrics_port
    end

    # This server's counters and gauges (see `EmWebSocketRs.stats`).
    # @return [Hash{Symbol => Integer, Hash{String => Integer}}]
    def stats
      @native.stats
    end

    # Loads new TLS settings, a Hash in the form of `:tls_options` (`:sni`
    # included), and answers the TLS handshakes of connections accepted from
    # now on with them: a renewed certificate needs no restart. Connections
    # already open keep the session they have.
    #
    # Everything is loaded and checked first: a file that cannot be read or
    # a key that does not match its certificate raises ArgumentError naming
    # it, and the current settings stay. On a server started without
    # `:secure` it raises RuntimeError.
    #
    # Call it on the reactor thread. A signal handler cannot call
    # `EM.schedule` itself (its queue takes a lock a trap handler may not
    # take), so it hands over through a thread; a bad file must not end the
    # reactor, so the error is rescued (see the example).
    #
    # @param tls_options [Hash] as `:tls_options`: `:cert_chain_file` or
    #   `:cert`, `:private_key_file` or `:private_key`, `:sni`, ...
    # @return [nil]
    # @raise [ArgumentError] naming the file or setting that does not load;
    #   the current settings stay
    # @raise [RuntimeError] on a server started without `:secure`
    # @example Reloading on SIGHUP
    #   trap('HUP') do
    #     Thread.new do
    #       EM.schedule do
    #         server.reload_tls(tls_options)
    #       rescue ArgumentError => e
    #         warn "TLS settings not reloaded: #{e.message}"
    #       end
    #     end
    #   end
    def reload_tls(tls_options)
      raise 'reload_tls: this server does not serve wss:// (it was started without :secure)' unless @native.secure?

      @native.reload_tls(Options::TLS.native(secure: true, tls_options: tls_options))
      nil
    end
  end
end
