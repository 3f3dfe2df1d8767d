# frozen_string_literal: true

module EventMachine
  module WebSocket
    # `:debug => true` prints what happens to each connection, as em-websocket does.
    # Per-message paths call it as `debug [...] if @debug`, so that no array
    # is built for each message when debugging is off.
    # @api private
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
