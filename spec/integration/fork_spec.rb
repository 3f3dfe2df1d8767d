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

    # Runs the reactor with what the block starts; a client sends +text+ to
    # it and the first reply's text is returned.
    def first_reply(text)
      thread = holder = nil
      em_run do
        yield
        thread, holder = in_thread { BlockingClient.exchange(port, text) }
      end
      join_thread!(thread, holder)
    end

    it 'serves from a runtime of its own, not its parent' do
      # The parent serves first, so that its runtime's threads exist when it forks.
      reply = first_reply('parent') { start_server { |ws| ws.onmessage { |msg| ws.send(msg) } } }
      expect(reply).to eq('parent')

      child_port = free_port
      child = fork_server(child_port)
      answers = Array.new(3) { |i| BlockingClient.exchange(child_port, "who? #{i}") }
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
      reply = first_reply('fork') do
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
      end
      expect(reply).to eq('from the parent')
    end
  end
end
