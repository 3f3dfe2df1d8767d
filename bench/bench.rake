# frozen_string_literal: true

# rake bench: the same example applications (examples/echo.rb,
# examples/multicast.rb) served by em-websocket-rs and by the original
# em-websocket gem, loaded by target/release/emws-bench; examples/fanout.rb
# and examples/echo_forked.rb (APIs the original lacks) on em-websocket-rs only;
# a broadcast across two processes through a redis-server of its own
# (examples/redis_chat.rb against bench/apps/redis_chat_original.rb).
#
#   rake bench                  3 alternating rounds, medians (~5 minutes)
#   BENCH_ROUNDS=5 rake bench   more rounds
#   BENCH_QUICK=1 rake bench    one short round (~1 minute smoke run)
#   BENCH_IMPLS=rs rake bench   only one implementation (rs, original)
#   BENCH_COMPILE=0 rake bench  do not run `rake compile` first
#
# Writes bench/results.md and bench/results.json, then bench/results.png
# (bench/chart.py; `rake bench:chart` redraws it from results.json).

require 'json'
require 'open3'
require 'rbconfig'
require 'time'
require 'etc'
require 'fileutils'
require_relative '../tasks/support/server_process'
require_relative '../tasks/support/redis_server'

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
  # `workers`: the app forks that many processes (WORKERS); the server CPU is
  # theirs and the parent's. `baseline`: for `only` scenarios, the scenario
  # whose figures fill the other implementation's column, for the ratio, with
  # `baseline_note` saying what they are.
  # `original_app`: the original's own app, where it needs another (a path).
  # `servers`: that many separate server processes (the load gets --url2 and
  # every pid), all given REDIS_URL for the bench's redis-server when `redis`.
  # `pace_of`: run after the rounds, at the original's median messages/s in
  # that scenario (--rate), to measure latency at the original's best rate.
  # `env`: more environment for the server processes.
  Scenario = Struct.new(:key, :title, :app, :original_app, :args, :metrics, :only, :workers, :servers, :redis,
                        :baseline, :baseline_note, :pace_of, :env, keyword_init: true)
  CHART = File.join(__dir__, 'chart.py')
  RESULTS_PNG = File.join(__dir__, 'results.png')
  PYTHON = '/usr/bin/python3'

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
    echo32 = ['echo', '--connections', '100', '--in-flight', '10', '--size', '32', *timing(4)]
    echo_rate = [['round trips/s', 'round_trips_per_s', :higher, 1, ''],
                 ['server CPU per round trip', 'server_cpu_us_per_round_trip', :lower, 1, 'us']]
    [
      Scenario.new(key: 'latency', title: 'latency 1 x 1 x 32 B text', app: 'echo',
                   args: ['latency', '--size', '32', *timing(3)],
                   metrics: [['p50 latency', 'p50_us', :lower, 1, 'us'],
                             ['p99 latency', 'p99_us', :lower, 1, 'us']]),
      Scenario.new(key: 'echo_32', title: 'echo 100 conns x 10 in flight x 32 B text', app: 'echo', args: echo32,
                   metrics: [*echo_rate, ['p99 latency under this load', 'p99_us', :lower, 0.001, 'ms']]),
      # What reading the figures costs: the same load, with a scraper reading
      # GET /metrics ten times a second (compare with the echo_32 row).
      Scenario.new(key: 'echo_32_scraped',
                   title: 'echo 100 conns x 10 in flight x 32 B text, metrics: true, scraped 10 times a second',
                   app: 'echo', only: 'rs', env: { 'METRICS' => '1' }, baseline: 'echo_32',
                   baseline_note: 'not scraped; em-websocket-rs unscraped is the echo 100 x 10 x 32 B row',
                   args: [*echo32, '--scrape-every', '0.1'], metrics: echo_rate),
      # What the rate limits' check costs: limits far above the load, so
      # that every message is checked and none is refused.
      Scenario.new(key: 'echo_32_rate_limited',
                   title: 'echo 100 conns x 10 in flight x 32 B text, rate limits on (1,000,000 messages/s each, never reached)',
                   app: 'echo', only: 'rs', env: { 'RATE_LIMIT' => '1000000' }, baseline: 'echo_32',
                   baseline_note: 'no limits; em-websocket-rs without them is the echo 100 x 10 x 32 B row',
                   args: echo32, metrics: echo_rate),
      # No pipelining: one message per connection per turn, so every message
      # costs its own read, write and hand-offs, which the kernel dominates.
      Scenario.new(key: 'echo_32_unpipelined', title: 'echo 100 conns x 1 in flight x 32 B text', app: 'echo',
                   args: ['echo', '--connections', '100', '--in-flight', '1', '--size', '32', *timing(4)],
                   metrics: [*echo_rate, ['p99 latency under this load', 'p99_us', :lower, 0.001, 'ms']]),
      Scenario.new(key: 'echo_16k', title: 'echo 100 conns x 10 in flight x 16 KiB binary', app: 'echo',
                   args: ['echo', '--connections', '100', '--in-flight', '10', '--size', '16384', '--binary',
                          *timing(4)],
                   metrics: echo_rate),
      Scenario.new(key: 'echo_32_reuse_port',
                   title: 'echo 100 conns x 10 in flight x 32 B text, 2 processes on one port (:reuse_port)',
                   app: 'echo_forked', only: 'rs', workers: 2, baseline: 'echo_32', baseline_note: '1 process',
                   args: echo32, metrics: echo_rate),
      Scenario.new(key: 'broadcast', title: 'broadcast to 1,000 receivers, 32 B text', app: 'multicast',
                   args: ['broadcast', '--connections', '1000', '--size', '32', *timing(4)],
                   metrics: [['deliveries/s', 'deliveries_per_s', :higher, 1, ''],
                             ['server CPU per delivery', 'server_cpu_us_per_delivery', :lower, 1, 'us']]),
      Scenario.new(key: 'broadcast_native', title: 'broadcast to 1,000 receivers through EmWebSocketRs::Channel',
                   app: 'fanout', only: 'rs',
                   args: ['broadcast', '--connections', '1000', '--size', '32', *timing(4)],
                   metrics: [['deliveries/s', 'deliveries_per_s', :higher, 1, ''],
                             ['server CPU per delivery', 'server_cpu_us_per_delivery', :lower, 1, 'us']]),
      *redis_scenarios,
      Scenario.new(key: 'idle', title: 'idle: 10,000 open connections', app: 'echo',
                   args: ['idle', '--connections', '10000', '--hold', quick? ? '1' : '2'],
                   metrics: [['server memory per connection', 'rss_kb_per_connection', :lower, 1, 'KB'],
                             ['handshakes/s while opening them', 'handshakes_per_s', :higher, 1, '']])
    ]
  end

  # 1,000 receivers, half on each of two processes, and a sender on the
  # first: every message crosses Redis to reach the second process's half.
  # The original app is what its users write: redis-rb subscribed in a thread,
  # EM.schedule into an EM::Channel, ws.send per receiver.
  def redis_scenarios
    receivers = ['broadcast', '--connections', '1000']
    saturated = [['deliveries/s', 'deliveries_per_s', :higher, 1, ''],
                 ['server CPU per delivery (both processes)', 'server_cpu_us_per_delivery', :lower, 1, 'us'],
                 ['p99 latency, saturated', 'p99_us', :lower, 0.001, 'ms']]
    redis = { app: 'redis_chat', original_app: 'bench/apps/redis_chat_original.rb', servers: 2, redis: true }
    [
      Scenario.new(key: 'redis_64', title: 'broadcast through Redis to 1,000 receivers on 2 processes, 64 B text',
                   args: [*receivers, '--size', '64', *timing(4)], metrics: saturated, **redis),
      Scenario.new(key: 'redis_4k', title: 'broadcast through Redis to 1,000 receivers on 2 processes, 4 KiB text',
                   args: [*receivers, '--size', '4096', *timing(4)], metrics: saturated, **redis),
      Scenario.new(key: 'redis_64_paced',
                   title: "broadcast through Redis, 64 B text, at the original's best rate (its median messages/s)",
                   args: [*receivers, '--size', '64', *timing(4)], only: 'rs', pace_of: 'redis_64',
                   baseline: 'redis_64', baseline_note: 'saturated',
                   metrics: [['messages/s', 'messages_per_s', :higher, 1, 'msg/s'],
                             ['server CPU per delivery (both processes)', 'server_cpu_us_per_delivery', :lower, 1,
                              'us'],
                             ['p50 latency', 'p50_us', :lower, 0.001, 'ms'],
                             ['p99 latency', 'p99_us', :lower, 0.001, 'ms']],
                   **redis.slice(:app, :servers, :redis))
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
      with_redis(notes) do
        rounds.times do |round|
          impls.each do |impl|
            puts "== round #{round + 1}/#{rounds}: #{impl.label}"
            run_round(impl, runs, failures)
          end
        end
        run_paced(impls, runs, failures, notes)
      end
      write_results(impls, notes, runs, failures)
      puts File.read(RESULTS_MD)
      chart
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

  # The redis-server the Redis scenarios share, or none (and a note) when it
  # is not installed: those scenarios are then skipped.
  def with_redis(notes)
    @redis = nil
    if scenarios.none?(&:redis)
      yield
    elsif !RedisServer.available?
      notes << "Redis scenarios skipped: #{RedisServer::BINARY} is not installed (bin/deps installs it)"
      yield
    else
      @redis = RedisServer.new.start
      begin
        yield
      ensure
        @redis.stop
        @redis = nil
      end
    end
  end

  def runnable?(scenario)
    !scenario.redis || !@redis.nil?
  end

  def raise_fd_limit
    _soft, hard = Process.getrlimit(:NOFILE)
    Process.setrlimit(:NOFILE, hard, hard)
  end

  # Scenarios on the same app share its servers within a round; idle gets
  # fresh ones. Paced scenarios wait for the rounds (run_paced).
  def run_round(impl, runs, failures)
    mine = scenarios.select do |scenario|
      (scenario.only.nil? || scenario.only == impl.key) && scenario.pace_of.nil? && runnable?(scenario)
    end
    groups = mine.chunk_while { |a, b| a.app == b.app && a.env == b.env && a.key != "idle" && b.key != "idle" }
    groups.each { |group| run_group(impl, group, runs, failures) }
  end

  # Each paced scenario, `rounds` times on one set of servers, at the rate
  # the original reached in its `pace_of` scenario (median over the rounds).
  def run_paced(impls, runs, failures, notes)
    scenarios.select(&:pace_of).each do |scenario|
      next unless runnable?(scenario) # with_redis has said why

      impl = impls.find { |i| i.key == scenario.only }
      rate = median(runs[[scenario.pace_of, 'original']].map { |r| r['messages_per_s'] })
      problem = if impl.nil? then "#{scenario.only} is not measured"
                elsif rate.nil? || rate <= 0 then "the original has no messages/s in #{scenario.pace_of}"
                end
      next notes << "#{scenario.title} skipped: #{problem}" if problem

      puts "== paced at #{rate.round(1)} messages/s: #{impl.label}"
      paced = scenario.dup.tap { |s| s.args = [*s.args, '--rate', rate.round(1).to_s] }
      run_group(impl, [paced] * rounds, runs, failures)
    end
  end

  def run_group(impl, group, runs, failures)
    with_servers(impl, group.first) do |servers|
      group.each do |scenario|
        runs[[scenario.key, impl.key]] << generate(scenario, servers)
      rescue StandardError => e
        failures << "#{scenario.title} on #{impl.label}: #{e.message}"
        warn "   FAILED: #{e.message}"
      end
    end
  rescue StandardError => e
    failures << "#{impl.label} #{group.first.app} server: #{e.message}"
    warn "   FAILED: #{e.message}"
  end

  def generate(scenario, servers)
    first, second = servers
    args = [*scenario.args, '--url', "ws://127.0.0.1:#{first.port}/"]
    args.push('--url2', "ws://127.0.0.1:#{second.port}/") if second
    servers.each { |server| args.push('--server-pid', server.pid.to_s) }
    args << '--json'
    args << '--server-tree' if scenario.workers
    out, err, status = Open3.capture3(GENERATOR, *args)
    exit = servers.filter_map(&:exit_status).first
    died = exit && " (a server died: #{exit})"
    raise "emws-bench #{args.join(' ')}: #{err.strip}#{died}" unless status.success?
    raise "a server died during #{scenario.key}: #{exit}" if died

    report = JSON.parse(out.lines.last)
    summary = scenario.metrics.map { |label, key, *| "#{label} #{report[key]}" }.join(', ')
    puts "   #{scenario.title}: #{summary} (client CPU #{report['client_cpu_share']})"
    report
  end

  # Starts the scenario's server processes; ServerProcess#stop also ends the
  # processes a forking app started.
  def with_servers(impl, scenario)
    servers = []
    (scenario.servers || 1).times { servers << start_server(impl, scenario) }
    yield servers
  ensure
    servers.each { |server| server.stop(grace: 5) }
  end

  def start_server(impl, scenario)
    script = impl.key == 'original' && scenario.original_app ? scenario.original_app : "examples/#{scenario.app}.rb"
    @servers = (@servers || 0) + 1
    log = File.join(WORK_DIR, format('%02d-%s-%s.log', @servers, impl.key, File.basename(script, '.rb')))
    env = { 'HOST' => '127.0.0.1' }
    env['WORKERS'] = scenario.workers.to_s if scenario.workers
    env['REDIS_URL'] = @redis.url if scenario.redis
    env.merge!(scenario.env) if scenario.env
    server = ServerProcess.new(script, log: log, ruby_args: impl.ruby_args, env: env, pgroup: false)
    begin
      server.start.wait_for_port(
        limit: START_LIMIT,
        exited: "server exited at start; see #{log}",
        timeout: "server did not listen on #{server.port} within #{START_LIMIT}s; see #{log}"
      )
      wait_for_listeners(server, scenario.workers, log) if scenario.workers
    rescue StandardError
      server.stop(grace: 5)
      raise
    end
    server
  end

  # The port accepts once one worker listens; the load must find all of them.
  def wait_for_listeners(server, count, log)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + START_LIMIT
    until (found = listeners(server.port)) >= count
      raise "#{found} of #{count} processes listen on #{server.port} after #{START_LIMIT}s; see #{log}" if
        Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline || !server.alive?

      sleep 0.1
    end
  end

  # Listening IPv4 TCP sockets on `port` (each SO_REUSEPORT socket has a line).
  def listeners(port)
    suffix = format(':%04X', port)
    File.foreach('/proc/net/tcp').count do |line|
      fields = line.split
      fields[1]&.end_with?(suffix) && fields[3] == '0A'
    end
  end

  def median(values)
    sorted = values.compact.sort
    return nil if sorted.empty?

    mid = sorted.size / 2
    sorted.size.odd? ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0
  end

  # Table rows: one per metric, with the median over rounds for each
  # implementation. A row with a `baseline` takes the other implementation's
  # figure from that scenario.
  def rows(impls, runs)
    scenarios.flat_map do |scenario|
      scenario.metrics.map do |label, key, better, scale, unit|
        values = impls.to_h do |impl|
          source = scenario.only.nil? || scenario.only == impl.key ? scenario.key : scenario.baseline
          [impl.key, median(runs[[source, impl.key]].map { |r| r[key] })&.*(scale)]
        end
        row = { 'scenario' => scenario.title, 'metric' => label, 'key' => key, 'better' => better.to_s,
                'unit' => unit, 'values' => values, 'ratio' => ratio(values) }
        row['baseline'] = scenario.baseline if scenario.baseline
        row['baseline_note'] = scenario.baseline_note if scenario.baseline_note
        row
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
             'fan-out API) and examples/echo_forked.rb (:reuse_port) on em-websocket-rs only; ' \
             'through Redis, examples/redis_chat.rb against bench/apps/redis_chat_original.rb (redis-rb in a ' \
             'thread, EM.schedule, EM::Channel), two processes each, one redis-server on loopback; ' \
             'load from bench/ (emws-bench), which verifies every payload.'
    lines << ''
    lines << "| scenario | metric | #{labels.join(' | ')} | ratio (rs / original) |"
    lines << '|---|---|---|---|---|'
    table.each do |row|
      cells = IMPLS.map do |impl|
        next 'skipped' unless present.include?(impl.key)

        value = row['values'][impl.key]
        text = format_value(value, row['unit'])
        row['baseline_note'] && impl.key != 'rs' && value ? "#{text} (#{row['baseline_note']})" : text
      end
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
    (reuse_port_notes(runs) + notes + failures.map { |f| "FAILED: #{f}" }).each_with_index do |note, i|
      lines << '' if i.zero?
      lines << "- #{note}"
    end
    "#{lines.join("\n")}\n"
  end

  # What the table cannot say about the forked scenarios: how the load spread
  # over the processes, and how the processes compare with the one-process app.
  def reuse_port_notes(runs)
    scenarios.select(&:workers).filter_map do |scenario|
      reports = runs[[scenario.key, 'rs']]
      next if reports.empty?

      one = median(runs[[scenario.baseline, 'rs']].map { |r| r['round_trips_per_s'] })
      many = median(reports.map { |r| r['round_trips_per_s'] })
      # Shares per process, the parent first (emws-bench --server-tree), medians over rounds.
      shares = reports.map { |r| (r['server_cpu_share_by_pid'] || {}).values }
      shares = Array.new(shares.map(&:size).max || 0) { |i| median(shares.map { |s| s[i] }) }
      parent, *workers = shares
      spread = if workers.size < scenario.workers then "only #{workers.size} worker process(es) were found"
               elsif workers.min < 0.1 * workers.max then 'the load was NOT spread over the workers'
               else 'the connections were spread over all of them'
               end
      scaling = one && many ? "; em-websocket-rs on one process (#{scenario.baseline}): " \
                              "#{format_value(one, '')} round trips/s, so #{format('%.2f', many / one)}x from " \
                              "#{scenario.workers} processes" : ''
      "#{scenario.title}: examples/echo_forked.rb with WORKERS=#{scenario.workers}; em-websocket has no " \
        ':reuse_port, so its column holds its one-process figure. Server CPU is the parent\'s plus its ' \
        "workers' (share of one core, median): parent #{parent || 'n/a'}, workers " \
        "#{workers.empty? ? 'n/a' : workers.join(', ')}: #{spread}#{scaling}. " \
        "On #{Etc.nprocessors} cores the workers share the CPUs with the load generator."
    end
  end

  # bench/results.png from bench/results.json (bench/chart.py, python3-matplotlib);
  # installs the package as bin/deps does. Without it, a note and no chart.
  def chart
    unless matplotlib?
      puts 'bench: installing python3-matplotlib for the chart (bin/deps python3-matplotlib)'
      system(File.join(ROOT, 'bin', 'deps'), 'python3-matplotlib')
    end
    unless matplotlib?
      puts "bench: NOTE: no chart: #{PYTHON} cannot import matplotlib " \
           '(apt-get install python3-matplotlib); the results are in bench/results.md'
      return
    end
    return if system(PYTHON, CHART, RESULTS_JSON, RESULTS_PNG)

    puts "bench: NOTE: #{CHART} failed; the results are in bench/results.md"
  end

  def matplotlib?
    File.executable?(PYTHON) && system(PYTHON, '-c', 'import matplotlib', out: File::NULL, err: File::NULL)
  end
end

desc 'Benchmark em-websocket-rs against em-websocket 0.5 (BENCH_ROUNDS=3, BENCH_QUICK=1, BENCH_IMPLS=rs,original)'
task :bench do
  # Measure the current extension when the project's Rakefile (which imports this file) can build it.
  Rake::Task[:compile].invoke if Rake::Task.task_defined?(:compile) && ENV['BENCH_COMPILE'] != '0'
  EmwsBench.run
end

namespace :bench do
  desc 'Draw bench/results.png from bench/results.json (python3-matplotlib, installed if missing)'
  task :chart do
    EmwsBench.chart
  end
end
