# frozen_string_literal: true

# rake soak: examples/echo.rb in its own process under a bounded soak —
# connections churning (clean closes, FIN, RST, vanishing mid-frame and
# mid-handshake), messages of every size checked echo by echo, and steady
# traffic from emws-bench when it is built — while its RSS and open fds are
# sampled every second.
#
# rake soak:hostile: the same, plus hostile and broken clients (garbage,
# oversized heads and frames, invalid UTF-8, ping floods, half-open and
# trickled handshakes, unfinished messages), each checking that the server
# refused it as it should.
#
#   SOAK_SECONDS=60          seconds of load (default 60)
#   SOAK_CHURNERS=6          churning client threads
#   SOAK_ATTACKERS=6         hostile client threads (soak:hostile)
#   SOAK_RSS_GROWTH_MB=24    RSS growth allowed from after warm-up to the end
#   SOAK_IMPL=original       soak the original em-websocket instead
#
# Fails when a well-behaved client lost or saw a wrong message, the server
# died or stopped answering, its RSS grew past the bound after warm-up, its
# open fds did not come back to where they were before the load, or a
# hostile client was not refused as expected. Writes tmp/soak/MODE.md.

require_relative 'soak/server'
require_relative 'soak/clients'
require_relative 'soak/run'

desc 'Soak examples/echo.rb: churning connections, message flow, abrupt disconnects; flat RSS and fds (SOAK_SECONDS=60)'
task :soak do
  EmwsSoak::Run.new(mode: :churn).call
end

namespace :soak do
  desc 'rake soak plus hostile and broken clients, while well-behaved ones check every echo'
  task :hostile do
    EmwsSoak::Run.new(mode: :hostile).call
  end
end
