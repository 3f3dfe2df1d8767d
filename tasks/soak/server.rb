# frozen_string_literal: true

require_relative '../support/server_process'

module EmwsSoak
  ROOT = File.expand_path('../..', __dir__)

  # examples/echo.rb in a process of its own, and what /proc says about it.
  class Server < ServerProcess
    ECHO = File.join(ROOT, 'examples', 'echo.rb')
    START_LIMIT = 30 # seconds for the server to listen

    def initialize(log:, impl: 'rs')
      super(ECHO, log: log, ruby_args: ['-I', File.join(ROOT, 'lib')],
            env: { 'HOST' => '127.0.0.1', 'EMWS_IMPL' => impl == 'original' ? 'original' : nil })
    end

    def start
      super.wait_for_port(limit: START_LIMIT,
                          exited: "the echo server exited (see #{log})",
                          timeout: "the echo server is not listening after #{START_LIMIT}s (see #{log})")
    end

    # Resident set size in KiB.
    def rss_kb
      File.read("/proc/#{pid}/status")[/^VmRSS:\s+(\d+)/, 1].to_i
    end

    def fds
      Dir.children("/proc/#{pid}/fd").size
    end

    def threads
      File.read("/proc/#{pid}/status")[/^Threads:\s+(\d+)/, 1].to_i
    end
  end

  # Samples a server's RSS and open fds once a second, in a thread.
  class Sampler
    Sample = Struct.new(:at, :rss_kb, :fds, :threads, :counts)

    attr_reader :samples

    def initialize(server, &counts)
      @server = server
      @counts = counts
      @samples = []
      @started = now
    end

    def start
      @thread = Thread.new do
        loop do
          take
          sleep 1
        end
      end
      self
    end

    def take
      @samples << Sample.new(now - @started, @server.rss_kb, @server.fds, @server.threads, @counts&.call)
    rescue Errno::ENOENT, Errno::ESRCH
      nil # the server is gone: the task reports it
    end

    def stop
      @thread&.kill
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
