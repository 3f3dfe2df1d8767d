# frozen_string_literal: true

require 'socket'
require 'rbconfig'
require 'fileutils'

module EmwsSoak
  ROOT = File.expand_path('../..', __dir__)

  # examples/echo.rb in a process of its own, and what /proc says about it.
  class Server
    ECHO = File.join(ROOT, 'examples', 'echo.rb')
    START_LIMIT = 30 # seconds for the server to listen

    attr_reader :pid, :port, :log

    def initialize(log:, impl: 'rs')
      @log = log
      @impl = impl
      @port = free_port
    end

    def start
      FileUtils.mkdir_p(File.dirname(@log))
      env = { 'HOST' => '127.0.0.1', 'EMWS_IMPL' => @impl == 'original' ? 'original' : nil }
      @pid = Process.spawn(env, RbConfig.ruby, '-I', File.join(ROOT, 'lib'), ECHO, @port.to_s,
                           out: @log, err: %i[child out], pgroup: true)
      deadline = now + START_LIMIT
      until listening?
        raise "the echo server exited (see #{@log})" unless alive?
        raise "the echo server is not listening after #{START_LIMIT}s (see #{@log})" if now > deadline

        sleep 0.1
      end
      self
    end

    def alive?
      Process.waitpid(@pid, Process::WNOHANG).nil?
    rescue Errno::ECHILD
      false
    end

    # Resident set size in KiB.
    def rss_kb
      File.read("/proc/#{@pid}/status")[/^VmRSS:\s+(\d+)/, 1].to_i
    end

    def fds
      Dir.children("/proc/#{@pid}/fd").size
    end

    def threads
      File.read("/proc/#{@pid}/status")[/^Threads:\s+(\d+)/, 1].to_i
    end

    def stop
      return unless @pid && alive?

      Process.kill('TERM', @pid)
      deadline = now + 10
      sleep 0.05 while alive? && now < deadline
      Process.kill('KILL', @pid) if alive?
    rescue Errno::ESRCH
      nil
    end

    private

    def listening?
      TCPSocket.new('127.0.0.1', @port).close
      true
    rescue SystemCallError
      false
    end

    def free_port
      server = TCPServer.new('127.0.0.1', 0)
      server.addr[1]
    ensure
      server&.close
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
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
