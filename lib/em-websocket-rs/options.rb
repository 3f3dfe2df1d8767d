# frozen_string_literal: true

require_relative 'tls_options'

module EmWebSocketRs
  # The options of `EM::WebSocket.run`. Each is declared once, with its check,
  # default and description, in the native server (`Native.options` lists
  # them); the Ruby side only maps EventMachine's `:tls_options` (TLS below).
  # @api private
  module Options
    module_function

    # The Hash the native server reads; it raises ArgumentError naming a bad option.
    # @param options [Hash] the options of `EM::WebSocket.run`
    # @return [Hash]
    # @raise [ArgumentError] when options is not a Hash, or for bad `:tls_options`
    # @api private
    def native(options)
      raise ArgumentError, "options must be a Hash, got #{options.class}" unless options.is_a?(Hash)

      options.merge(tls_options: TLS.native(options))
    end
  end
end
