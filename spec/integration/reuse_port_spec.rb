require 'spec_helper'

module EMWSSpec
  RSpec.describe 'several processes on one port (:reuse_port)',
                 rs_only: 'em-websocket has no :reuse_port' do
    # A server in a process of its own that answers every message with its pid.
    SERVER = <<~RUBY.freeze
      $LOAD_PATH.unshift ARGV[1]
      require 'em-websocket-rs'
      $stdout.sync = true
      EM.run do
        trap('TERM') { EM.stop }
        EM::WebSocket.run(host: '127.0.0.1', port: Integer(ARGV[0]), reuse_port: true) do |ws|
          ws.onmessage { ws.send(Process.pid.to_s) }
        end
        puts 'listening'
      end
    RUBY

    def start_process(port)
      reader, writer = IO.pipe
      pid = Process.spawn(RbConfig.ruby, '-e', SERVER, port.to_s, EMWSSpec::LIB,
                          out: writer, err: writer)
      writer.close
      raise 'server did not start' unless reader.wait_readable(10) && reader.gets == "listening\n"

      [pid, reader]
    end

    it 'spreads the connections of one port over two processes' do
      pids = []
      readers = []
      2.times do
        pid, reader = start_process(port)
        pids << pid
        readers << reader
      end
      answers = Array.new(40) { BlockingClient.exchange(port, 'who?') }
      expect(answers.uniq.map(&:to_i)).to match_array(pids)
    ensure
      pids.each do |pid|
        Process.kill('TERM', pid)
        Process.wait(pid)
      rescue Errno::ESRCH, Errno::ECHILD
        nil
      end
      readers.each(&:close)
    end

    it 'refuses the port to a second process without :reuse_port' do
      pid, reader = start_process(port)
      error = nil
      em_run do
        begin
          EM::WebSocket.run(host: '127.0.0.1', port: port) {}
        rescue RuntimeError => e
          error = e
        end
        done
      end
      expect(error&.message).to start_with('no acceptor')
    ensure
      if pid
        Process.kill('TERM', pid)
        Process.wait(pid)
      end
      reader&.close
    end
  end
end
