# frozen_string_literal: true

require 'socket'
require_relative '../../spec/support/frames'
require_relative '../../spec/support/handshake'
require_relative '../../spec/support/blocking_client'

module EmwsSoak
  Frames = EMWSSpec::Frames
  Handshake = EMWSSpec::Handshake
  BlockingClient = EMWSSpec::BlockingClient

  # Thread-safe named counters.
  class Counts
    def initialize
      @lock = Mutex.new
      @counts = Hash.new(0)
    end

    def add(key, n = 1)
      @lock.synchronize { @counts[key] += n }
    end

    def [](key)
      @lock.synchronize { @counts[key] }
    end

    def to_h
      @lock.synchronize { @counts.dup }
    end
  end

  # Shared by every client loop: where to connect, until when, what to count.
  Context = Struct.new(:port, :deadline, :counts) do
    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def running?
      now < deadline
    end
  end

  module Sockets
    module_function

    # Vanishes with a TCP RST instead of a FIN.
    def reset(sock)
      sock.setsockopt(Socket::SOL_SOCKET, Socket::SO_LINGER, [1, 0].pack('ii'))
      sock.close
    end

    # Reads until the server closes the connection; true when it did within
    # +timeout+ (the bytes read are discarded).
    def closed_by_server?(sock, timeout)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        return false if left <= 0

        IO.select([sock], nil, nil, left) or return false
        chunk = sock.read_nonblock(65_536, exception: false)
        return true if chunk.nil?
      end
    rescue Errno::ECONNRESET
      true
    end
  end

  # Well-behaved clients that come and go: each connects, checks its
  # handshake, echoes a few messages of random size and kind, checking each
  # echo, then leaves cleanly or abruptly (FIN, RST, mid-frame, or during
  # its handshake). Every echo missing or wrong is counted as lost.
  class Churner
    ENDINGS = %i[clean clean fin rst mid_frame mid_handshake].freeze
    CHARS = (('a'..'z').to_a + %w[é € 𝄞]).freeze

    def initialize(ctx, seed)
      @ctx = ctx
      @rng = Random.new(seed)
    end

    def run
      session while @ctx.running?
    end

    private

    def counts
      @ctx.counts
    end

    def session
      ending = ENDINGS.sample(random: @rng)
      return vanish_mid_handshake if ending == :mid_handshake

      key = Handshake.new_key
      client = BlockingClient.new(@ctx.port, key: key, timeout: 10)
      unless client.response.status == 101 && client.response['sec-websocket-accept'] == Handshake.accept_for(key)
        counts.add(:bad_handshakes)
        return client.close
      end
      counts.add(:connections)
      @rng.rand(1..10).times { echo(client) }
      finish(client, ending)
    rescue BlockingClient::Timeout, EOFError, SystemCallError => e
      counts.add(:lost)
      counts.add(:"lost_#{e.class.name.split('::').last}")
      client&.close
    end

    def echo(client)
      size = [1, 10, 125, 126, 1000, 65_535, 65_536, 100_000].sample(random: @rng)
      if @rng.rand < 0.5
        sent = Array.new(size / 4 + 1) { CHARS.sample(random: @rng) }.join
        client.send_text(sent)
        type = :text
      else
        sent = @rng.bytes(size)
        client.send_binary(sent)
        type = :binary
      end
      frame = client.read_data_frame(timeout: 10)
      if frame.type == type && frame.payload == sent.b
        counts.add(:messages)
        counts.add(:bytes, sent.bytesize)
      else
        counts.add(:lost)
      end
    end

    def finish(client, ending)
      case ending
      when :clean
        client.send_close(1000, 'bye')
        frame = client.read_frame(timeout: 10)
        counts.add(frame.type == :close && frame.close_code == 1000 ? :clean_closes : :lost)
        client.close
      when :fin then client.close
      when :rst then Sockets.reset(client.socket)
      when :mid_frame
        client.write(Frames.encode(:binary, @rng.bytes(1000)).byteslice(0, @rng.rand(1..500)))
        @rng.rand < 0.5 ? client.close : Sockets.reset(client.socket)
      end
      counts.add(:"end_#{ending}")
    end

    def vanish_mid_handshake
      sock = TCPSocket.new('127.0.0.1', @ctx.port)
      request = Handshake.rfc6455_request(host: "127.0.0.1:#{@ctx.port}")
      sock.write(request.byteslice(0, @rng.rand(1...request.bytesize)))
      @rng.rand < 0.5 ? sock.close : Sockets.reset(sock)
      counts.add(:end_mid_handshake)
    end
  end

  # Hostile and broken clients, one kind after another; each checks that the
  # server answered as it should (closed the connection, with the right
  # close code) and counts what it saw.
  class Attacker
    KINDS = %i[garbage oversized_head huge_frame bad_utf8 ping_flood half_open unfinished_message slowloris].freeze

    def initialize(ctx, seed)
      @ctx = ctx
      @rng = Random.new(seed)
    end

    def run
      attack(KINDS.sample(random: @rng)) while @ctx.running?
    end

    private

    def attack(kind)
      @ctx.counts.add(:"attack_#{kind}")
      ok = __send__(kind)
      @ctx.counts.add(ok ? :"attack_#{kind}_ok" : :"attack_#{kind}_unexpected")
    rescue BlockingClient::Timeout, EOFError, SystemCallError
      @ctx.counts.add(:"attack_#{kind}_unexpected")
    end

    def connect
      TCPSocket.new('127.0.0.1', @ctx.port)
    end

    def request
      Handshake.rfc6455_request(host: "127.0.0.1:#{@ctx.port}")
    end

    def open_client
      BlockingClient.new(@ctx.port, timeout: 10)
    end

    # A close frame with +code+, then the connection closed by the server.
    def failed_with?(client, code)
      frame = client.read_data_frame(timeout: 10)
      ok = frame.type == :close && frame.close_code == code
      ok && Sockets.closed_by_server?(client.socket, 10)
    ensure
      client.close
    end

    def garbage
      expect_dropped(@rng.bytes(@rng.rand(1..16_384)).sub(/\A</n, 'x'))
    end

    def oversized_head
      expect_dropped(Handshake.rfc6455_request(host: 'x', extra: [['X-Pad', 'p' * 20_000]]))
    end

    # Sends +bytes+ and expects the server to drop the connection (it may
    # do so before all of them are written).
    def expect_dropped(bytes)
      sock = connect
      begin
        sock.write(bytes)
      rescue Errno::EPIPE, Errno::ECONNRESET
        return true
      end
      Sockets.closed_by_server?(sock, 10)
    ensure
      sock&.close
    end

    def huge_frame
      client = open_client
      client.write(Frames.encode(:binary, '', length_override: [1 << 40, 20 << 20].sample(random: @rng)))
      failed_with?(client, 1009)
    end

    def bad_utf8
      client = open_client
      client.write(Frames.encode(:text, "ok \xC3\x28".b))
      failed_with?(client, 1007)
    end

    # Thousands of pings without reading, then the pong of the last one.
    def ping_flood
      client = open_client
      client.write(Frames.encode(:ping, 'flood') * 2000)
      client.write(Frames.encode(:ping, 'last'))
      loop do
        frame = client.read_frame(timeout: 10)
        break frame.type == :pong && frame.payload == 'last' if frame.payload == 'last'
      end
    ensure
      client&.close
    end

    # A request without its final CRLF, held a while, then dropped.
    def half_open
      sock = connect
      sock.write(request.byteslice(0..-3))
      hold(sock, 2)
      true
    end

    def unfinished_message
      client = open_client
      client.send_frame(:text, 'never finished', fin: false)
      hold(client.socket, 1)
      true
    end

    # A request trickled a byte at a time, then abandoned.
    def slowloris
      sock = connect
      request.each_byte.first(30).each do |b|
        break unless @ctx.running?

        sock.write(b.chr)
        sleep 0.1
      end
      sock.close
      true
    end

    def hold(sock, seconds)
      sleep [seconds, @ctx.deadline - @ctx.now].min.clamp(0, seconds)
      @rng.rand < 0.5 ? sock.close : Sockets.reset(sock)
    end
  end
end
