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
  class Channel
    # Where pushes go before they reach subscribers: this process only. A
    # backend that carries them between processes implements the same
    # `publish(channel, kind, message)`, and calls `channel.deliver` on every
    # process the message reaches.
    class LocalBackend
      def publish(channel, kind, message)
        channel.deliver(kind, message)
      end
    end

    def initialize(backend: LocalBackend.new)
      @native = Native::Fanout.new
      @backend = backend
    end

    # Adds an open connection; false if it was already subscribed.
    def subscribe(ws)
      raise EventMachine::WebSocket::WebSocketError, "Cannot subscribe before onopen callback" unless ws.state == :connected

      @native.add(ws._rs_native)
    end

    # Removes a connection; false if it was not subscribed.
    def unsubscribe(ws)
      @native.remove(ws._rs_native)
    end

    # Sends a text message to every subscriber; returns how many took it.
    # Raises WebSocketError for data that is not valid UTF-8, as `ws.send` does.
    def push(message)
      unless (message.encoding == Encoding::UTF_8 && message.valid_encoding?) || message.ascii_only?
        raise EventMachine::WebSocket::WebSocketError,
              "Data sent to WebSocket must be valid UTF-8 but was #{message.encoding} (valid: #{message.valid_encoding?})"
      end

      @backend.publish(self, :text, message)
    end

    # Sends a binary message to every subscriber; returns how many took it.
    def push_binary(message)
      @backend.publish(self, :binary, message)
    end

    # Sends a message (`kind` :text or :binary) to this process's
    # subscribers; returns how many took it. Called by the backend.
    def deliver(kind, message)
      @native.push(kind, message)
    end

    # The number of subscribers (those that closed since the last push included).
    def size
      @native.size
    end
  end
end
