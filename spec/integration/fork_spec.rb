require 'spec_helper'

module EMWSSpec
  RSpec.describe 'a process forked after serving' do
    # Forks a child that serves on +child_port+, answering every message with
    # its pid; returns the child's pid once it listens.
    def fork_server(child_port)
      reader, writer = IO.pipe
      pid = fork do
        reader.close
        status = 1
        begin
          EM.run do
            trap('TERM') { EM.stop }
            EM::WebSocket.run(host: host, port: child_port) do |ws|
              ws.onmessage { ws.send(Process.pid.to_s) }
            end
            writer.puts 'listening'
          end
          status = 0
        ensure
          # Not RSpec's at_exit hooks: they belong to the parent.
          exit!(status)
        end
      end
      writer.close
      ready = reader.wait_readable(10) && reader.gets
      raise 'the forked server did not start' unless ready == "listening\n"

      pid
    ensure
      reader&.close
    end

    it 'serves from a runtime of its own, not its parent' do
      # The parent serves first, so that its runtime's threads exist when it forks.
      thread = holder = nil
      em_run do
        start_server { |ws| ws.onmessage { |msg| ws.send(msg) } }
        thread, holder = in_thread do
          client = BlockingClient.new(port)
          client.send_text('parent')
          client.read_data_frame.text.tap { client.close }
        end
      end
      expect(join_thread!(thread, holder)).to eq('parent')

      child_port = free_port
      child = fork_server(child_port)
      answers = Array.new(3) do |i|
        client = BlockingClient.new(child_port)
        client.send_text("who? #{i}")
        text = client.read_data_frame.text
        client.close
        text
      end
      expect(answers).to eq([child.to_s] * 3)
    ensure
      if child
        Process.kill('TERM', child)
        Process.wait(child)
      end
    end

    # A child inherits its parent's connections, but their sockets are still
    # the parent's to write: what the child sends to them is lost, as with
    # em-websocket, and never lands in the middle of the parent's stream.
    it "never writes to its parent's connections",
       rs_only: 'EmWebSocketRs::Channel is an em-websocket-rs API' do
      thread = holder = nil
      em_run do
        room = EmWebSocketRs::Channel.new
        start_server do |ws|
          ws.onopen { room.subscribe(ws) }
          ws.onmessage do
            # From a timer: outside the delivery of a batch, as a worker
            # forked for a job would be.
            EM.next_tick do
              child = fork do
                room.push('from the child')
                exit!(0)
              end
              Process.wait(child)
              ws.send('from the parent')
            end
          end
        end
        thread, holder = in_thread do
          client = BlockingClient.new(port)
          client.send_text('fork')
          client.read_data_frame.text.tap { client.close }
        end
      end
      expect(join_thread!(thread, holder)).to eq('from the parent')
    end
  end
end
