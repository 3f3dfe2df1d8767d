# frozen_string_literal: true

# em-websocket-rs: em-websocket's API on a Rust core.
#
#   require 'em-websocket-rs'   # instead of require 'em-websocket'

require 'eventmachine'
require 'socket'

require 'em-websocket-rs/version'
require 'em-websocket-rs/native_extension' # the compiled extension, for this Ruby
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

# em-websocket-rs's own namespace. em-websocket's API is
# {EventMachine::WebSocket}; this module holds what em-websocket did not
# have: the native fan-out {EmWebSocketRs::Channel}, the running
# {EmWebSocketRs::Server} that `EM::WebSocket.run` returns, and the
# process's figures ({EmWebSocketRs.stats}).
#
# The tokio runtime (it accepts, keeps the timers and runs the connections
# of servers framed on the pool) uses one worker thread per core; `EMWS_WORKERS=n` in the environment, or
# `EmWebSocketRs::Native.worker_threads = n` before the first server
# starts, changes that. The rest of `EmWebSocketRs::Native`, the compiled
# extension, is internal.
module EmWebSocketRs
  # This process's figures, every server it has started summed: a Hash of
  # counters and gauges (`Server#stats` gives one server's). The same
  # figures as `/metrics` (see `:metrics`), named without the `emws_`
  # prefix and `_total` suffix; labelled ones are Hashes by label value.
  # @return [Hash{Symbol => Integer, Hash{String => Integer}}]
  # @example
  #   EmWebSocketRs.stats[:connections]                # => 812
  #   EmWebSocketRs.stats[:messages_received]['text']  # => 1204332
  #   EmWebSocketRs.stats[:handshakes_failed]          # => {"invalid_request" => 3, "timeout" => 1, ...}
  def self.stats
    Native.stats
  end

  # The original gem must not load on top of this one: a later
  # `require 'em-websocket'` anywhere in the application is made a no-op.
  # @return [void]
  # @api private
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
