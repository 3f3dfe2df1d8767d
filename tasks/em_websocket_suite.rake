# frozen_string_literal: true

# rake compat:em_websocket: em-websocket's own integration suite
# (spec/integration of em-websocket v0.5.3, 129 examples) against
# em-websocket-rs, with only the suite's `require 'em-websocket'` pointed at
# em-websocket-rs. Controls, same suite, same client:
#   EMWS_IMPL=original  the installed em-websocket gem (Debian's 0.5.1; the
#                       examples for 0.5.2/0.5.3 additions fail there)
#   EMWS_IMPL=upstream  em-websocket's own lib/ at the suite's tag
# The suite is extracted at run time into tmp/em_websocket_suite/<impl>/
# from EMWS_SUITE_REPO (see tasks/em_websocket_suite/runner.rb); the task is
# skipped when that is absent. Per-example results:
# tmp/em_websocket_suite/<impl>/report.txt. Fails when any example fails.
# Does not compile: run it after `rake compile`.

require_relative 'em_websocket_suite/runner'

namespace :compat do
  desc "em-websocket's own integration suite against em-websocket-rs (EMWS_IMPL=original|upstream: controls)"
  task :em_websocket do
    impl = EmWebSocketSuite.impl_key
    result = EmWebSocketSuite.run(impl)
    puts File.read(File.join(result.workdir, 'report.txt'))
    next if result.ok?

    problems = []
    problems << "#{result.failed.size} example(s) failed" unless result.failed.empty?
    problems << 'rspec timed out' if result.timed_out
    problems << 'errors outside of examples' if result.errors_outside.positive?
    problems << 'no examples ran' if result.examples.empty?
    abort "compat:em_websocket: #{problems.join(', ')}"
  rescue EmWebSocketSuite::Skip => e
    puts "compat:em_websocket: skipped: #{e.message}"
  rescue EmWebSocketSuite::Failure => e
    abort "compat:em_websocket: #{e.message}"
  end
end
