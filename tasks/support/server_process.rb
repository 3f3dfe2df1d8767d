# frozen_string_literal: true

require 'fileutils'
require 'rbconfig'
require 'socket'

# A Ruby server script (one of examples/*.rb, which take the port as their
# argument) in a process of its own, for rake bench, rake autobahn and
# rake soak: started on a free port with its output in a log, waited for until
# its port accepts, asked how it exited, and stopped with TERM, then KILL.
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
    server = TCPServer.new('127.0.0.1', 0)
    server.addr[1]
  ensure
    server&.close
  end

  attr_reader :pid, :port, :log

  # script: run from the repository root as `ruby *ruby_args script port`;
  # stdout and stderr both go to `log`. pgroup: keep the server out of the
  # terminal's process group (a ^C reaches only rake, which stops it).
  def initialize(script, log:, ruby_args: [], env: {}, pgroup: true)
    @script = script
    @log = log
    @ruby_args = ruby_args
    @env = env
    @pgroup = pgroup
    @port = self.class.free_port
  end

  def start
    FileUtils.mkdir_p(File.dirname(@log))
    @pid = Process.spawn(@env, RbConfig.ruby, *@ruby_args, @script, @port.to_s,
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

  # TERM, up to `grace` seconds for it to exit, then KILL.
  def stop(grace: 10)
    return unless @pid && alive?

    Process.kill('TERM', @pid)
    deadline = now + grace
    sleep 0.05 while alive? && now < deadline
    return unless alive?

    Process.kill('KILL', @pid)
    @exit_status = Process.wait2(@pid).last
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  end

  private

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
