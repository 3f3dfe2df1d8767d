# frozen_string_literal: true

module EventMachine
  # em-websocket's public module, served by em-websocket-rs.
  module WebSocket
    class << self
      # Connections are given this many seconds to answer a close frame.
      attr_accessor :close_timeout

      # Seconds a TERM under `start` gives connections to close (30).
      attr_accessor :drain_timeout

      attr_reader :max_frame_size

      # The largest frame accepted, for connections that do not set their own.
      def max_frame_size=(size)
        raise ArgumentError, "max_frame_size must be a positive Integer, got #{size.inspect}" unless size.is_a?(Integer) && size.positive?

        EmWebSocketRs::Native.max_frame_size = size
        @max_frame_size = size
      end
    end
    self.max_frame_size = EmWebSocketRs::Native::DEFAULT_MAX_FRAME_SIZE
    @close_timeout = 60
    @drain_timeout = 30

    # Starts the reactor and a server in it. INT stops it at once; TERM
    # drains it (see `stop`) within `drain_timeout` seconds, and a second
    # TERM during the drain stops it at once.
    def self.start(options, &blk)
      EM.epoll
      EM.run do
        # Handed to the reactor from another thread: EventMachine's queue
        # takes a lock, which a trap handler may not.
        trap("TERM") { Thread.new { EM.schedule { draining? ? stop : stop(drain: drain_timeout) } } }
        trap("INT")  { stop }

        run(options, &blk)
      end
    end

    # Starts a server inside `EM.run`; the block runs for each connection.
    # Raises at once when the address cannot be bound.
    def self.run(options, &blk)
      connection_class = options.fetch(:connection_class, Connection)
      EmWebSocketRs::Reactor.instance.listen(options, connection_class, &blk)
    end

    # Stops the reactor. With `drain: seconds`, every server drains first
    # (no more accepts, a close frame 1001 "Going away" to each connection,
    # whatever is left dropped at the deadline), then the reactor stops.
    def self.stop(drain: nil)
      puts "Terminating WebSocket Server"
      reactor = EmWebSocketRs::Reactor.current
      return EM.stop unless drain && reactor

      reactor.drain_all(EmWebSocketRs::Drain.seconds(drain)) { EM.stop }
    end

    # Whether `stop(drain:)` is under way.
    def self.draining?
      EmWebSocketRs::Reactor.current&.draining? || false
    end
  end
end
