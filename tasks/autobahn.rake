# frozen_string_literal: true

# rake autobahn: Autobahn|Testsuite's fuzzing client against
# examples/autobahn_echo.rb, on em-websocket-rs and on the original
# em-websocket 0.5.1 side by side.
#
#   AUTOBAHN_CASES="1.*,2.*"   narrow the cases (default: all of them)
#   AUTOBAHN_ORIGINAL=0        skip the original em-websocket
#   AUTOBAHN_FRAMING=pool      the placements to run em-websocket-rs in
#                              (default: reactor,pool, one run each)
#   AUTOBAHN_PYTHON2=path      the CPython 2.7 to run the suite with
#
# Fails when a case of em-websocket-rs is not OK, NON-STRICT or
# INFORMATIONAL (or its closing behaviour not OK or INFORMATIONAL).
# Reports: reports/servers-reactor/ and reports/servers-pool/
# (em-websocket-rs), reports/servers-original/,
# and the side-by-side table reports/autobahn-summary.md.

require_relative 'autobahn/suite'
require_relative 'autobahn/runner'
require_relative 'autobahn/report'

namespace :autobahn do
  desc 'Install Autobahn|Testsuite into .autobahn/ (reused by later runs)'
  task :setup do
    Autobahn::Suite.install
  end
end

desc 'Autobahn|Testsuite against em-websocket-rs (and the original em-websocket, unless AUTOBAHN_ORIGINAL=0)'
task autobahn: (Rake::Task.task_defined?(:compile) ? [:compile] : []) do
  wstest = Autobahn::Suite.install
  cases = ENV.fetch('AUTOBAHN_CASES', '*').split(',').map(&:strip).reject(&:empty?)
  # Both framing placements: the connections framed on the reactor thread
  # and on the pool run different code around the same core.
  placements = ENV.fetch('AUTOBAHN_FRAMING', 'reactor,pool').split(',').map(&:strip)
  servers = placements.to_h do |placement|
    name = "em-websocket-rs (#{placement})"
    [name, Autobahn::Runner.new(name: name, outdir: "reports/servers-#{placement}", cases: cases,
                                env: { 'EMWS_FRAMING' => placement }).run(wstest)]
  end
  if ENV['AUTOBAHN_ORIGINAL'] != '0'
    servers['em-websocket 0.5.1'] = Autobahn::Runner.new(
      name: 'em-websocket 0.5.1', outdir: 'reports/servers-original', cases: cases,
      preload: [File.expand_path('use_original.rb', __dir__)]
    ).run(wstest)
  end

  table = Autobahn::Report.markdown(servers)
  summary = File.expand_path('../reports/autobahn-summary.md', __dir__)
  File.write(summary, <<~MD)
    # Autobahn|Testsuite (fuzzingclient), cases #{cases.join(', ')}

    #{table}

    Passed: behavior OK, NON-STRICT or INFORMATIONAL, with closing behavior OK or INFORMATIONAL.
  MD
  puts table
  servers.each { |name, results| Autobahn::Report.failure_lines(name, results).each { |line| puts line } }
  puts "autobahn: summary in #{summary}"

  placements.each do |placement|
    name = "em-websocket-rs (#{placement})"
    failures = Autobahn::Report.failures(servers.fetch(name))
    abort "autobahn: #{failures.size} case(s) not passed by #{name}" unless failures.empty?
    puts "autobahn: all #{servers[name].size} cases passed by #{name}"
  end
end
