# frozen_string_literal: true

require 'json'
require 'fileutils'
require 'socket'
require 'rbconfig'
require 'timeout'

module Autobahn
  # Runs the fuzzing client against one echo server and returns its results.
  class Runner
    ROOT = File.expand_path('../..', __dir__)
    ECHO = File.join(ROOT, 'examples', 'autobahn_echo.rb')

    # name: the agent name in the report; preload: `-r` files for ruby.
    def initialize(name:, outdir:, cases:, preload: [])
      @name = name
      @outdir = outdir
      @cases = cases
      @preload = preload
    end

    # Starts the server, runs `wstest -m fuzzingclient`, stops the server;
    # returns { case_id => { 'behavior' => ..., 'behaviorClose' => ... } }.
    def run(wstest)
      FileUtils.rm_rf(File.join(ROOT, @outdir))
      FileUtils.mkdir_p(File.join(ROOT, @outdir))
      port = free_port
      log = File.join(ROOT, @outdir, 'server.log')
      server = spawn_server(port, log)
      begin
        wait_for(port, server, log)
        started = Time.now
        ok = system(wstest, '-m', 'fuzzingclient', '-s', write_spec(port), chdir: ROOT,
                                                                          out: File.join(ROOT, @outdir, 'wstest.log'), err: %i[child out])
        puts format('autobahn: %<name>s: %<cases>s in %<secs>.0f s', name: @name, cases: @cases.join(','), secs: Time.now - started)
        abort "autobahn: wstest failed (see #{@outdir}/wstest.log)" unless ok
        abort "autobahn: the #{@name} server died during the run (see #{log})" unless alive?(server)
      ensure
        stop(server)
      end
      results
    end

    private

    def results
      index = File.join(ROOT, @outdir, 'index.json')
      abort "autobahn: no report at #{index}" unless File.exist?(index)
      JSON.parse(File.read(index)).fetch(@name)
    end

    def write_spec(port)
      spec = {
        'outdir' => @outdir,
        'servers' => [{ 'agent' => @name, 'url' => "ws://127.0.0.1:#{port}" }],
        'cases' => @cases,
        'exclude-cases' => [],
        'exclude-agent-cases' => {}
      }
      path = File.join(ROOT, @outdir, 'fuzzingclient.json')
      File.write(path, JSON.pretty_generate(spec))
      path
    end

    def spawn_server(port, log)
      requires = @preload.flat_map { |file| ['-r', file] }
      spawn(RbConfig.ruby, *requires, ECHO, port.to_s, chdir: ROOT, out: log, err: %i[child out],
                                                       pgroup: true)
    end

    def free_port
      server = TCPServer.new('127.0.0.1', 0)
      server.addr[1]
    ensure
      server&.close
    end

    def wait_for(port, pid, log)
      deadline = Time.now + 60
      loop do
        TCPSocket.new('127.0.0.1', port).close
        return
      rescue SystemCallError
        abort "autobahn: the #{@name} server did not start (see #{log})" if Time.now > deadline || !alive?(pid)
        sleep 0.2
      end
    end

    def alive?(pid)
      Process.waitpid(pid, Process::WNOHANG).nil?
    rescue Errno::ECHILD
      false
    end

    def stop(pid)
      Process.kill('TERM', pid)
      Timeout.timeout(10) { Process.wait(pid) }
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    rescue Timeout::Error
      Process.kill('KILL', pid)
      Process.wait(pid)
    end
  end
end
