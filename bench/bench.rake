# frozen_string_literal: true

# rake bench: the same example applications (examples/echo.rb,
# examples/multicast.rb) served by em-websocket-rs and by the original
# em-websocket gem, loaded by target/release/emws-bench; examples/fanout.rb
# and examples/echo_forked.rb (APIs the original lacks) on em-websocket-rs only;
# a broadcast across two processes through a redis-server of its own
# (examples/redis_chat.rb against bench/apps/redis_chat_original.rb); wss://
# echo and TLS handshakes with a certificate made at bench time (ECDSA P-256,
# bench/support/bench_cert.rb); permessage-deflate echo against Python
# websockets 10.4 (bench/apps/echo_python.py); idle memory at 10,000 and
# 19,900 connections.
#
# em-websocket-rs runs in two columns, one per framing placement of plain
# connections, chosen by the server's environment: EMWS_FRAMING=reactor (on
# the Ruby reactor thread) and EMWS_FRAMING=pool (on the Rust core's tokio
# threads). Every round runs every implementation in turn.
#
#   rake bench                  3 alternating rounds, medians and spreads (~20-25 minutes on 2 cores)
#   BENCH_ROUNDS=5 rake bench   more rounds
#   BENCH_QUICK=1 rake bench    one short round (a smoke run)
#   BENCH_IMPLS=rs,original rake bench
#                               only these columns: rs (EMWS_FRAMING=reactor),
#                               rs_pool (EMWS_FRAMING=pool), original, python
#                               (the deflate scenario's reference); default all
#   BENCH_SCENARIOS=echo_256,wss_echo_32 rake bench
#                               only these scenarios (keys or globs like
#                               'broadcast_*'; their baselines come along);
#                               `rake bench:scenarios` lists the keys
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
require_relative 'support/bench_cert'

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
  TLS_DIR = File.join(WORK_DIR, 'tls')
  PYTHON = '/usr/bin/python3'

  # `family`: rs for both em-websocket-rs columns (an `impls: RS` scenario
  # runs on both). `env`: the server's environment. `command`/`app`: a server
  # that is not one of the Ruby examples (python runs its one app).
  Impl = Struct.new(:key, :label, :family, :ruby_args, :env, :command, :app, keyword_init: true)
  IMPLS = [
    Impl.new(key: 'rs', label: 'em-websocket-rs (reactor)', family: 'rs', ruby_args: ['-I', LIB_COPY],
             env: { 'EMWS_FRAMING' => 'reactor' }),
    Impl.new(key: 'rs_pool', label: 'em-websocket-rs (pool)', family: 'rs', ruby_args: ['-I', LIB_COPY],
             env: { 'EMWS_FRAMING' => 'pool' }),
    Impl.new(key: 'original', label: 'em-websocket', family: 'original', ruby_args: ["-r#{USE_ORIGINAL}"], env: {}),
    Impl.new(key: 'python', label: 'python websockets', family: 'python', ruby_args: [], env: {},
             command: PYTHON, app: 'bench/apps/echo_python.py')
  ].freeze
  RS = %w[rs rs_pool].freeze
  RUBY_IMPLS = %w[rs rs_pool original].freeze

  # One generator run on one server; `metrics` are the table rows it feeds:
  # [label, JSON key, :higher or :lower is better (or :info: no ratio), scale, unit].
  # `impls`: the implementations it runs on (default rs, rs_pool, original;
  # RS for APIs the original lacks). `reference`: the column the rs columns'
  # ratios are taken against (original unless given: python for deflate).
  # `workers`: the app forks that many processes (WORKERS); the server CPU is
  # theirs and the parent's. `baseline`: for scenarios the reference does not
  # run, the scenario whose figures fill its column, for the ratio, with
  # `baseline_note` saying what they are. `tls`: wss:// with the bench's
  # certificate (TLS_KEY/TLS_CERT for the app, --ca for the load). `absent`:
  # {impl key => why its cell is empty}.
  # `original_app`: the original's own app, where it needs another (a path).
  # `servers`: that many separate server processes (the load gets --url2 and
  # every pid), all given REDIS_URL for the bench's redis-server when `redis`.
  # `pace_of`: run after the rounds, at the original's median messages/s in
  # that scenario (--rate), to measure latency at the original's best rate.
  # `env`: more environment for the server processes.
  Scenario = Struct.new(:key, :title, :app, :original_app, :args, :metrics, :impls, :reference, :workers, :servers,
                        :redis, :baseline, :baseline_note, :pace_of, :env, :tls, :absent, keyword_init: true)
  CHART = File.join(__dir__, 'chart.py')
  RESULTS_PNG = File.join(__dir__, 'results.png')
  # Appended to the rows of every one-process scenario that measures server CPU.
  THREAD_SHARE = ['reactor (Ruby main) thread share of server CPU', 'server_reactor_thread_share', :info, 100,
                  '%'].freeze

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

  def scenario_impls(scenario)
    scenario.impls || RUBY_IMPLS
  end

  def runs_on?(scenario, impl)
    scenario_impls(scenario).include?(impl.key)
  end

  def reference(scenario)
    scenario.reference || 'original'
  end

  # The scenarios BENCH_SCENARIOS selects (all by default), with the ones
  # their figures need (baselines, paced rates).
  def scenarios
    all = all_scenarios
    wanted = ENV.fetch('BENCH_SCENARIOS', '').split(',').map(&:strip).reject(&:empty?)
    return all if wanted.empty?

    unknown = wanted.reject { |pattern| all.any? { |s| File.fnmatch(pattern, s.key) } }
    raise "BENCH_SCENARIOS: no scenario matches #{unknown.join(', ')}; keys: #{all.map(&:key).join(', ')}" if
      unknown.any?

    picked = all.select { |s| wanted.any? { |pattern| File.fnmatch(pattern, s.key) } }
    needed = picked.flat_map { |s| [s.baseline, s.pace_of].compact }
    all.select { |s| picked.include?(s) || needed.include?(s.key) }
  end

  def echo_args(size, in_flight: 10, binary: false, extra: [])
    ['echo', '--connections', '100', '--in-flight', in_flight.to_s, '--size', size.to_s,
     *(binary ? ['--binary'] : []), *extra, *timing(4)]
  end

  # Server CPU per message first: it is the headline.
  ECHO_RATE = [['server CPU per round trip', 'server_cpu_us_per_round_trip', :lower, 1, 'us'],
               ['round trips/s', 'round_trips_per_s', :higher, 1, '']].freeze
  DELIVERY_RATE = [['server CPU per delivery', 'server_cpu_us_per_delivery', :lower, 1, 'us'],
                   ['deliveries/s', 'deliveries_per_s', :higher, 1, '']].freeze

  def all_scenarios
    echo32 = echo_args(32)
    p99 = ['p99 latency under this load', 'p99_us', :lower, 0.001, 'ms']
    [
      Scenario.new(key: 'latency', title: 'latency 1 x 1 x 32 B text', app: 'echo',
                   args: ['latency', '--size', '32', *timing(3)],
                   metrics: [['p50 latency', 'p50_us', :lower, 1, 'us'],
                             ['p99 latency', 'p99_us', :lower, 1, 'us']]),
      Scenario.new(key: 'echo_32', title: 'echo 100 conns x 10 in flight x 32 B text', app: 'echo', args: echo32,
                   metrics: [*ECHO_RATE, p99]),
      Scenario.new(key: 'echo_256', title: 'echo 100 conns x 10 in flight x 256 B text', app: 'echo',
                   args: echo_args(256), metrics: [*ECHO_RATE, p99]),
      Scenario.new(key: 'echo_4k', title: 'echo 100 conns x 10 in flight x 4 KiB text', app: 'echo',
                   args: echo_args(4096), metrics: [*ECHO_RATE, p99]),
      # No pipelining: one message per connection per turn, so every message
      # costs its own read, write and hand-offs, which the kernel dominates.
      Scenario.new(key: 'echo_32_unpipelined', title: 'echo 100 conns x 1 in flight x 32 B text', app: 'echo',
                   args: echo_args(32, in_flight: 1), metrics: [*ECHO_RATE, p99]),
      Scenario.new(key: 'echo_16k', title: 'echo 100 conns x 10 in flight x 16 KiB binary', app: 'echo',
                   args: echo_args(16_384, binary: true), metrics: ECHO_RATE),
      # What reading the figures costs: the same load, with a scraper reading
      # GET /metrics ten times a second (compare with the echo_32 row).
      Scenario.new(key: 'echo_32_scraped',
                   title: 'echo 100 conns x 10 in flight x 32 B text, metrics: true, scraped 10 times a second',
                   app: 'echo', impls: RS, env: { 'METRICS' => '1' }, baseline: 'echo_32',
                   baseline_note: 'not scraped; em-websocket-rs unscraped is the echo 100 x 10 x 32 B row',
                   args: [*echo32, '--scrape-every', '0.1'], metrics: ECHO_RATE),
      # What the rate limits' check costs: limits far above the load, so
      # that every message is checked and none is refused.
      Scenario.new(key: 'echo_32_rate_limited',
                   title: 'echo 100 conns x 10 in flight x 32 B text, rate limits on (1,000,000 messages/s each, never reached)',
                   app: 'echo', impls: RS, env: { 'RATE_LIMIT' => '1000000' }, baseline: 'echo_32',
                   baseline_note: 'no limits; em-websocket-rs without them is the echo 100 x 10 x 32 B row',
                   args: echo32, metrics: ECHO_RATE),
      Scenario.new(key: 'echo_32_reuse_port',
                   title: 'echo 100 conns x 10 in flight x 32 B text, 2 processes on one port (:reuse_port)',
                   app: 'echo_forked', impls: RS, workers: 2, baseline: 'echo_32', baseline_note: '1 process',
                   args: echo32, metrics: ECHO_RATE),
      # wss://: the same app with TLS_KEY/TLS_CERT (:secure and :tls_options on
      # both gems: rustls for em-websocket-rs, EventMachine's OpenSSL for em-websocket).
      Scenario.new(key: 'wss_echo_32', title: 'wss:// echo 100 conns x 10 in flight x 32 B text', app: 'echo',
                   tls: true, args: echo32, metrics: [*ECHO_RATE, p99]),
      Scenario.new(key: 'wss_handshakes',
                   title: 'wss:// connections, 16 at a time: TCP + full TLS handshake + upgrade, one 32 B echo, close',
                   app: 'echo', tls: true,
                   args: ['handshakes', '--connect-concurrency', '16', '--size', '32', *timing(4)],
                   metrics: [['server CPU per connection', 'server_cpu_us_per_handshake', :lower, 1, 'us'],
                             ['connections (handshakes)/s', 'handshakes_per_s', :higher, 1, ''],
                             ['p99 time to open (TCP + TLS + upgrade)', 'open_p99_us', :lower, 0.001, 'ms']]),
      # permessage-deflate: em-websocket has none, so the reference is Python
      # websockets 10.4 with its defaults (compression on).
      Scenario.new(key: 'deflate_echo_4k',
                   title: 'permessage-deflate echo 100 conns x 10 in flight x 4 KiB JSON-like text ' \
                          '(reference: python websockets 10.4; em-websocket has no compression)',
                   app: 'echo', impls: [*RS, 'python'], reference: 'python', env: { 'COMPRESSION' => '1' },
                   absent: { 'original' => 'no compression' },
                   args: echo_args(4096, extra: %w[--deflate --payload json]),
                   metrics: [['round trips per server CPU second', 'round_trips_per_server_cpu_s', :higher, 1, ''],
                             *ECHO_RATE]),
      *broadcast_scenarios,
      *redis_scenarios,
      Scenario.new(key: 'idle_10k', title: 'idle: 10,000 open connections', app: 'echo',
                   args: ['idle', '--connections', '10000', '--hold', quick? ? '1' : '2'],
                   metrics: [['server memory per connection', 'rss_kb_per_connection', :lower, 1, 'KB'],
                             ['handshakes/s while opening them', 'handshakes_per_s', :higher, 1, '']]),
      # Near the fd limit (20,000 here; the generator is another process).
      Scenario.new(key: 'idle_19900', title: 'idle: 19,900 open connections', app: 'echo',
                   args: ['idle', '--connections', '19900', '--hold', quick? ? '1' : '2'],
                   metrics: [['server memory per connection', 'rss_kb_per_connection', :lower, 1, 'KB'],
                             ['handshakes/s while opening them', 'handshakes_per_s', :higher, 1, '']])
    ]
  end

  # 1,000 receivers of EM::Channel + ws.send (examples/multicast.rb) at each
  # size, and of EmWebSocketRs::Channel (examples/fanout.rb), whose ratio is
  # against the original's EM::Channel figure at the same size.
  def broadcast_scenarios
    sizes = { '32' => '32 B', '64' => '64 B', '256' => '256 B', '4k' => '4 KiB' }
    bytes = { '32' => 32, '64' => 64, '256' => 256, '4k' => 4096 }
    load = ->(key) { ['broadcast', '--connections', '1000', '--size', bytes[key].to_s, *timing(4)] }
    channel = sizes.map do |key, size|
      Scenario.new(key: "broadcast_#{key}", title: "broadcast to 1,000 receivers, #{size} text (EM::Channel + ws.send)",
                   app: 'multicast', args: load.call(key), metrics: DELIVERY_RATE)
    end
    native = sizes.except('32').map do |key, size|
      Scenario.new(key: "broadcast_native_#{key}",
                   title: "broadcast to 1,000 receivers, #{size} text, through EmWebSocketRs::Channel",
                   app: 'fanout', impls: RS, baseline: "broadcast_#{key}", baseline_note: 'EM::Channel + ws.send',
                   args: load.call(key), metrics: DELIVERY_RATE)
    end
    channel + native
  end

  # 1,000 receivers, half on each of two processes, and a sender on the
  # first: every message crosses Redis to reach the second process's half.
  # The original app is what its users write: redis-rb subscribed in a thread,
  # EM.schedule into an EM::Channel, ws.send per receiver.
  def redis_scenarios
    receivers = ['broadcast', '--connections', '1000']
    saturated = [['server CPU per delivery (both processes)', 'server_cpu_us_per_delivery', :lower, 1, 'us'],
                 ['deliveries/s', 'deliveries_per_s', :higher, 1, ''],
                 ['p99 latency, saturated', 'p99_us', :lower, 0.001, 'ms']]
    redis = { app: 'redis_chat', original_app: 'bench/apps/redis_chat_original.rb', servers: 2, redis: true }
    [
      Scenario.new(key: 'redis_64', title: 'broadcast through Redis to 1,000 receivers on 2 processes, 64 B text',
                   args: [*receivers, '--size', '64', *timing(4)], metrics: saturated, **redis),
      Scenario.new(key: 'redis_4k', title: 'broadcast through Redis to 1,000 receivers on 2 processes, 4 KiB text',
                   args: [*receivers, '--size', '4096', *timing(4)], metrics: saturated, **redis),
      Scenario.new(key: 'redis_64_paced',
                   title: "broadcast through Redis, 64 B text, at the original's best rate (its median messages/s)",
                   args: [*receivers, '--size', '64', *timing(4)], impls: RS, pace_of: 'redis_64',
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
      raise 'no implementation can run: nothing to benchmark' if impls.empty?

      puts "bench: scenarios #{scenarios.map(&:key).join(', ')}; implementations #{impls.map(&:key).join(', ')}"

      raise_fd_limit
      runs = Hash.new { |h, k| h[k] = [] } # [scenario, impl] => [report, ...]
      failures = []
      with_redis(notes) do
        rounds.times do |round|
          impls.each do |impl|
            next if scenarios.none? { |scenario| runs_on?(scenario, impl) }

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
    @tls = BenchCert.generate(TLS_DIR) if scenarios.any?(&:tls)
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
    wanted = ENV.fetch('BENCH_IMPLS', IMPLS.map(&:key).join(',')).split(',').map(&:strip)
    unknown = wanted - IMPLS.map(&:key)
    raise "BENCH_IMPLS: unknown #{unknown.join(', ')} (known: #{IMPLS.map(&:key).join(', ')})" if unknown.any?

    wanted.include?(impl.key)
  end

  def impl_problem(impl)
    return python_problem if impl.family == 'python'

    if impl.family == 'rs'
      return "#{NATIVE_LIB} is missing (run `rake compile`)" unless File.exist?(NATIVE_LIB)
    end
    probe = "require 'em-websocket-rs'; " \
            'print EM::WebSocket::Connection.instance_method(:send_text).source_location.first'
    out, err, status = Open3.capture3(RbConfig.ruby, *impl.ruby_args, '-e', probe)
    return "it does not load: #{err.lines.first&.strip}" unless status.success?

    ours = out.start_with?(LIB_COPY)
    expected_ours = impl.family == 'rs'
    return "`require 'em-websocket-rs'` loaded #{out}, not #{impl.label}" unless ours == expected_ours

    nil
  end

  def python_problem
    probe = 'import websockets, websockets.version; print(websockets.version.version)'
    out, err, status = Open3.capture3(PYTHON, '-c', probe)
    return "#{PYTHON} cannot import websockets (apt-get install python3-websockets): #{err.lines.last&.strip}" unless
      status.success?

    @python_websockets = out.strip
    nil
  rescue SystemCallError => e
    "#{PYTHON} does not run: #{e.message}"
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
      runs_on?(scenario, impl) && scenario.pace_of.nil? && runnable?(scenario)
    end
    idle = ->(scenario) { scenario.args.first == 'idle' }
    groups = mine.chunk_while do |a, b|
      a.app == b.app && a.env == b.env && a.tls == b.tls && a.workers == b.workers && !idle.call(a) && !idle.call(b)
    end
    groups.each { |group| run_group(impl, group, runs, failures) }
  end

  # Each paced scenario, `rounds` times on one set of servers per
  # implementation, at the rate the original reached in its `pace_of`
  # scenario (median over the rounds).
  def run_paced(impls, runs, failures, notes)
    scenarios.select(&:pace_of).each do |scenario|
      next unless runnable?(scenario) # with_redis has said why

      mine = impls.select { |impl| runs_on?(scenario, impl) }
      rate = median(runs[[scenario.pace_of, 'original']].map { |r| r['messages_per_s'] })
      problem = if mine.empty? then "#{scenario_impls(scenario).join(', ')} not measured"
                elsif rate.nil? || rate <= 0 then "the original has no messages/s in #{scenario.pace_of}"
                end
      next notes << "#{scenario.title} skipped: #{problem}" if problem

      mine.each do |impl|
        puts "== paced at #{rate.round(1)} messages/s: #{impl.label}"
        paced = scenario.dup.tap { |s| s.args = [*s.args, '--rate', rate.round(1).to_s] }
        run_group(impl, [paced] * rounds, runs, failures)
      end
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
    scheme = scenario.tls ? 'wss' : 'ws'
    args = [*scenario.args, '--url', "#{scheme}://127.0.0.1:#{first.port}/"]
    args.push('--url2', "#{scheme}://127.0.0.1:#{second.port}/") if second
    args.push('--ca', @tls.ca) if scenario.tls
    servers.each { |server| args.push('--server-pid', server.pid.to_s) }
    args << '--json'
    args << '--server-tree' if scenario.workers
    out, err, status = Open3.capture3(GENERATOR, *args)
    exit = servers.filter_map(&:exit_status).first
    died = exit && " (a server died: #{exit})"
    raise "emws-bench #{args.join(' ')}: #{err.strip}#{died}" unless status.success?
    raise "a server died during #{scenario.key}: #{exit}" if died

    report = JSON.parse(out.lines.last)
    cpu = report['server_cpu_us_per_round_trip']
    report['round_trips_per_server_cpu_s'] = (1e6 / cpu).round(1) if cpu&.positive?
    summary = scenario.metrics.map { |label, key, *| "#{label} #{report[key]}" }.join(', ')
    extra = %w[server_reactor_thread_share tls deflate deflate_sent_ratio deflate_received_ratio].filter_map { |k| "#{k} #{report[k]}" if report.key?(k) }
    puts "   #{scenario.title}: #{summary} (#{["client CPU #{report['client_cpu_share']}", *extra].join(', ')})"
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
    script = impl.app ||
             (impl.key == 'original' && scenario.original_app ? scenario.original_app : "examples/#{scenario.app}.rb")
    @servers = (@servers || 0) + 1
    log = File.join(WORK_DIR, format('%03d-%s-%s.log', @servers, impl.key, File.basename(script, '.*')))
    env = { 'HOST' => '127.0.0.1', **impl.env }
    env['WORKERS'] = scenario.workers.to_s if scenario.workers
    env['REDIS_URL'] = @redis.url if scenario.redis
    env.merge!('TLS_KEY' => @tls.key, 'TLS_CERT' => @tls.chain) if scenario.tls
    env.merge!(scenario.env) if scenario.env
    server = ServerProcess.new(script, log: log, ruby_args: impl.ruby_args, env: env, pgroup: false,
                                       command: impl.command || RbConfig.ruby)
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
  # implementation, its min and max and the number of rounds. A scenario the
  # reference implementation does not run takes its figure from `baseline`.
  # `ratios`: each em-websocket-rs column over the reference (`ratio`: the
  # reactor column's, as before the pool column existed).
  def rows(impls, runs)
    scenarios.flat_map do |scenario|
      metrics = thread_share?(scenario) ? [*scenario.metrics, THREAD_SHARE] : scenario.metrics
      metrics.map do |label, key, better, scale, unit|
        figures = impls.to_h { |impl| [impl.key, figure(runs, scenario, impl, key, scale)] }
        values = figures.transform_values { |f| f&.fetch(:median) }
        ref = reference(scenario)
        ratios = better == :info ? {} : RS.to_h { |rs| [rs, ratio(values[rs], values[ref])] }.compact
        row = { 'scenario' => scenario.title, 'scenario_key' => scenario.key, 'metric' => label, 'key' => key,
                'better' => better.to_s, 'unit' => unit, 'values' => values,
                'min' => figures.transform_values { |f| f&.fetch(:min) },
                'max' => figures.transform_values { |f| f&.fetch(:max) },
                'rounds' => figures.transform_values { |f| f ? f[:rounds] : 0 },
                'reference' => ref, 'ratios' => ratios, 'ratio' => ratios['rs'] }
        row['baseline'] = scenario.baseline if scenario.baseline
        row['baseline_note'] = scenario.baseline_note if scenario.baseline_note
        row['absent'] = scenario.absent if scenario.absent
        row
      end
    end
  end

  # One-process servers whose threads the generator read.
  def thread_share?(scenario)
    !scenario.workers && scenario.args.first != 'idle'
  end

  # Median, min, max and rounds of `key` for `impl` in `scenario` (or, for
  # the reference, in the scenario's baseline); nil when not measured.
  def figure(runs, scenario, impl, key, scale)
    source = if runs_on?(scenario, impl) then scenario.key
             elsif impl.key == reference(scenario) then scenario.baseline
             end
    return nil unless source

    values = runs[[source, impl.key]].filter_map { |r| r[key]&.*(scale) }
    return nil if values.empty?

    { median: median(values), min: values.min, max: values.max, rounds: values.size }
  end

  def ratio(value, reference)
    return nil unless value && reference&.positive?

    (value / reference.to_f).round(3)
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
    info['python_websockets'] = @python_websockets if @python_websockets
    table = rows(impls, runs)
    File.write(RESULTS_JSON, JSON.pretty_generate(
      'machine' => info, 'implementations' => impls.map(&:label),
      'columns' => impls.to_h { |impl| [impl.key, impl.label] }, 'notes' => notes, 'failures' => failures,
      'table' => table,
      'runs' => runs.map { |(scenario, impl), reports| { 'scenario' => scenario, 'impl' => impl, 'reports' => reports } }
    ) + "\n")
    File.write(RESULTS_MD, markdown(impls, notes, failures, table, runs, info))
  end

  def label_of(key)
    IMPLS.find { |impl| impl.key == key }.label
  end

  def markdown(impls, notes, failures, table, runs, info)
    present = impls.map(&:key)
    rs_present = RS & present
    lines = ['# em-websocket-rs vs em-websocket', '']
    lines << '**BENCH_QUICK smoke run: not for comparison.**' << '' if info['quick']
    lines << "#{info['date']}, #{info['nproc']} cores (#{info['cpu']}), #{info['kernel']}, #{info['ruby']}, " \
             "commit #{info['commit'] || 'unknown'}; #{info['rounds']} alternating round(s), every implementation " \
             'in turn in each. Each cell: the median over the rounds, then (min–max ×rounds). ' \
             'em-websocket-rs runs twice: (reactor) frames plain connections on the Ruby reactor thread ' \
             '(EMWS_FRAMING=reactor), (pool) on the Rust core\'s tokio threads (EMWS_FRAMING=pool). ' \
             'Same app on every implementation (examples/echo.rb, examples/multicast.rb); examples/fanout.rb ' \
             '(EmWebSocketRs::Channel, its em-websocket cell the original\'s EM::Channel figure at the same size) ' \
             'and examples/echo_forked.rb (:reuse_port) on em-websocket-rs only; through Redis, ' \
             'examples/redis_chat.rb against bench/apps/redis_chat_original.rb (redis-rb in a thread, ' \
             'EM.schedule, EM::Channel), two processes each, one redis-server on loopback. ' \
             'wss:// rows: examples/echo.rb with TLS_KEY/TLS_CERT (:secure and :tls_options: rustls on ' \
             'em-websocket-rs, EventMachine\'s OpenSSL on em-websocket), a certificate made at bench time ' \
             '(bench/support/bench_cert.rb): an ECDSA P-256 key (what Let\'s Encrypt issues by default), SHA-256 ' \
             'signatures, a chain of the server certificate and its CA\'s; the client makes a full handshake every ' \
             'time (no resumption). permessage-deflate row: em-websocket-rs with compression: true against ' \
             "Python websockets #{info['python_websockets'] || '10.4'} (bench/apps/echo_python.py, its " \
             'defaults: compression on), the reference for that row\'s ratios; em-websocket has no compression. ' \
             'Load from bench/ (emws-bench), which verifies every payload.'
    lines << ''
    ratio_heads = rs_present.map { |rs| "#{label_of(rs)} / reference" }
    lines << "| scenario | metric | #{present.map { |k| label_of(k) }.join(' | ')} | #{ratio_heads.join(' | ')} |"
    lines << "|#{'---|' * (2 + present.size + rs_present.size)}"
    table.each do |row|
      cells = present.map { |key| cell(row, key) }
      ratios = rs_present.map do |rs|
        value = row['ratios'][rs]
        next(row['better'] == 'info' ? '—' : 'n/a') unless value

        text = "#{format('%.3g', value)}x"
        row['reference'] == 'original' ? text : "#{text} vs #{label_of(row['reference'])}"
      end
      better = { 'higher' => ' (higher is better)', 'lower' => ' (lower is better)' }.fetch(row['better'], '')
      lines << "| #{row['scenario']} | #{row['metric']}#{better} | #{[*cells, *ratios].join(' | ')} |"
    end
    lines << ''
    lines << 'Reference: em-websocket, except where a ratio says otherwise (permessage-deflate: python websockets). ' \
             'Ratio above 1 means em-websocket-rs has the larger figure: better for rates, worse for costs. ' \
             'The reactor thread share is the Ruby main thread\'s part of the server process\'s CPU ' \
             '(/proc/PID/task/PID against the other threads: tokio workers, Ruby\'s timer thread).'
    lines << ''
    lines.concat(negotiated_notes(impls, runs))
    lines << 'Generator CPU (share of one core, median) — near 1.0 means a figure is client-bound:'
    scenarios.each do |scenario|
      shares = impls.select { |impl| runs_on?(scenario, impl) }.map do |impl|
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

  def cell(row, key)
    value = row['values'][key]
    if value.nil? && row['rounds'][key].zero?
      note = row.dig('absent', key)
      return note ? "— (#{note})" : '—'
    end

    text = format_value(value, row['unit'])
    if row['rounds'][key] > 1
      text += " (#{format_value(row['min'][key], '')}–#{format_value(row['max'][key], '')} ×#{row['rounds'][key]})"
    elsif row['rounds'][key] == 1
      text += ' (×1)'
    end
    row['baseline_note'] && !RS.include?(key) && value ? "#{text} (#{row['baseline_note']})" : text
  end

  # What the TLS and permessage-deflate scenarios negotiated, per implementation.
  def negotiated_notes(impls, runs)
    lines = []
    scenarios.select { |s| s.tls || s.args.include?('--deflate') }.each do |scenario|
      found = impls.filter_map do |impl|
        report = runs[[scenario.key, impl.key]].first
        next unless report

        sizes = if report['deflate_received_ratio']
                  "compressed to #{report['deflate_sent_ratio']} of the size sent, " \
                    "#{report['deflate_received_ratio']} of the size received " \
                    "(#{report['deflate_received_uncompressed']} messages received uncompressed)"
                end
        "#{impl.label}: #{[report['tls'], report['deflate'], sizes].compact.join('; ')}"
      end
      lines << "- #{scenario.title} negotiated: #{found.join(' | ')}" unless found.empty?
    end
    lines.empty? ? [] : ['Negotiated (first connection of the first round):', *lines, '']
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

desc 'Benchmark em-websocket-rs (reactor and pool framing) against em-websocket 0.5 and python websockets ' \
     '(BENCH_ROUNDS=3, BENCH_QUICK=1, BENCH_IMPLS=rs,rs_pool,original,python, BENCH_SCENARIOS=key,...)'
task :bench do
  # Measure the current extension when the project's Rakefile (which imports this file) can build it.
  Rake::Task[:compile].invoke if Rake::Task.task_defined?(:compile) && ENV['BENCH_COMPILE'] != '0'
  EmwsBench.run
end

namespace :bench do
  desc 'List the scenario keys BENCH_SCENARIOS takes'
  task :scenarios do
    EmwsBench.all_scenarios.each { |scenario| puts format('%-22s %s', scenario.key, scenario.title) }
  end

  desc 'Draw bench/results.png from bench/results.json (python3-matplotlib, installed if missing)'
  task :chart do
    EmwsBench.chart
  end
end
