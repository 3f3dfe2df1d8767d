# frozen_string_literal: true

require 'spec_helper'
require 'stringio'

module EMWSSpec
  # em-websocket-rs delivers messages and sends frames on a short path when a
  # connection is not debugging, and through the Ruby methods otherwise; both
  # must behave as em-websocket does.
  RSpec.describe 'message delivery paths' do
    DELIVERY_ECHO = lambda do |ws|
      ws.onmessage { |m| ws.send("text #{m}") }
      ws.onbinary { |m| ws.send_binary("binary ".b + m) }
    end

    # Echoes three texts and two binaries through the server `start` starts;
    # returns what the client got back.
    def echo_each_kind(start = -> { start_server(&DELIVERY_ECHO) })
      got = []
      em_run do
        start.call
        client = connect_client
        client.on_open do
          %w[a é c].each { |t| client.send_text(t) }
          ["\x00".b, "\xFF".b].each { |b| client.send_binary(b) }
        end
        client.on_frame do
          got = client.frames.map { |f| [f.type, f.payload.b] }
          done if got.size == 5
        end
      end
      got
    end

    # The same, through EM.start_server with a Connection subclass.
    def echo_each_kind_through(connection_class)
      echo_each_kind(-> { EM.start_server(Helpers::HOST, port, connection_class, {}, &DELIVERY_ECHO) })
    end

    let(:expected) do
      [[:text, 'text a'.b], [:text, 'text é'.b], [:text, 'text c'.b],
       [:binary, "binary \x00".b], [:binary, "binary \xFF".b]]
    end

    it 'echoes text and binary in order without :debug' do
      expect(echo_each_kind).to eq(expected)
    end

    it 'echoes the same with :debug on' do
      saved = $stdout
      $stdout = StringIO.new
      begin
        expect(echo_each_kind(-> { start_server(debug: true, &DELIVERY_ECHO) })).to eq(expected)
      ensure
        $stdout = saved
      end
    end

    it 'logs each message received and each frame sent with :debug on',
       rs_only: 'em-websocket logs raw frame bytes rather than messages' do
      saved = $stdout
      log = $stdout = StringIO.new
      begin
        echo_each_kind(-> { start_server(debug: true, &DELIVERY_ECHO) })
      ensure
        $stdout = saved
      end
      expect(log.string).to include('[:message_received, :text, "é"]')
      expect(log.string).to include('[:sending_frame, :text, "text é"]')
      expect(log.string).to include(':message_received, :binary')
    end

    # Applications (and their tests) override the trigger methods of a
    # Connection subclass; every message must still go through them.
    class CountingConnection < EM::WebSocket::Connection
      def trigger_on_message(msg)
        super("counted #{msg}")
      end

      def trigger_on_binary(msg)
        super("counted ".b + msg)
      end
    end

    it 'calls an overriding trigger_on_message and trigger_on_binary' do
      got = echo_each_kind_through(CountingConnection)
      expect(got.map(&:last)).to eq(['text counted a'.b, 'text counted é'.b, 'text counted c'.b,
                                     "binary counted \x00".b, "binary counted \xFF".b])
    end

    # Overrides through a module prepended to a subclass.
    module Tagging
      def trigger_on_message(msg)
        super("tagged #{msg}")
      end
    end

    class TaggedConnection < EM::WebSocket::Connection
      prepend Tagging
    end

    it 'calls a trigger_on_message prepended by a module' do
      got = echo_each_kind_through(TaggedConnection)
      expect(got.map(&:last)).to eq(['text tagged a'.b, 'text tagged é'.b, 'text tagged c'.b,
                                     "binary \x00".b, "binary \xFF".b])
    end

    it 'calls a trigger_on_message defined on one connection object, or a module it was extended with' do
      tagging = Module.new do
        def trigger_on_binary(msg)
          super("extended ".b + msg)
        end
      end
      got = echo_each_kind(lambda do
        start_server do |ws|
          DELIVERY_ECHO.call(ws)
          def ws.trigger_on_message(msg)
            super("single #{msg}")
          end
          ws.extend(tagging)
        end
      end)
      expect(got.map(&:last)).to eq(['text single a'.b, 'text single é'.b, 'text single c'.b,
                                     "binary extended \x00".b, "binary extended \xFF".b])
    end

    it 'delivers nothing to a connection after its onclose, when a callback stops the server mid-batch',
       rs_only: 'EM::WebSocket.run returns an EmWebSocketRs::Server, whose stop closes its connections' do
      log = []
      em_run do
        server = start_server do |ws|
          ws.onmessage do |m|
            log << [:message, m]
            server.stop if m == 'one'
          end
          ws.onclose { log << [:close] }
        end
        client = connect_client
        # Three messages in one write: one read, one batch.
        client.on_open { client.send_data(%w[one two three].map { |t| Frames.encode(:text, t) }.join) }
        client.on_close { EM.add_timer(0.1) { done } }
      end
      expect(log.first).to eq([:message, 'one'])
      expect(log.last).to eq([:close])
      expect(log.count([:close])).to eq(1)
    end

    it 'uses a block replaced by the one before, even for messages read together' do
      got = echo_each_kind(lambda do
        start_server do |ws|
          ws.onmessage do |m|
            ws.send("first #{m}")
            ws.onmessage { |n| ws.send("second #{n}") }
          end
          ws.onbinary { |m| ws.send_binary(m) }
        end
      end)
      expect(got.map(&:last).first(3)).to eq(['first a'.b, 'second é'.b, 'second c'.b])
    end

    it 'treats `onmessage` given no block as em-websocket does: the message raises, onerror, close 3000' do
      errors = []
      closed = nil
      em_run do
        start_server do |ws|
          ws.onmessage
          ws.onerror { |e| errors << e.class }
          ws.onclose { |event| closed = event[:code] }
        end
        client = connect_client
        client.on_open { client.send_text('x') }
        client.on_close { done }
      end
      expect(errors).to eq([NoMethodError])
      expect(closed).to eq(3000)
    end

    # The client reads nothing until it has asked for far more than the
    # sockets buffer, so the replies' writes stop part-way (the socket is
    # full), and the connection has to finish each one, in order, once the
    # client reads again.
    it 'sends a String changed in place between sends with its new bytes, to every connection' do
      opened = []
      got = {}
      em_run do
        start_server do |ws|
          ws.onopen do
            opened << ws
            next unless opened.size == 2

            # One String sent in turn to every connection, as a broadcast
            # does, changed in place between the rounds.
            message = +"#{'a' * 63}1"
            opened.each { |c| c.send(message) }
            opened.each { |c| c.send(message) }
            message.setbyte(0, 'Z'.ord)
            opened.each { |c| c.send(message) }
            message.replace("#{'b' * 300}2")
            opened.each { |c| c.send(message) }
            message << '3'
            opened.each { |c| c.send_binary(message) }
          end
        end
        2.times do |i|
          client = connect_client
          client.on_frame do
            got[i] = client.frames.map { |f| [f.type, f.payload.b] }
            done if got.size == 2 && got.values.all? { |frames| frames.size == 5 }
          end
        end
      end
      first = "#{'a' * 63}1".b
      expected = [[:text, first], [:text, first], [:text, "Z#{'a' * 62}1".b],
                  [:text, "#{'b' * 300}2".b], [:binary, "#{'b' * 300}23".b]]
      expect(got).to eq(0 => expected, 1 => expected)
    end

    it 'delivers every reply whole and in order to a client that reads only at the end' do
      count = 600
      body = 'r' * 16_000
      thread = holder = nil
      em_run(timeout: 40) do
        start_server { |ws| ws.onmessage { |m| ws.send("#{m} #{body}") } }
        thread, holder = in_thread do
          client = BlockingClient.new(port, timeout: 30)
          count.times do |i|
            client.send_text(i.to_s)
            sleep 0.001 # one request per batch, as a lone client's would be
          end
          texts = Array.new(count) { client.read_data_frame.text }
          client.close
          texts
        end
      end
      texts = join_thread!(thread, holder, timeout: 30)
      expect(texts.size).to eq(count)
      texts.each_with_index do |text, i|
        expect(text).to eq("#{i} #{body}"), "reply #{i} was #{text[0, 20].inspect}... (#{text.bytesize} bytes)"
      end
    end
  end
end
