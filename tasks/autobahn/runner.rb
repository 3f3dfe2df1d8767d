# frozen_string_literal: true

require 'json'
require 'fileutils'
require_relative '../support/server_process'

module Autobahn
  # Runs the fuzzing client against one echo server and returns its results.
  class Runner
    ROOT = File.expand_path('../..', __dir__)
    ECHO = File.join(ROOT, 'examples', 'autobahn_echo.rb')

    # name: the agent name in the report; preload: `-r` files for ruby;
    # env: the server's environment (EMWS_FRAMING).
    def initialize(name:, outdir:, cases:, preload: [], env: {})
      @name = name
      @outdir = outdir
      @cases = cases
      @preload = preload
      @env = env
    end

    # Starts the server, runs `wstest -m fuzzingclient`, stops the server;
    # returns { case_id => { 'behavior' => ..., 'behaviorClose' => ... } }.
    def run(wstest)
      FileUtils.rm_rf(File.join(ROOT, @outdir))
      FileUtils.mkdir_p(File.join(ROOT, @outdir))
      log = File.join(ROOT, @outdir, 'server.log')
      server = ServerProcess.new(ECHO, log: log, env: @env, ruby_args: @preload.flat_map { |file| ['-r', file] })
      begin
        wait_for(server.start)
        started = Time.now
        ok = system(wstest, '-m', 'fuzzingclient', '-s', write_spec(server.port),
                    chdir: ROOT, out: File.join(ROOT, @outdir, 'wstest.log'), err: %i[child out])
        puts format('autobahn: %<name>s: %<cases>s in %<secs>.0f s', name: @name, cases: @cases.join(','), secs: Time.now - started)
        abort "autobahn: wstest failed (see #{@outdir}/wstest.log)" unless ok
        abort "autobahn: the #{@name} server died during the run (see #{log})" unless server.alive?
      ensure
        server.stop
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

    def wait_for(server)
      server.wait_for_port(limit: 60, interval: 0.2)
    rescue ServerProcess::StartError
      abort "autobahn: the #{@name} server did not start (see #{server.log})"
    end
  end
end
