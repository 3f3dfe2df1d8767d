# frozen_string_literal: true

# rake compat:em_websocket: em-websocket's own integration suite
# (spec/integration of em-websocket v0.5.3, 129 examples) against
# em-websocket-rs, with only the suite's `require 'em-websocket'` pointed at
# em-websocket-rs. EMWS_IMPL=original runs it against the installed
# em-websocket gem instead (Debian's 0.5.1: its 0.5.1-vs-0.5.3 differences
# fail there). The suite is extracted at run time into
# tmp/em_websocket_suite/<impl>/ from EMWS_SUITE_REPO (see
# tasks/em_websocket_suite/runner.rb); the task is skipped when it is absent.
# Per-example results: tmp/em_websocket_suite/<impl>/report.txt.
# Fails when any example fails.

require_relative 'em_websocket_suite/runner'

namespace :compat do
  desc "em-websocket's own integration suite against em-websocket-rs (EMWS_IMPL=original: the original gem)"
  task :em_websocket do
    impl = EmWebSocketSuite.impl_key
    result = EmWebSocketSuite.run(impl)
    puts File.read(File.join(result.workdir, 'report.txt'))
    abort "compat:em_websocket: #{result.failed.size} example(s) failed" unless result.ok?
  rescue EmWebSocketSuite::Skip => e
    puts "compat:em_websocket: skipped: #{e.message}"
  rescue EmWebSocketSuite::Failure => e
    abort "compat:em_websocket: #{e.message}"
  end
end
