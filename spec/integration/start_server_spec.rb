require 'spec_helper'

module EMWSSpec
  RSpec.describe "EventMachine's own start_server with EM::WebSocket::Connection" do
    # Serves one echo through EM.start_server, then calls EM.stop_server and
    # yields the server's signature.
    def echo_through_start_server
      got = nil
      em_run do
        signature = EM.start_server(Helpers::HOST, port, EM::WebSocket::Connection, {}) do |ws|
          ws.onmessage { |m| ws.send("echo #{m}") }
        end
        client = connect_client
        client.on_open { client.send_text('hi') }
        when_true(-> { client.frames.any? }) do
          got = client.frames.map(&:text)
          EM.stop_server(signature)
          yield if block_given?
          done
        end
      end
      got
    end

    it 'serves WebSockets' do
      expect(echo_through_start_server).to eq(['echo hi'])
    end

    it 'frees the port at once on EM.stop_server',
       rs_only: 'EventMachine closes the listener later, on its next turn' do
      rebound = nil
      echo_through_start_server do
        rebound = TCPServer.new(Helpers::HOST, port)
        rebound.close
      end
      expect(rebound).to be_a(TCPServer)
    end
  end
end
