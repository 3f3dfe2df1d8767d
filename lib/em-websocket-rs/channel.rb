# frozen_string_literal: true

module EmWebSocketRs
  # A broadcast group of WebSocket connections, for fan-out without a Ruby
  # call per receiver:
  #
  #     room = EmWebSocketRs::Channel.new
  #     ws.onopen  { room.subscribe(ws) }
  #     ws.onmessage { |msg| room.push(msg) }
  #
  # `push` copies the message out of Ruby once; every connection's queue
  # shares those bytes, and each connection is woken once per push. It is the
  # fast path for what applications do with `EM::Channel` and `ws.send`, which
  # keeps working too. Connections leave the channel when they close.
  #
  # With `redis:`, a push reaches every subscriber of the channel on every
  # process and machine connected to the same Redis (see "Scaling out" in
  # the README):
  #
  #     room = EmWebSocketRs::Channel.new('chat', redis: 'redis://127.0.0.1:6379/0')
  class Channel
    # What `on_error` blocks receive: a fault of the channels' Redis.
    class BackendError < StandardError; end

    @error_handlers = []

    class << self
      # Calls the block with a BackendError for each fault of the Redis
      # connection (unreachable, lost); without a block registered, faults
      # are printed to stderr. Reconnection happens by itself either way.
      # Each outage is reported once.
      # @yield [error] on the reactor thread
      # @yieldparam error [BackendError]
      # @return [Proc] the block
      # @example
      #   EmWebSocketRs::Channel.on_error { |error| warn "redis: #{error.message}" }
      def on_error(&block)
        @error_handlers << block
        block
      end

      # Called by the native dispatch, on the reactor thread.
      # @param message [String] what went wrong
      # @return [void]
      # @api private
      def _rs_report(message)
        error = BackendError.new(message)
        return warn("em-websocket-rs: #{message}") if @error_handlers.empty?

        @error_handlers.each { |handler| handler.call(error) }
      end
    end

    # The channel's name (after `redis_prefix:` it names the Redis channel);
    # nil for a channel made without one.
    # @return [String, nil]
    attr_reader :name

    # `name` is the Redis channel's (after `redis_prefix:`); a channel
    # without `redis:` stays in this process, and needs no name.
    # @param name [String, Symbol, nil]
    # @param redis [String, nil] `redis://[[user]:password@]host[:port][/db]`,
    #   or `rediss://` for TLS; a Redis that cannot be reached does not
    #   raise (see {Channel.on_error})
    # @param redis_prefix [String, nil] put before the name in Redis
    # @raise [ArgumentError] for a Redis channel without a name, or a
    #   `redis:` that is not a Redis URL
    # @example
    #   lobby = EmWebSocketRs::Channel.new('lobby', redis: 'redis://127.0.0.1:6379/0', redis_prefix: 'chat:')
    def initialize(name = nil, redis: nil, redis_prefix: nil)
      if redis
        raise ArgumentError, 'a Redis channel needs a name' if name.nil? || name.to_s.empty?
        raise ArgumentError, ":redis must be a URL String, got #{redis.inspect}" unless redis.is_a?(String)
      end
      @name = name&.to_s
      @redis = redis
      @redis_channel = "#{redis_prefix}#{name}".b if redis
      @listeners = {}
      @native = build_native
    end

    # Adds an open connection (false if it was already subscribed), or, with
    # a block, a listener called with each message (its id is returned, for
    # `unsubscribe`).
    # @overload subscribe(ws)
    #   @param ws [EventMachine::WebSocket::Connection] a connected connection
    #     (it leaves the channel by itself when it closes)
    #   @return [Boolean] false if it was already subscribed
    #   @raise [EventMachine::WebSocket::WebSocketError] unless it is
    #     connected ("Cannot subscribe before onopen callback")
    # @overload subscribe(&block)
    #   @yield [message] on the reactor thread, for each message pushed in
    #     this process or, with `redis:`, received through Redis
    #   @yieldparam message [String]
    #   @return [Integer] the listener's id, for {#unsubscribe}
    def subscribe(ws = nil, &block)
      return add_listener(block) if ws.nil? && block

      raise EventMachine::WebSocket::WebSocketError, "Cannot subscribe before onopen callback" unless ws.state == :connected

      native.add(ws._rs_native)
    end

    # Removes a connection, or the listener of this id; false if it was not subscribed.
    # @param ws_or_id [EventMachine::WebSocket::Connection, Integer]
    # @return [Boolean]
    def unsubscribe(ws_or_id)
      return remove_listener(ws_or_id) if ws_or_id.is_a?(Integer)

      native.remove(ws_or_id._rs_native)
    end

    # Sends a text message to every subscriber; returns how many subscribers
    # of this process took it. Raises WebSocketError for data that is not
    # valid UTF-8, as `ws.send` does.
    #
    # The message is copied out of Ruby once and shared by every
    # subscriber's queue; with `redis:` it is also queued for Redis, never
    # blocking (a full queue drops it and counts).
    # @param message [String]
    # @return [Integer]
    # @raise [EventMachine::WebSocket::WebSocketError] for text that is not valid UTF-8
    def push(message)
      unless (message.encoding == Encoding::UTF_8 && message.valid_encoding?) || message.ascii_only?
        raise EventMachine::WebSocket::WebSocketError,
              "Data sent to WebSocket must be valid UTF-8 but was #{message.encoding} (valid: #{message.valid_encoding?})"
      end

      deliver(:text, message)
    end

    # Sends a binary message to every subscriber; returns how many
    # subscribers of this process took it.
    # @param message [String] sent as its bytes
    # @return [Integer]
    def push_binary(message)
      deliver(:binary, message)
    end

    # The number of this process's subscribers (those that closed since the
    # last push included).
    # @return [Integer]
    def size
      native.size
    end

    # The Redis connection's state and counters (`:connected`, `:published`,
    # `:dropped`, `:received`, `:reconnects`, `:errors`); nil without Redis.
    # @return [Hash{Symbol => Object}, nil]
    def stats
      native.stats if @redis
    end

    # A message from Redis for this channel's listeners (called by the reactor).
    # @param message [String]
    # @return [void]
    # @api private
    def _rs_listeners_call(message)
      @listeners.each_value { |listener| listener.call(message) }
    end

    private

    def deliver(kind, message)
      delivered = native.push(kind, message)
      unless @listeners.empty?
        copy = kind == :text ? message.dup.force_encoding(Encoding::UTF_8) : message.b
        @listeners.each_value { |listener| listener.call(copy) }
      end
      delivered
    end

    # The native channel of this process: a forked child makes its own, as
    # its parent's Redis connection and subscribers are not its own.
    def native
      @native = build_native unless @pid == Process.pid
      @native
    end

    def build_native
      @pid = Process.pid
      return Native::Fanout.new unless @redis

      reactor = Reactor.instance
      reactor.attach
      channel = Native::RedisChannel.new(reactor.native, @redis, @redis_channel)
      channel.listener = reactor.add_channel_listener(self) unless @listeners.empty?
      channel
    end

    def add_listener(block)
      id = block.object_id
      @listeners[id] = block
      native.listener = Reactor.instance.add_channel_listener(self) if @redis && @listeners.size == 1
      id
    end

    def remove_listener(id)
      return false unless @listeners.delete(id)

      if @redis && @listeners.empty?
        native.listener = 0
        Reactor.instance.remove_channel_listener(self)
      end
      true
    end
  end
end
