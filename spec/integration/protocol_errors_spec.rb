require 'spec_helper'

module EMWSSpec
  RSpec.describe 'protocol errors' do
    # Sends +bytes+ after the handshake to a server that records everything.
    # The client does not answer the server's close frame, so the server has to
    # drop the TCP connection itself.
    def provoke(bytes, server_opts = {}, &setup)
      rec = { errors: [], messages: [], closes: [] }
      client = nil
      em_run do
        start_server(server_opts) do |ws|
          setup&.call(ws)
          ws.onmessage { |m| rec[:messages] << m }
          ws.onbinary { |m| rec[:messages] << m }
          ws.onerror { |e| rec[:errors] << e }
          ws.onclose { |ev| rec[:closes] << ev }
        end
        client = connect_client(echo_close: false)
        client.on_open { client.send_data(bytes) }
        client.on_close { done_later(0.05) }
      end
      rec[:client] = client
      rec
    end

    def expect_failure(rec, error_class, code, message)
      client = rec[:client]
      expect(client.frames.map(&:type)).to eq([:close])
      expect(client.close_frame.close_code).to eq(code)
      expect(client.close_frame.close_reason).to eq(message) if message
      expect(client).to be_closed
      expect(rec[:errors].map(&:class)).to eq([error_class])
      expect(rec[:errors].first.code).to eq(code)
      expect(rec[:errors].first.message).to eq(message) if message
      expect(rec[:closes]).to eq([{ code: 1006, was_clean: false }])
    end

    describe 'frames over max_frame_size (1009)' do
      it 'uses EM::WebSocket.max_frame_size (default 10 MiB)' do
        expect(WS.max_frame_size).to eq(10 * 1024 * 1024)
        rec = with_max_frame_size(100) do
          provoke(F.encode(:text, 'a' * 90) + F.encode(:text, 'b' * 200))
        end
        expect(rec[:messages]).to eq(['a' * 90])
        # 2 header bytes + 2 length bytes + 4 mask bytes + 200 payload bytes
        expect_failure(rec, WS::WSMessageTooBigError, 1009, 'Frame length too long (208 bytes)')
        expect(WS.max_frame_size).to eq(10 * 1024 * 1024)
      end

      it 'honours ws.max_frame_size= per connection only' do
        sizes = []
        rec = provoke(F.encode(:text, 'x' * 30)) do |ws|
          sizes << ws.max_frame_size
          ws.max_frame_size = 20
          sizes << ws.max_frame_size
        end
        expect(sizes).to eq([10 * 1024 * 1024, 20])
        expect(rec[:messages]).to eq([])
        expect_failure(rec, WS::WSMessageTooBigError, 1009, 'Frame length too long (36 bytes)')
        expect(WS.max_frame_size).to eq(10 * 1024 * 1024)
      end

      it 'closes as soon as the header of a huge frame is in, without waiting for the payload' do
        # a frame that claims 1 GiB but sends 10 bytes of it
        header = F.encode(:binary, 'z' * 10, length_override: 1 << 30)
        rec = provoke(header)
        expect(rec[:messages]).to eq([])
        expect_failure(rec, WS::WSMessageTooBigError, 1009, "Frame length too long (#{(1 << 30) + 14} bytes)")
      end

      it 'leaves other connections at the global limit' do
        got = []
        count = 0
        em_run do
          start_server do |ws|
            count += 1
            ws.max_frame_size = 20 if count == 1
            ws.onmessage { |m| got << m; done }
          end
          first = connect_client
          first.on_open do
            second = connect_client
            second.on_open { second.send_text('y' * 1000) }
          end
        end
        expect(count).to eq(2)
        expect(got).to eq(['y' * 1000])
      end
    end

    it 'fails text that is not UTF-8 with 1007 "Invalid UTF8 data"' do
      rec = provoke(F.encode(:text, "ok \xFF\xFE".b))
      expect(rec[:messages]).to eq([])
      expect_failure(rec, WS::InvalidDataError, 1007, 'Invalid UTF8 data')
    end

    it 'fails a fragmented text message that is not UTF-8 once complete with 1007' do
      rec = provoke(F.encode(:text, "\xE2\x98".b, fin: false) + F.encode(:continuation, "\x28".b))
      expect(rec[:messages]).to eq([])
      expect_failure(rec, WS::InvalidDataError, 1007, 'Invalid UTF8 data')
    end

    it 'accepts invalid UTF-8 in binary messages' do
      rec = provoke(F.encode(:binary, "\xFF\xFE".b) + F.encode(:close, F.close_payload(1000)))
      expect(rec[:messages]).to eq(["\xFF\xFE".b])
      expect(rec[:errors]).to eq([])
    end

    {
      'a reserved data opcode (3)' => [F.encode(3, 'x'), 'Unknown opcode 3'],
      'a reserved control opcode (0xB)' => [F.encode(0xB, 'x'), 'Unknown opcode 11'],
      'a continuation frame with nothing to continue' => [F.encode(:continuation, 'x'), 'Continuation frame not expected'],
      'a new data frame inside a fragmented message' =>
        [F.encode(:text, 'a', fin: false) + F.encode(:text, 'b'), 'Continuation frame expected'],
      'a fragmented control frame' => [F.encode(:ping, 'x', fin: false), 'Control frames must not be fragmented'],
      'a close frame with a one byte body' =>
        [F.encode(:close, "\x03".b), 'Close frames with a body must contain a 2 byte status code']
    }.each do |what, (bytes, message)|
      it "fails #{what} with 1002 \"#{message}\"" do
        rec = provoke(bytes)
        expect(rec[:messages]).to eq([])
        expect_failure(rec, WS::WSProtocolError, 1002, message)
      end
    end

    describe 'stricter RFC 6455 checks' do
      it 'fails a frame with RSV bits set with 1002',
         rs_only: 'em-websocket 0.5.1 ignores RSV bits' do
        rec = provoke(F.encode(:text, 'rsv', rsv: 0b100))
        expect(rec[:messages]).to eq([])
        expect_failure(rec, WS::WSProtocolError, 1002, nil)
      end

      [999, 1004, 1005, 1006, 1015, 2000, 5000].each do |code|
        it "fails a client close frame with invalid code #{code} with 1002",
           rs_only: 'em-websocket 0.5.1 accepts any close code from the client' do
          rec = provoke(F.encode(:close, F.close_payload(code)))
          expect_failure(rec, WS::WSProtocolError, 1002, nil)
        end
      end

      it 'fails a control frame longer than 125 bytes with 1002',
         rs_only: 'em-websocket 0.5.1 accepts control frames of any length' do
        rec = provoke(F.encode(:ping, 'p' * 126))
        expect(rec[:client].frames_of(:pong)).to eq([])
        expect_failure(rec, WS::WSProtocolError, 1002, nil)
      end
    end

    it 'keeps the error class hierarchy and codes' do
      expect(WS::WebSocketError.superclass).to eq(RuntimeError)
      expect(WS::HandshakeError.superclass).to eq(WS::WebSocketError)
      expect(WS::WSProtocolError.superclass).to eq(WS::WebSocketError)
      expect(WS::InvalidDataError.superclass).to eq(WS::WSProtocolError)
      expect(WS::WSMessageTooBigError.superclass).to eq(WS::WSProtocolError)
      expect([WS::WSProtocolError, WS::InvalidDataError, WS::WSMessageTooBigError].map { |k| k.new('m').code })
        .to eq([1002, 1007, 1009])
    end
  end
end
