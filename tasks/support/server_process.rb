# frozen_string_literal: true

require 'fileutils'
require 'rbconfig'
require 'socket'
require_relative 'free_port'

# A Ruby server script (one of examples/*.rb, which take the port as their
# argument) in a process of its own, for rake bench, rake autobahn and
# rake soak: started on a free port with its output in a log, waited for until
# its port accepts, asked how it exited, and stopped with TERM, then KILL,
# together with any processes it forked (examples/echo_forked.rb).
class ServerProcess
  ROOT = File.expand_path('../..', __dir__)

  # wait_for_port raises it; `reason` is :exited or :timeout.
  class StartError < RuntimeError
    attr_reader :reason

    def initialize(reason, message)
      @reason = reason
      super(message)
    end
  end

  def self.free_port
    FreePort.pick
  end

  attr_reader :pid, :port, :log

  # script: run from the repository root as `ruby *ruby_args script port`
  # (`command` instead of ruby for a server in another language, e.g.
  # /usr/bin/python3); stdout and stderr both go to `log`. pgroup: keep the
  # server out of the terminal's process group (a ^C reaches only rake,
  # which stops it).
  def initialize(script, log:, ruby_args: [], env: {}, pgroup: true, command: RbConfig.ruby)
    @script = script
    @command = command
    @log = log
    @ruby_args = ruby_args
    @env = env
    @pgroup = pgroup
    @port = self.class.free_port
  end

  def start
    FileUtils.mkdir_p(File.dirname(@log))
    @pid = Process.spawn(@env, @command, *@ruby_args, @script, @port.to_s,
                         chdir: ROOT, out: @log, err: %i[child out], pgroup: @pgroup)
    self
  end

  # Returns once 127.0.0.1:port accepts a connection; raises StartError when
  # the process exits first or `limit` seconds pass. The messages default to
  # ones naming the log.
  def wait_for_port(limit:, interval: 0.1,
                    exited: "the server exited at start (see #{@log})",
                    timeout: "the server did not listen on #{@port} within #{limit}s (see #{@log})")
    deadline = now + limit
    until accepting?
      raise StartError.new(:exited, exited) unless alive?
      raise StartError.new(:timeout, timeout) if now > deadline

      sleep interval
    end
    self
  end

  # nil while the server runs; how it ended otherwise (a Process::Status, or
  # 'exited' when it was reaped elsewhere).
  def exit_status
    @exit_status ||= Process.waitpid2(@pid, Process::WNOHANG)&.last
  rescue Errno::ECHILD
    @exit_status = 'exited'
  end

  def alive?
    exit_status.nil?
  end

  # TERM, up to `grace` seconds for it to exit, then KILL. Processes it
  # forked (found before the TERM: once it is gone they are no longer its
  # children) get the rest of `grace` to exit after it, then KILL.
  def stop(grace: 10)
    return unless @pid && alive?

    deadline = now + grace
    forked = descendants(@pid)
    stop_parent(deadline)
    stop_forked(forked, deadline)
  end

  private

  def stop_parent(deadline)
    Process.kill('TERM', @pid)
    sleep 0.05 while alive? && now < deadline
    return unless alive?

    Process.kill('KILL', @pid)
    @exit_status = Process.wait2(@pid).last
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  end

  # `forked`: [pid, start time] pairs. They normally end with the parent (it
  # passes the TERM on); any left get TERM, a second at least, then KILL.
  def stop_forked(forked, deadline)
    sleep 0.05 while running(forked).any? && now < deadline
    %w[TERM KILL].each do |signal|
      running(forked).each do |pid, _|
        Process.kill(signal, pid)
      rescue Errno::ESRCH
        nil
      end
      limit = [deadline, now].max + 1
      sleep 0.05 while running(forked).any? && now < limit
    end
  end

  # The ones still running; a pid whose start time changed is another process
  # by now, and a zombie has ended.
  def running(forked)
    forked.select do |pid, started|
      stat = proc_stat(pid)
      stat && stat[:state] != 'Z' && stat[:started] == started
    end
  end

  # [pid, start time] of every living process below `root`, read from
  # /proc/<pid>/stat (parent pid and start time).
  def descendants(root)
    stats = Dir.children('/proc').grep(/\A\d+\z/).filter_map { |pid| proc_stat(Integer(pid)) }
    children = stats.group_by { |stat| stat[:ppid] }
    found = []
    queue = [root]
    until queue.empty? || found.size > stats.size
      (children[queue.shift] || []).each do |stat|
        found << [stat[:pid], stat[:started]]
        queue << stat[:pid]
      end
    end
    found
  end

  def proc_stat(pid)
    # The command name may contain spaces and parentheses; the fields after it do not.
    fields = File.read("/proc/#{pid}/stat").rpartition(')').last.split
    { pid: pid, state: fields[0], ppid: Integer(fields[1]), started: Integer(fields[19]) }
  rescue SystemCallError, ArgumentError, TypeError
    nil
  end

  def accepting?
    TCPSocket.new('127.0.0.1', @port).close
    true
  rescue SystemCallError
    false
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end
