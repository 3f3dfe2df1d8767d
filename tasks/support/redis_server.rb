# frozen_string_literal: true

require 'fileutils'
require 'socket'
require 'tmpdir'
require_relative 'free_port'

# A real redis-server (Debian's) on a free loopback port, persistence off,
# started and stopped (or killed and restarted on the same port) by a spec
# or by rake bench; with `password:` it requires one (requirepass), with
# `tls:` ({ cert_chain_file:, private_key_file: }) it speaks only TLS.
class RedisServer
  BINARY = '/usr/bin/redis-server'
  CLI = '/usr/bin/redis-cli'

  def self.available?
    File.executable?(BINARY) && File.executable?(CLI)
  end

  attr_reader :port

  def initialize(password: nil, tls: nil)
    @port = FreePort.pick
    @password = password
    @tls = tls
    @dir = Dir.mktmpdir('emws-redis')
  end

  # The URL a client uses: rediss:// to localhost (the certificate's name)
  # with TLS, the password in it when there is one.
  def url(db = 0)
    auth = @password ? ":#{@password}@" : ''
    @tls ? "rediss://#{auth}localhost:#{@port}/#{db}" : "redis://#{auth}127.0.0.1:#{@port}/#{db}"
  end

  # redis-cli's command line for this server, without the command.
  def cli_command
    command = [CLI, '-p', @port.to_s]
    command.push('--tls', '--cacert', @tls[:cert_chain_file]) if @tls
    command.push('--no-auth-warning', '-a', @password) if @password
    command
  end

  def start
    listen = if @tls
               ['--port', '0', '--tls-port', @port.to_s, '--tls-cert-file', @tls[:cert_chain_file],
                '--tls-key-file', @tls[:private_key_file], '--tls-auth-clients', 'no']
             else
               ['--port', @port.to_s]
             end
    listen.push('--requirepass', @password) if @password
    @pid = Process.spawn(BINARY, *listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                         '--dir', @dir, out: File.join(@dir, 'redis.log'), err: %i[child out])
    deadline = monotonic + 10
    until cli('PING') == 'PONG'
      raise "redis-server did not start on #{@port}" if monotonic > deadline

      sleep 0.05
    end
    self
  end

  # Kills it at once, as a crash would.
  def kill
    return unless @pid

    Process.kill('KILL', @pid)
    Process.wait(@pid)
    @pid = nil
  end

  def stop
    kill
    FileUtils.rm_rf(@dir)
  end

  # redis-cli's answer to a command (its output, stripped).
  def cli(*args)
    IO.popen([*cli_command, *args], err: File::NULL, &:read).to_s.strip
  rescue SystemCallError
    ''
  end

  # How many of Redis's clients are subscribed to `channel` (PUBSUB NUMSUB).
  def subscribers(channel)
    cli('PUBSUB', 'NUMSUB', channel).lines.last.to_i
  end

  # How many clients are connected (this redis-cli's own not counted).
  def clients
    cli('CLIENT', 'LIST').lines.count - 1
  end

  private

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end
