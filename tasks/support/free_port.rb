# frozen_string_literal: true

require 'socket'

# A port for a test server on loopback that no client socket will take.
#
# A port the kernel picks with bind(0) comes from the ephemeral range, the
# same range outgoing connections take their local ports from: once the
# first server on it stops, any client socket of the test suite may be given
# it, and a second server on "the same port" then fails with EADDRINUSE
# (seen in full RSpec runs). Ports below the ephemeral range are never given
# out that way.
module FreePort
  ATTEMPTS = 200

  module_function

  def pick(host = '127.0.0.1')
    low = ephemeral_low
    ATTEMPTS.times do
      candidate = rand(1024 + (low - 1024) / 2...low)
      return candidate if bindable?(host, candidate)
    end
    raise "no free port below #{low} on #{host} after #{ATTEMPTS} tries"
  end

  def ephemeral_low
    File.read('/proc/sys/net/ipv4/ip_local_port_range').split.first.to_i
  rescue SystemCallError
    32_768
  end

  def bindable?(host, port)
    TCPServer.new(host, port).close
    true
  rescue SystemCallError
    false
  end
end
