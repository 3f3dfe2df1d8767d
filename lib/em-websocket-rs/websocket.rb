# frozen_string_literal: true

# EventMachine, from the eventmachine gem. em-websocket-rs adds em-websocket's
# {EventMachine::WebSocket} to it, and teaches `EM.start_server`,
# `EM.stop_server` and `EM.connection_count` about its native servers
# ({EmWebSocketRs::StartServer}, {EmWebSocketRs::ConnectionCount}).
module EventMachine
  # em-websocket's public module, served by em-websocket-rs.
  #
  # {EventMachine::WebSocket.run} starts a server inside `EM.run`
  # ({EventMachine::WebSocket.start} runs the reactor as well). Each accepted
  # connection is a {Connection}, handed to the block before any of its
  # bytes are read; the block sets its callbacks, which run on the reactor
  # thread.
  #
  # @example An echo server
  #   require 'em-websocket-rs'   # was: require 'em-websocket'
  #
  #   EM.run do
  #     EM::WebSocket.run(host: '0.0.0.0', port: 8080) do |ws|
  #       ws.onopen    { |handshake| puts "open #{handshake.path} from #{ws.remote_ip}" }
  #       ws.onmessage { |msg| ws.send("echo: #{msg}") }
  #       ws.onbinary  { |data| ws.send_binary(data) }
  #       ws.onclose   { |event| puts "closed #{event[:code]} clean=#{event[:was_clean]}" }
  #       ws.onerror   { |error| puts "error #{error.class}: #{error.message}" }
  #     end
  #   end
  module WebSocket
    class << self
      # Connections are given this many seconds to answer a close frame
      # (60), unless their server sets `:close_timeout`.
      # @return [Numeric]
      attr_accessor :close_timeout

      # Seconds a TERM under `start` gives connections to close (30).
      # @return [Numeric]
      attr_accessor :drain_timeout

      # The largest frame accepted, in bytes, for connections that do not set
      # their own (`ws.max_frame_size=`): 10 MiB unless set. A frame over it
      # closes the connection with 1009 ({WSMessageTooBigError} "Frame length too
      # long (N bytes)").
      # @return [Integer]
      attr_reader :max_frame_size

      # The largest frame accepted, for connections that do not set their own.
      # @param size [Integer] bytes
      # @return [Integer] size
      # @raise [ArgumentError] unless size is a positive Integer
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
    #
    # Returns when the reactor has stopped. em-websocket stopped at once
    # on TERM; see {EventMachine::WebSocket.stop} for what a drain does.
    #
    # @param options [Hash] as for {EventMachine::WebSocket.run}
    # @yield [ws] for each accepted connection, as for {EventMachine::WebSocket.run}
    # @yieldparam ws [Connection]
    # @return [void]
    # @example
    #   EM::WebSocket.start(host: '0.0.0.0', port: 8080) do |ws|
    #     ws.onmessage { |msg| ws.send(msg) }
    #   end
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
    #
    # The block runs for every accepted connection before any of its bytes
    # are read, so the callbacks it sets see everything. Connections beyond
    # `:max_connections`, and (with `:proxy_protocol`) those without a
    # valid PROXY header, never reach it.
    #
    # @param options [Hash] `:host` (default `"0.0.0.0"`), `:port`
    #   (required; 0 picks a free one) and the other options of the README's
    #   Options table (`:secure`, `:tls_options`, `:compression`, the limits,
    #   `:metrics`, ...); and `:connection_class`, a subclass of {Connection}
    #   to serve connections with
    # @yield [ws] for each accepted connection
    # @yieldparam ws [Connection] the connection (of `:connection_class`)
    # @return [EmWebSocketRs::Server] the running server (em-websocket
    #   returned EventMachine's signature); `EM.stop_server` takes it
    # @raise [ArgumentError] for a bad option value, naming the option (a
    #   TLS file that does not load included)
    # @raise [RuntimeError] outside `EM.run`, or when the port cannot be bound
    #   ("no acceptor (port is in use or requires root privileges) on host:port: ...")
    # @example
    #   EM.run do
    #     server = EM::WebSocket.run(host: '127.0.0.1', port: 0) do |ws|
    #       ws.onmessage { |msg| ws.send(msg) }
    #     end
    #     puts "listening on #{server.port}"
    #   end
    def self.run(options, &blk)
      connection_class = options.fetch(:connection_class, Connection)
      EmWebSocketRs::Reactor.instance.listen(options, connection_class, &blk)
    end

    # Stops the reactor. With `drain: seconds`, every server drains first
    # (no more accepts, a close frame 1001 "Going away" to each connection,
    # whatever is left dropped at the deadline), then the reactor stops.
    # Prints "Terminating WebSocket Server", as em-websocket does.
    #
    # @param drain [Numeric, nil] seconds the connections have to close
    #   (at most a day); nil stops at once
    # @return [void]
    # @raise [ArgumentError] when a server is running and `drain` is not a
    #   positive number of seconds of at most a day
    # @example Draining on TERM in an application's own EM.run (a trap may not take EventMachine's lock)
    #   trap('TERM') { Thread.new { EM.schedule { EM::WebSocket.stop(drain: 25) } } }
    def self.stop(drain: nil)
      puts "Terminating WebSocket Server"
      reactor = EmWebSocketRs::Reactor.current
      return EM.stop unless drain && reactor

      reactor.drain_all(EmWebSocketRs::Drain.seconds(drain)) { EM.stop }
    end

    # Whether `stop(drain:)` is under way.
    # @return [Boolean]
    def self.draining?
      EmWebSocketRs::Reactor.current&.draining? || false
    end
  end
end
