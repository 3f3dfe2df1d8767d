# frozen_string_literal: true

module EmWebSocketRs
  # Applications that start em-websocket with EventMachine's own call,
  #   EM.start_server(host, port, EM::WebSocket::Connection, options) { |ws| ... }
  # get the native server too; every other handler goes to EventMachine.
  module StartServer
    def start_server(server, port = nil, handler = nil, *args, &block)
      if handler.is_a?(Class) && handler <= EventMachine::WebSocket::Connection
        options = (args.first || {}).merge(host: server, port: port, connection_class: handler)
        return EventMachine::WebSocket.run(options, &block)
      end
      super
    end

    def stop_server(signature)
      return signature.stop if signature.is_a?(EmWebSocketRs::Server)

      super
    end
  end
end

EventMachine.singleton_class.prepend(EmWebSocketRs::StartServer)
