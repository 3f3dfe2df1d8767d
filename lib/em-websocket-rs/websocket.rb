# frozen_string_literal: true

module EventMachine
  # em-websocket's public module, served by em-websocket-rs.
  module WebSocket
    class << self
      # Connections are given this many seconds to answer a close frame.
      attr_accessor :close_timeout

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

    # Starts the reactor and a server in it; INT and TERM stop it.
    def self.start(options, &blk)
      EM.epoll
      EM.run do
        trap("TERM") { stop }
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

    def self.stop
      puts "Terminating WebSocket Server"
      EM.stop
    end
  end
end
