require 'spec_helper'
require 'rbconfig'

module EMWSSpec
  # Runs the scripts in examples/ as separate processes (on the
  # implementation EMWS_IMPL selects) and talks to them over loopback.
  RSpec.describe 'examples/' do
    # Starts examples/+name+ on a free port; yields the port and a lambda that
    # waits for a line of the process' output matching a pattern.
    def with_example(name, env = {})
      port = free_port
      reader, writer = IO.pipe
      env = { 'HOST' => host, 'EMWS_IMPL' => ENV['EMWS_IMPL'] }.merge(env)
      pid = Process.spawn(env, RbConfig.ruby, '-I', File.join(ROOT, 'lib'),
                          File.join(ROOT, 'examples', name), port.to_s,
                          out: writer, err: writer, in: File::NULL)
      writer.close
      output = +''
      wait_for = lambda do |pattern, timeout = 10|
        deadline = monotonic + timeout
        until output =~ pattern
          left = deadline - monotonic
          raise "no #{pattern.inspect} from #{name} in #{timeout}s; output: #{output}" if left <= 0

          next unless IO.select([reader], nil, nil, left)

          chunk = reader.read_nonblock(4096, exception: false)
          raise "#{name} exited; output: #{output}" if chunk.nil?

          output << chunk unless chunk == :wait_readable
        end
        output
      end
      wait_for.call(/listening on ws:/)
      yield port, wait_for
      Process.kill('TERM', pid)
      status = nil
      deadline = monotonic + 5
      until (status = Process.wait2(pid, Process::WNOHANG)&.last)
        raise "#{name} did not exit on TERM" if monotonic > deadline

        sleep 0.02
      end
      pid = nil
      output << reader.read # everything up to the exit
      expect(status.success?).to be(true), "#{name} exited with #{status.inspect}; output: #{output}"
      output
    ensure
      if pid
        Process.kill('KILL', pid)
        Process.wait(pid)
      end
      reader&.close
    end

    it 'echo.rb echoes text as text and binary as binary, quietly' do
      output = with_example('echo.rb') do |port, _wait_for|
        client = BlockingClient.new(port)
        expect(client.response.status).to eq(101)
        client.send_text('hello écho')
        frame = client.read_data_frame
        expect([frame.type, frame.text]).to eq([:text, 'hello écho'])
        bin = (0..255).map(&:chr).join.b
        client.send_binary(bin)
        frame = client.read_data_frame
        expect([frame.type, frame.payload]).to eq([:binary, bin])
        client.send_close(1000)
        expect(client.read_frame.close_code).to eq(1000)
        client.close
      end
      # only the start-up line: nothing per message
      expect(output.lines.size).to eq(1), output
    end

    it 'multicast.rb relays every message to every client' do
      with_example('multicast.rb') do |port, _wait_for|
        a = BlockingClient.new(port)
        b = BlockingClient.new(port)
        a.send_text('to everyone')
        expect([a, b].map { |c| c.read_data_frame.text }).to eq(['to everyone'] * 2)
        b.send_binary("\x00\x01".b)
        frames = [a, b].map(&:read_data_frame)
        expect(frames.map { |f| [f.type, f.payload] }).to eq([[:binary, "\x00\x01".b]] * 2)
        [a, b].each(&:close)
      end
    end

    it 'ping.rb pings each client and logs the pongs' do
      with_example('ping.rb', 'PING_INTERVAL' => '0.2') do |port, wait_for|
        client = BlockingClient.new(port)
        ping = client.read_frame(timeout: 3)
        expect([ping.type, ping.payload]).to eq([:ping, 'ping 1'.b])
        client.send_frame(:pong, ping.payload)
        expect(wait_for.call(/pong from 127\.0\.0\.1:\d+: ping 1/)).to include('connected')
        client.close
        wait_for.call(/disconnected/)
      end
    end
  end
end
