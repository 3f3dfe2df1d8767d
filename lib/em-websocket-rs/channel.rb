# frozen_string_literal: true

module EmWebSocketRs
  # A broadcast group of WebSocket connections, for fan-out without a Ruby
  # call per receiver:
  #
  #   room = EmWebSocketRs::Channel.new
  #   ws.onopen  { room.subscribe(ws) }
  #   ws.onmessage { |msg| room.push(msg) }
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
  #   room = EmWebSocketRs::Channel.new('chat', redis: 'redis://127.0.0.1:6379/0')
  class Channel
    # What `on_error` blocks receive: a fault of the channels' Redis.
    class BackendError < StandardError; end

    @error_handlers = []

    class << self
      # Calls the block with a BackendError for each fault of the Redis
      # connection (unreachable, lost); without a block registered, faults
      # are printed to stderr. Reconnection happens by itself either way.
      def on_error(&block)
        @error_handlers << block
        block
      end

      # Called by the native dispatch, on the reactor thread.
      def _rs_report(message)
        error = BackendError.new(message)
        return warn("em-websocket-rs: #{message}") if @error_handlers.empty?

        @error_handlers.each { |handler| handler.call(error) }
      end
    end

    attr_reader :name

    # `name` is the Redis channel's (after `redis_prefix:`); a channel
    # without `redis:` stays in this process, and needs no name.
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
    def subscribe(ws = nil, &block)
      return add_listener(block) if ws.nil? && block

      raise EventMachine::WebSocket::WebSocketError, "Cannot subscribe before onopen callback" unless ws.state == :connected

      native.add(ws._rs_native)
    end

    # Removes a connection, or the listener of this id; false if it was not subscribed.
    def unsubscribe(ws_or_id)
      return remove_listener(ws_or_id) if ws_or_id.is_a?(Integer)

      native.remove(ws_or_id._rs_native)
    end

    # Sends a text message to every subscriber; returns how many subscribers
    # of this process took it. Raises WebSocketError for data that is not
    # valid UTF-8, as `ws.send` does.
    def push(message)
      unless (message.encoding == Encoding::UTF_8 && message.valid_encoding?) || message.ascii_only?
        raise EventMachine::WebSocket::WebSocketError,
              "Data sent to WebSocket must be valid UTF-8 but was #{message.encoding} (valid: #{message.valid_encoding?})"
      end

      deliver(:text, message)
    end

    # Sends a binary message to every subscriber; returns how many
    # subscribers of this process took it.
    def push_binary(message)
      deliver(:binary, message)
    end

    # The number of this process's subscribers (those that closed since the
    # last push included).
    def size
      native.size
    end

    # The Redis connection's state and counters (`:connected`, `:published`,
    # `:dropped`, `:received`, `:reconnects`, `:errors`); nil without Redis.
    def stats
      native.stats if @redis
    end

    # A message from Redis for this channel's listeners (called by the reactor).
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
