# frozen_string_literal: true

module EmWebSocketRs
  # Applications that start em-websocket with EventMachine's own call,
  # `EM.start_server(host, port, EM::WebSocket::Connection, options) { |ws| ... }`,
  # get the native server too; every other handler goes to EventMachine.
  # Prepended to EventMachine's singleton class.
  module StartServer
    # `EM.start_server`: with {EventMachine::WebSocket::Connection} or a
    # subclass of it as the handler, starts a native WebSocket server
    # ({EventMachine::WebSocket.run} with `connection_class:` the handler);
    # anything else is EventMachine's own.
    # @param server [String] the host to listen on
    # @param port [Integer, nil]
    # @param handler [Class, Module, nil] the connection class
    # @param args [Array] for a WebSocket connection class, its options Hash
    # @yield [ws] for each accepted connection
    # @return [EmWebSocketRs::Server, Object] the native server, or
    #   EventMachine's signature for other handlers
    # @example
    #   EM.start_server('0.0.0.0', 8080, EM::WebSocket::Connection, {}) do |ws|
    #     ws.onmessage { |msg| ws.send(msg) }
    #   end
    def start_server(server, port = nil, handler = nil, *args, &block)
      if handler.is_a?(Class) && handler <= EventMachine::WebSocket::Connection
        options = (args.first || {}).merge(host: server, port: port, connection_class: handler)
        return EventMachine::WebSocket.run(options, &block)
      end
      super
    end

    # `EM.stop_server`: stops a server {EventMachine::WebSocket.run} (or
    # `EM.start_server`) returned, at once, as {EmWebSocketRs::Server#stop}
    # does; any other signature is EventMachine's.
    # @param signature [EmWebSocketRs::Server, Object]
    # @return [nil, Object]
    def stop_server(signature)
      return signature.stop if signature.is_a?(EmWebSocketRs::Server)

      super
    end
  end
end

EventMachine.singleton_class.prepend(EmWebSocketRs::StartServer)
