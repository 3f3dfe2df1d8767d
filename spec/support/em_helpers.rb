# frozen_string_literal: true

require 'json'
require 'open3'
require 'socket'
require_relative '../../tasks/support/free_port'

module EMWSSpec
  # Helpers mixed into every example group.
  module Helpers
    HOST = '127.0.0.1'

    def host
      HOST
    end

    # Runs the block with file descriptor 2 sent to /dev/null (for native
    # code that prints expected errors straight to stderr)
    def quiet_stderr
      saved = $stderr.dup
      $stderr.reopen(File::NULL)
      yield
    ensure
      $stderr.reopen(saved)
      saved.close
    end

    # A TCP port on 127.0.0.1 that was free a moment ago, outside the range
    # client sockets take their ports from.
    def free_port
      FreePort.pick(HOST)
    end

    def port
      @port ||= free_port
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # Runs the reactor with the block; a hard timer stops it and fails the
    # example when it has not been stopped (by +done+) within +timeout+.
    def em_run(timeout: 5, &blk)
      timed_out = false
      EM.run do
        EM.add_timer(timeout) do
          timed_out = true
          EM.stop
        end
        blk.call
      end
      return unless timed_out

      RSpec::Expectations.fail_with("EM.run did not finish within #{timeout}s")
    end

    # Stops the reactor (ends em_run)
    def done
      EM.stop if EM.reactor_running?
    end

    # Stops the reactor a little later, so that writes in flight complete and
    # late (unwanted) callbacks get a chance to show up.
    def done_later(delay = 0.1)
      EM.add_timer(delay) { done }
    end

    # Polls +cond+ every +interval+ until it is true, then runs the block.
    # Gives up (silently: em_run's timer fails the example) after +timeout+.
    def when_true(cond, timeout: 4, interval: 0.01, &blk)
      deadline = monotonic + timeout
      timer = EM.add_periodic_timer(interval) do
        if cond.call
          timer.cancel
          blk.call
        elsif monotonic > deadline
          timer.cancel
        end
      end
    end

    # EM::WebSocket.run on 127.0.0.1:port
    def start_server(options = {}, &blk)
      EM::WebSocket.run({ host: HOST, port: port }.merge(options), &blk)
    end

    def ws_request(**opts)
      Handshake.rfc6455_request(host: "#{HOST}:#{port}", **opts)
    end

    # An EM RawClient connected to the server; sends an RFC 6455 handshake
    # unless +request+ is given (pass raw bytes, or false for nothing).
    def connect_client(request: nil, handshake: true, echo_close: true, tls: nil, **req_opts)
      request = ws_request(**req_opts) if request.nil?
      EM.connect(HOST, port, RawClient,
                 { request: request || nil, handshake: handshake, echo_close: echo_close, tls: tls })
    end

    # Starts a block in a thread; its value or exception is kept. The reactor
    # is stopped (through EM.schedule) when the thread ends.
    def in_thread(stop_reactor: true, &blk)
      # The port is chosen here, once: a thread that chose it too would race
      # the example's own thread to memoize a different one.
      port
      holder = { value: nil, error: nil }
      thread = Thread.new do
        holder[:value] = blk.call
      rescue Exception => e # rubocop:disable Lint/RescueException
        holder[:error] = e
      ensure
        EM.schedule { done } if stop_reactor && EM.reactor_running?
      end
      [thread, holder]
    end

    def join_thread!(thread, holder, timeout: 5)
      thread.join(timeout) or raise "client thread still running after #{timeout}s"
      raise holder[:error] if holder[:error]

      holder[:value]
    end

    # Runs a python3-websockets client script (Debian's python, whatever
    # else is on PATH) with +args+, for at most +timeout+ seconds; returns
    # what it printed, as JSON.
    def python(script, *args, timeout: 40)
      out, err, status = Open3.capture3('timeout', timeout.to_s, '/usr/bin/python3', '-c', script, *args.map(&:to_s))
      raise "python client failed: #{err}" unless status.success?

      JSON.parse(out)
    end

    # Writes +parts+ to 127.0.0.1:+port+ (a pause between them) and reads the
    # reply to its end (at most 5 s): a raw HTTP exchange.
    def raw_http(port, *parts)
      TCPSocket.open(HOST, port) do |socket|
        parts.each_with_index do |part, i|
          sleep 0.05 if i.positive?
          socket.write(part)
        end
        reply = String.new(encoding: Encoding::BINARY)
        deadline = monotonic + 5
        while (left = deadline - monotonic).positive? && IO.select([socket], nil, nil, left)
          chunk = socket.read_nonblock(65_536, exception: false)
          break if chunk.nil?

          reply << chunk unless chunk == :wait_readable
        end
        reply
      rescue Errno::ECONNRESET
        reply
      end
    end

    # The ArgumentError EM::WebSocket.run raised for these options, after
    # checking that nothing listens on the port.
    def start_error(options)
      error = nil
      listening = nil
      em_run do
        start_server(options) { |_ws| }
      rescue ArgumentError => e
        error = e
      ensure
        listening = begin
          TCPSocket.new(HOST, port).close
          true
        rescue Errno::ECONNREFUSED
          false
        end
        done
      end
      RSpec::Expectations.fail_with('a server was listening after the error') if listening
      RSpec::Expectations.fail_with("no ArgumentError (#{error.inspect})") unless error.is_a?(ArgumentError)
      error.message
    end

    # A string that claims to be UTF-8 but is not valid UTF-8
    def invalid_utf8
      String.new("\xC3\x28 bad", encoding: Encoding::UTF_8)
    end

    # A self-signed certificate for 127.0.0.1/localhost in +dir+; returns
    # { private_key_file:, cert_chain_file: }
    def self_signed_cert(dir)
      require 'openssl'
      key = OpenSSL::PKey::RSA.new(2048)
      cert = OpenSSL::X509::Certificate.new
      cert.version = 2
      cert.serial = rand(1 << 32)
      cert.subject = cert.issuer = OpenSSL::X509::Name.parse('/CN=localhost')
      cert.public_key = key.public_key
      cert.not_before = Time.now - 3600
      cert.not_after = Time.now + 86_400
      ef = OpenSSL::X509::ExtensionFactory.new(cert, cert)
      cert.add_extension(ef.create_extension('subjectAltName', 'DNS:localhost,IP:127.0.0.1'))
      cert.add_extension(ef.create_extension('basicConstraints', 'CA:FALSE'))
      cert.sign(key, OpenSSL::Digest.new('SHA256'))
      key_file = File.join(dir, 'key.pem')
      cert_file = File.join(dir, 'cert.pem')
      File.write(key_file, key.to_pem)
      File.write(cert_file, cert.to_pem)
      { private_key_file: key_file, cert_chain_file: cert_file }
    end

    def with_max_frame_size(size)
      old = EM::WebSocket.max_frame_size
      EM::WebSocket.max_frame_size = size
      yield
    ensure
      EM::WebSocket.max_frame_size = old
    end
  end
end
