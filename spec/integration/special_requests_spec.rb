require 'spec_helper'

module EMWSSpec
  RSpec.describe 'requests that never reach the application' do
    POLICY_XML = '<?xml version="1.0"?><cross-domain-policy><allow-access-from domain="*" ' \
                 'to-ports="*"/></cross-domain-policy>'

    # A server whose callbacks all record into +events+
    def watched_server(events)
      start_server do |ws|
        %i[onopen onmessage onbinary onclose onerror onping onpong].each do |cb|
          ws.public_send(cb) { |*args| events << [cb, *args] }
        end
      end
    end

    ['<policy-file-request/>', "<policy-file-request/>\0", '<policy-file-request />'].each do |req|
      it "answers #{req.inspect} with the Flash policy file and closes" do
        events = []
        client = nil
        em_run do
          watched_server(events)
          client = connect_client(request: req.b, handshake: false)
          client.on_close { done_later(0.1) }
        end
        expect(client.data).to eq(POLICY_XML.b)
        expect(client).to be_closed
        expect(events).to eq([])
      end
    end

    it 'answers GET /healthcheck with 200 OK',
       rs_only: 'em-websocket 0.5.1 has no healthcheck (it fails the request as a bad handshake)' do
      events = []
      client = nil
      response = nil
      em_run do
        watched_server(events)
        client = connect_client(request: "GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".b,
                                handshake: false)
        check = lambda do
          parsed = Handshake.parse_response(client.data)
          next unless parsed

          len = parsed[0]['content-length']
          next if len && parsed[0].body.bytesize < len.to_i

          response = parsed[0]
          done_later(0.1)
        end
        client.on_data { |_| check.call }
        client.on_close { check.call unless response }
      end
      expect(response.status_line).to start_with('HTTP/1.1 200')
      expect(response.body).to eq('OK')
      expect(events).to eq([])
    end
  end
end
