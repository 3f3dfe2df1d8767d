# frozen_string_literal: true

# rake bench: the same example applications (examples/echo.rb,
# examples/multicast.rb) served by em-websocket-rs and by the original
# em-websocket gem, loaded by bench/target/release/emws-bench.
#
#   rake bench                  3 alternating rounds, medians (~5 minutes)
#   BENCH_ROUNDS=5 rake bench   more rounds
#   BENCH_QUICK=1 rake bench    one short round (~1 minute smoke run)
#   BENCH_IMPLS=rs rake bench   only one implementation (rs, original)
#   BENCH_COMPILE=0 rake bench  do not run `rake compile` first
#
# Writes bench/results.md and bench/results.json.

require 'json'
require 'open3'
require 'rbconfig'
require 'time'
require 'etc'
require 'fileutils'
require_relative '../tasks/support/server_process'

module EmwsBench
  ROOT = File.expand_path('..', __dir__)
  GENERATOR = File.join(ROOT, 'target', 'release', 'emws-bench')
  NATIVE_LIB = File.join(ROOT, 'lib', 'em-websocket-rs', "em_websocket_rs.#{RbConfig::CONFIG['DLEXT']}")
  USE_ORIGINAL = File.join(__dir__, 'use_original.rb')
  RESULTS_MD = File.join(__dir__, 'results.md')
  RESULTS_JSON = File.join(__dir__, 'results.json')
  START_LIMIT = 30 # seconds for a server to accept connections
  # Servers and their logs live here; lib/ is copied here first so that a
  # concurrent `rake compile` cannot swap the extension under a running server.
  WORK_DIR = File.join(ROOT, 'tmp', 'bench')
  LIB_COPY = File.join(WORK_DIR, 'lib')

  Impl = Struct.new(:key, :label, :ruby_args)
  IMPLS = [
    Impl.new('rs', 'em-websocket-rs', ['-I', LIB_COPY]),
    Impl.new('original', 'em-websocket', ["-r#{USE_ORIGINAL}"])
  ].freeze

  # One generator run on one server; `metrics` are the table rows it feeds:
  # [label, JSON key, :higher or :lower is better, scale, unit].
  # `only` names the one implementation a scenario runs on (an API the other lacks).
  Scenario = Struct.new(:key, :title, :app, :args, :metrics, :only, keyword_init: true)

  module_function

  def quick?
    ENV['BENCH_QUICK'] == '1'
  end

  def rounds
    quick? ? 1 : Integer(ENV.fetch('BENCH_ROUNDS', '3'))
  end

  def timing(duration)
    quick? ? %w[--duration 1.5 --warmup 0.5] : ['--duration', duration.to_s, '--warmup', '1']
  end

  def scenarios
    [
      Scenario.new(key: 'latency', title: 'latency 1 x 1 x 32 B text', app: 'echo',
                   args: ['latency', '--size', '32', *timing(3)],
                   metrics: [['p50 latency', 'p50_us', :lower, 1, 'us'],
                             ['p99 latency', 'p99_us', :lower, 1, 'us']]),
      Scenario.new(key: 'echo_32', title: 'echo 100 conns x 10 in flight x 32 B text', app: 'echo',
                   args: ['echo', '--connections', '100', '--in-flight', '10', '--size', '32', *timing(4)],
                   metrics: [['round trips/s', 'round_trips_per_s', :higher, 1, ''],
                             ['server CPU per round trip', 'server_cpu_us_per_round_trip', :lower, 1, 'us'],
                             ['p99 latency under this load', 'p99_us', :lower, 0.001, 'ms']]),
      Scenario.new(key: 'echo_16k', title: 'echo 100 conns x 10 in flight x 16 KiB binary', app: 'echo',
                   args: ['echo', '--connections', '100', '--in-flight', '10', '--size', '16384', '--binary',
                          *timing(4)],
                   metrics: [['round trips/s', 'round_trips_per_s', :higher, 1, ''],
                             ['server CPU per round trip', 'server_cpu_us_per_round_trip', :lower, 1, 'us']]),
      Scenario.new(key: 'broadcast', title: 'broadcast to 1,000 receivers, 32 B text', app: 'multicast',
                   args: ['broadcast', '--connections', '1000', '--size', '32', *timing(4)],
                   metrics: [['deliveries/s', 'deliveries_per_s', :higher, 1, ''],
                             ['server CPU per delivery', 'server_cpu_us_per_delivery', :lower, 1, 'us']]),
      Scenario.new(key: 'broadcast_native', title: 'broadcast to 1,000 receivers through EmWebSocketRs::Channel',
                   app: 'fanout', only: 'rs',
                   args: ['broadcast', '--connections', '1000', '--size', '32', *timing(4)],
                   metrics: [['deliveries/s', 'deliveries_per_s', :higher, 1, ''],
                             ['server CPU per delivery', 'server_cpu_us_per_delivery', :lower, 1, 'us']]),
      Scenario.new(key: 'idle', title: 'idle: 10,000 open connections', app: 'echo',
                   args: ['idle', '--connections', '10000', '--hold', quick? ? '1' : '2'],
                   metrics: [['server memory per connection', 'rss_kb_per_connection', :lower, 1, 'KB'],
                             ['handshakes/s while opening them', 'handshakes_per_s', :higher, 1, '']])
    ]
  end

  def run
    Dir.chdir(ROOT) do
      build
      prepare_work_dir
      impls, notes = available_impls
      raise 'neither implementation can run: nothing to benchmark' if impls.empty?

      raise_fd_limit
      runs = Hash.new { |h, k| h[k] = [] } # [scenario, impl] => [report, ...]
      failures = []
      rounds.times do |round|
        impls.each do |impl|
          puts "== round #{round + 1}/#{rounds}: #{impl.label}"
          run_round(impl, runs, failures)
        end
      end
      write_results(impls, notes, runs, failures)
      puts File.read(RESULTS_MD)
      abort "bench: #{failures.size} run(s) failed:\n  #{failures.join("\n  ")}" unless failures.empty?
    end
  end

  def build
    system('cargo', 'build', '--release', '-p', 'emws-bench', exception: true)
  end

  def prepare_work_dir
    FileUtils.rm_rf(WORK_DIR)
    FileUtils.mkdir_p(WORK_DIR)
    FileUtils.cp_r(File.join(ROOT, 'lib'), LIB_COPY)
  end

  # The implementations that load, each checked to really be the one named.
  def available_impls
    notes = []
    impls = IMPLS.select { |impl| selected?(impl) }
    (IMPLS - impls).each { |impl| notes << "#{impl.label} column skipped: not in BENCH_IMPLS" }
    impls = impls.select do |impl|
      problem = impl_problem(impl)
      notes << "#{impl.label} column skipped: #{problem}" if problem
      problem.nil?
    end
    [impls, notes]
  end

  def selected?(impl)
    wanted = ENV.fetch('BENCH_IMPLS', 'rs,original').split(',').map(&:strip)
    wanted.include?(impl.key)
  end

  def impl_problem(impl)
    if impl.key == 'rs'
      return "#{NATIVE_LIB} is missing (run `rake compile`)" unless File.exist?(NATIVE_LIB)
    end
    probe = "require 'em-websocket-rs'; " \
            'print EM::WebSocket::Connection.instance_method(:send_text).source_location.first'
    out, err, status = Open3.capture3(RbConfig.ruby, *impl.ruby_args, '-e', probe)
    return "it does not load: #{err.lines.first&.strip}" unless status.success?

    ours = out.start_with?(LIB_COPY)
    expected_ours = impl.key == 'rs'
    return "`require 'em-websocket-rs'` loaded #{out}, not #{impl.label}" unless ours == expected_ours

    nil
  end

  def raise_fd_limit
    _soft, hard = Process.getrlimit(:NOFILE)
    Process.setrlimit(:NOFILE, hard, hard)
  end

  # Echo-server scenarios share one server per round; idle and broadcast get fresh ones.
  def run_round(impl, runs, failures)
    mine = scenarios.select { |scenario| scenario.only.nil? || scenario.only == impl.key }
    groups = mine.chunk_while { |a, b| a.app == b.app && a.key != 'idle' && b.key != 'idle' }
    groups.each do |group|
      with_server(impl, group.first.app) do |server|
        group.each do |scenario|
          runs[[scenario.key, impl.key]] << generate(scenario, server)
        rescue StandardError => e
          failures << "#{scenario.title} on #{impl.label}: #{e.message}"
          warn "   FAILED: #{e.message}"
        end
      end
    rescue StandardError => e
      failures << "#{impl.label} #{group.first.app} server: #{e.message}"
      warn "   FAILED: #{e.message}"
    end
  end

  def generate(scenario, server)
    args = [*scenario.args, '--url', "ws://127.0.0.1:#{server.port}/", '--server-pid', server.pid.to_s, '--json']
    out, err, status = Open3.capture3(GENERATOR, *args)
    exit = server.exit_status
    died = exit && " (the server died: #{exit})"
    raise "emws-bench #{args.join(' ')}: #{err.strip}#{died}" unless status.success?
    raise "the server died during #{scenario.key}: #{exit}" if died

    report = JSON.parse(out.lines.last)
    summary = scenario.metrics.map { |label, key, *| "#{label} #{report[key]}" }.join(', ')
    puts "   #{scenario.title}: #{summary} (client CPU #{report['client_cpu_share']})"
    report
  end

  def with_server(impl, app)
    @servers = (@servers || 0) + 1
    log = File.join(WORK_DIR, format('%02d-%s-%s.log', @servers, impl.key, app))
    server = ServerProcess.new(File.join('examples', "#{app}.rb"), log: log, ruby_args: impl.ruby_args,
                               env: { 'HOST' => '127.0.0.1' }, pgroup: false)
    begin
      server.start.wait_for_port(
        limit: START_LIMIT,
        exited: "server exited at start; see #{log}",
        timeout: "server did not listen on #{server.port} within #{START_LIMIT}s; see #{log}"
      )
      yield server
    ensure
      server.stop(grace: 5)
    end
  end

  def median(values)
    sorted = values.compact.sort
    return nil if sorted.empty?

    mid = sorted.size / 2
    sorted.size.odd? ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0
  end

  # Table rows: one per metric, with the median over rounds for each implementation.
  def rows(impls, runs)
    scenarios.flat_map do |scenario|
      scenario.metrics.map do |label, key, better, scale, unit|
        values = impls.to_h do |impl|
          [impl.key, median(runs[[scenario.key, impl.key]].map { |r| r[key] })&.*(scale)]
        end
        { 'scenario' => scenario.title, 'metric' => label, 'key' => key, 'better' => better.to_s,
          'unit' => unit, 'values' => values, 'ratio' => ratio(values) }
      end
    end
  end

  def ratio(values)
    rs = values['rs']
    original = values['original']
    return nil unless rs && original && original.positive?

    (rs / original.to_f).round(3)
  end

  def format_value(value, unit)
    return 'n/a' if value.nil?

    text = if value >= 1000 then value.round.to_s.reverse.scan(/\d{1,3}/).join(',').reverse
           elsif value >= 10 then format('%.1f', value)
           else format('%.2f', value)
           end
    unit.empty? ? text : "#{text} #{unit}"
  end

  def machine
    cpu = File.foreach('/proc/cpuinfo').find { |l| l.start_with?('model name') }&.split(':', 2)&.last&.strip
    commit = `git -C #{ROOT} rev-parse --short HEAD 2>/dev/null`.strip
    {
      'date' => Time.now.utc.iso8601,
      'nproc' => Etc.nprocessors,
      'cpu' => cpu,
      'kernel' => "#{Etc.uname[:sysname]} #{Etc.uname[:release]}",
      'ruby' => `#{RbConfig.ruby} -v`.strip,
      'commit' => commit.empty? ? nil : commit,
      'rounds' => rounds,
      'quick' => quick?
    }
  end

  def write_results(impls, notes, runs, failures)
    info = machine
    table = rows(impls, runs)
    File.write(RESULTS_JSON, JSON.pretty_generate(
      'machine' => info, 'implementations' => impls.map(&:label), 'notes' => notes, 'failures' => failures,
      'table' => table,
      'runs' => runs.map { |(scenario, impl), reports| { 'scenario' => scenario, 'impl' => impl, 'reports' => reports } }
    ) + "\n")
    File.write(RESULTS_MD, markdown(impls, notes, failures, table, runs, info))
  end

  def markdown(impls, notes, failures, table, runs, info)
    labels = IMPLS.map(&:label)
    present = impls.map(&:key)
    lines = ['# em-websocket-rs vs em-websocket', '']
    lines << '**BENCH_QUICK smoke run: not for comparison.**' << '' if info['quick']
    lines << "#{info['date']}, #{info['nproc']} cores (#{info['cpu']}), #{info['kernel']}, #{info['ruby']}, " \
             "commit #{info['commit'] || 'unknown'}; median of #{info['rounds']} alternating round(s). " \
             'Same app (examples/echo.rb, examples/multicast.rb) on both; examples/fanout.rb (the native ' \
             'fan-out API) on em-websocket-rs only; load from bench/ (emws-bench), which verifies every payload.'
    lines << ''
    lines << "| scenario | metric | #{labels.join(' | ')} | ratio (rs / original) |"
    lines << '|---|---|---|---|---|'
    table.each do |row|
      cells = IMPLS.map { |impl| present.include?(impl.key) ? format_value(row['values'][impl.key], row['unit']) : 'skipped' }
      ratio = row['ratio'] ? "#{format('%.3g', row['ratio'])}x" : 'n/a'
      better = row['better'] == 'higher' ? 'higher is better' : 'lower is better'
      lines << "| #{row['scenario']} | #{row['metric']} (#{better}) | #{cells.join(' | ')} | #{ratio} |"
    end
    lines << ''
    lines << 'Ratio above 1 means em-websocket-rs has the larger figure: better for rates, worse for costs.'
    lines << ''
    lines << 'Generator CPU (share of one core, median) — near 1.0 means a figure is client-bound:'
    scenarios.each do |scenario|
      shares = impls.map do |impl|
        "#{impl.label} #{median(runs[[scenario.key, impl.key]].map { |r| r['client_cpu_share'] })&.round(3) || 'n/a'}"
      end
      lines << "- #{scenario.title}: #{shares.join(', ')}"
    end
    (notes + failures.map { |f| "FAILED: #{f}" }).each_with_index do |note, i|
      lines << '' if i.zero?
      lines << "- #{note}"
    end
    "#{lines.join("\n")}\n"
  end
end

desc 'Benchmark em-websocket-rs against em-websocket 0.5 (BENCH_ROUNDS=3, BENCH_QUICK=1, BENCH_IMPLS=rs,original)'
task :bench do
  # Measure the current extension when the project's Rakefile (which imports this file) can build it.
  Rake::Task[:compile].invoke if Rake::Task.task_defined?(:compile) && ENV['BENCH_COMPILE'] != '0'
  EmwsBench.run
end
