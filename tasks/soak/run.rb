# frozen_string_literal: true

require 'json'
require 'open3'

module EmwsSoak
  # One soak: start the server, load it, watch it, judge it, report.
  class Run
    BENCH = File.join(ROOT, 'target', 'release', 'emws-bench')
    SETTLE_LIMIT = 20 # seconds for fds to come back after the load
    JOIN_SLACK = 30   # seconds a client thread may overrun the deadline (its own timeouts)

    def initialize(mode:)
      @mode = mode
      @seconds = Integer(ENV.fetch('SOAK_SECONDS', '60'))
      @churners = Integer(ENV.fetch('SOAK_CHURNERS', '6'))
      @attackers = mode == :hostile ? Integer(ENV.fetch('SOAK_ATTACKERS', '6')) : 0
      @rss_bound_kb = Integer(ENV.fetch('SOAK_RSS_GROWTH_MB', '24')) * 1024
      @impl = ENV.fetch('SOAK_IMPL', 'rs')
      @failures = []
    end

    def call
      server = Server.new(log: File.join(ROOT, 'tmp', 'soak', "server-#{@mode}.log"), impl: @impl).start
      sleep 1
      @base = { rss_kb: server.rss_kb, fds: server.fds }
      counts = Counts.new
      sampler = Sampler.new(server) { counts.to_h }.start
      load_time = measure { @bench = load(server, counts) }
      sampler.take
      @settled_fds = settle(server)
      @probe = probe(server.port)
      sampler.take
      sampler.stop
      @alive = server.alive?
      judge(sampler.samples, counts.to_h, load_time)
      report(sampler.samples, counts.to_h, load_time)
      abort "soak: FAILED\n  #{@failures.join("\n  ")}" unless @failures.empty?
      puts "soak: passed (#{@mode}, #{@seconds}s)"
    ensure
      sampler&.stop
      server&.stop
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def measure
      started = now
      yield
      now - started
    end

    # Runs every client until the deadline; returns emws-bench's result.
    def load(server, counts)
      ctx = Context.new(server.port, now + @seconds, counts)
      threads = Array.new(@churners) { |i| Thread.new { Churner.new(ctx, 1000 + i).run } }
      threads += Array.new(@attackers) { |i| Thread.new { Attacker.new(ctx, 2000 + i).run } }
      bench = Thread.new { steady_traffic(server.port) }
      threads.each do |t|
        next if t.join([ctx.deadline + JOIN_SLACK - now, 0].max)

        t.kill
        @failures << 'a client thread was still running long after the deadline'
      end
      bench.value
    end

    # emws-bench echo on a few connections for the whole run, checking
    # every echo; nil when it is not built.
    def steady_traffic(port)
      return nil unless File.executable?(BENCH)

      out, err, status = Open3.capture3(BENCH, 'echo', '--url', "ws://127.0.0.1:#{port}/", '--connections', '4',
                                        '--in-flight', '2', '--size', '512', '--duration', @seconds.to_s,
                                        '--warmup', '0', '--json')
      return JSON.parse(out.lines.last) if status.success?

      @failures << "emws-bench echo failed: #{err.lines.last(3).join.strip}"
      nil
    end

    # Waits for the server's fds to come back to the baseline.
    def settle(server)
      deadline = now + SETTLE_LIMIT
      fds = server.fds
      while fds > @base[:fds] && now < deadline
        sleep 0.2
        fds = server.fds
      end
      fds
    rescue Errno::ENOENT
      nil
    end

    def probe(port)
      client = BlockingClient.new(port, timeout: 5)
      client.send_text('probe')
      client.read_data_frame.text == 'probe'
    rescue StandardError
      false
    ensure
      client&.close
    end

    def median(values)
      values.sort[values.size / 2]
    end

    # RSS after warm-up (the first quarter, at least 5 s) against RSS at
    # the end of the load.
    def rss_growth(samples, load_time)
      warmup = [5, load_time / 4].max
      loaded = samples.select { |s| s.at <= load_time + 1 }
      early = loaded.select { |s| s.at >= warmup }.first(5)
      late = loaded.last(5)
      return nil if early.empty? || late.empty?

      [median(early.map(&:rss_kb)), median(late.map(&:rss_kb))]
    end

    def judge(samples, counts, load_time)
      @failures << 'the server died' unless @alive
      @failures << 'the server did not echo a probe after the load' unless @probe
      @failures << "#{counts[:lost]} message(s) or close(s) of well-behaved clients lost" if counts[:lost].to_i.positive?
      @failures << "#{counts[:bad_handshakes]} bad handshake response(s)" if counts[:bad_handshakes].to_i.positive?
      if @settled_fds.nil? || @settled_fds > @base[:fds]
        @failures << "open fds did not come back: #{@base[:fds]} before the load, #{@settled_fds.inspect} #{SETTLE_LIMIT}s after it"
      end
      early, late = rss_growth(samples, load_time)
      @rss = { early: early, late: late }
      if early && late - early > @rss_bound_kb
        @failures << "RSS grew #{(late - early) / 1024} MiB after warm-up (bound #{@rss_bound_kb / 1024} MiB)"
      end
      counts.each do |key, n|
        @failures << "#{n} #{key.to_s.delete_suffix('_unexpected').delete_prefix('attack_')} attack(s) not refused as expected" if key.end_with?('_unexpected')
      end
    end

    def report(samples, counts, load_time)
      lines = ["## soak: #{@mode}, #{@impl == 'original' ? 'em-websocket 0.5.1' : 'em-websocket-rs'}, #{@seconds}s", '']
      lines << '| t (s) | RSS (MiB) | open fds | threads | connections | messages | lost | attacks |'
      lines << '|---:|---:|---:|---:|---:|---:|---:|---:|'
      step = [samples.size / 12, 1].max
      picked = samples.each_slice(step).map(&:first)
      picked << samples.last unless picked.last.equal?(samples.last)
      picked.each do |s|
        c = s.counts || {}
        attacks = c.select { |k, _| k.match?(/\Aattack_[a-z0-9_]+\z/) && !k.end_with?('_ok', '_unexpected') }.values.sum
        lines << format('| %.0f | %.1f | %d | %d | %d | %d | %d | %d |', s.at, s.rss_kb / 1024.0, s.fds, s.threads,
                        c[:connections].to_i, c[:messages].to_i, c[:lost].to_i, attacks)
      end
      lines << ''
      lines << format('Load %<load>.0f s. Before it: RSS %<base>.1f MiB, %<fds>d open fds. RSS after warm-up ' \
                      '%<early>.1f MiB, at the end %<late>.1f MiB (peak %<peak>.1f MiB). Open fds once the clients ' \
                      'were gone: %<settled>s.',
                      load: load_time, base: @base[:rss_kb] / 1024.0, fds: @base[:fds], early: (@rss[:early] || 0) / 1024.0,
                      late: (@rss[:late] || 0) / 1024.0, peak: samples.map(&:rss_kb).max / 1024.0,
                      settled: @settled_fds.inspect)
      lines << ''
      lines << "Churning clients: #{counts[:connections].to_i} connections, #{counts[:messages].to_i} messages " \
               "(#{(counts[:bytes].to_i / 1048576.0).round(1)} MiB) echoed and checked, #{counts[:lost].to_i} lost; endings: " +
               counts.select { |k, _| k.start_with?('end_') }.sort.map { |k, v| "#{k.to_s.delete_prefix('end_')} #{v}" }.join(', ')
      if @bench
        lines << "Steady traffic (emws-bench echo, 4 connections x 2 in flight, 512 B): " \
                 "#{@bench['round_trips'] || @bench.dig('results', 'round_trips') || @bench.inspect[0, 120]} round trips checked"
      else
        lines << 'Steady traffic: emws-bench not built (cargo build --release -p emws-bench), skipped'
      end
      attack_rows(counts).each { |row| lines << row }
      lines << "Server alive: #{@alive}; probe echo after the load: #{@probe}"
      text = lines.join("\n")
      puts text
      path = File.join(ROOT, 'tmp', 'soak', "#{@mode}.md")
      File.write(path, "#{text}\n")
      puts "soak: report in #{path}"
    end

    def attack_rows(counts)
      kinds = counts.keys.map(&:to_s).grep(/\Aattack_[a-z0-9_]+\z/).reject { |k| k.end_with?('_ok', '_unexpected') }
      return [] if kinds.empty?

      rows = ['', '| hostile client | tries | refused as expected | not |', '|---|---:|---:|---:|']
      kinds.sort.each do |kind|
        rows << "| #{kind.delete_prefix('attack_')} | #{counts[kind.to_sym]} | #{counts[:"#{kind}_ok"].to_i} | #{counts[:"#{kind}_unexpected"].to_i} |"
      end
      rows << ''
    end
  end
end
