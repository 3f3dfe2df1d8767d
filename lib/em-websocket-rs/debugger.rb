# frozen_string_literal: true

module EventMachine
  module WebSocket
    # `:debug => true` prints what happens to each connection, as em-websocket does.
    module Debugger
      private

      def debug(*data)
        return unless @debug

        require 'pp'
        pp data
        puts
      end
    end
  end
end
