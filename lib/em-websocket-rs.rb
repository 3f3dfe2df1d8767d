# frozen_string_literal: true

# em-websocket-rs: em-websocket's API on a Rust core.
#
#   require 'em-websocket-rs'   # instead of require 'em-websocket'

require 'eventmachine'
require 'socket'

require 'em-websocket-rs/version'
require 'em-websocket-rs/em_websocket_rs'
require 'em-websocket-rs/errors'
require 'em-websocket-rs/debugger'
require 'em-websocket-rs/handshake'
require 'em-websocket-rs/upgrade'
require 'em-websocket-rs/framing'
require 'em-websocket-rs/options'
require 'em-websocket-rs/connection/eventmachine_methods'
require 'em-websocket-rs/connection/native_events'
require 'em-websocket-rs/connection'
require 'em-websocket-rs/handler'
require 'em-websocket-rs/file_streamer'
require 'em-websocket-rs/reactor'
require 'em-websocket-rs/channel'
require 'em-websocket-rs/websocket'
require 'em-websocket-rs/start_server'

module EmWebSocketRs
  # This process's figures, every server it has started summed: a Hash of
  # counters and gauges (`Server#stats` gives one server's). The same
  # figures as `/metrics` (see `:metrics`), named without the `emws_`
  # prefix and `_total` suffix; labelled ones are Hashes by label value.
  def self.stats
    Native.stats
  end

  # The original gem must not load on top of this one: a later
  # `require 'em-websocket'` anywhere in the application is made a no-op.
  def self.shadow_original
    paths = []
    if $LOAD_PATH.respond_to?(:resolve_feature_path)
      found = $LOAD_PATH.resolve_feature_path('em-websocket') rescue nil
      paths << found[1] if found && found[0] == :rb
    end
    if defined?(Gem::Specification)
      Gem::Specification.each do |spec|
        next unless spec.name == 'em-websocket'

        paths << File.join(spec.full_gem_path, 'lib', 'em-websocket.rb')
      end
    end
    paths.each { |path| $LOADED_FEATURES << path unless $LOADED_FEATURES.include?(path) }
  end
end

EmWebSocketRs.shadow_original
