# frozen_string_literal: true

require 'spec_helper'
require 'rbconfig'
require 'json'
require 'tmpdir'
require_relative '../support/chromium'

module EMWSSpec
  # examples/chat/server.rb run as a process of its own, in its own process
  # group; its output (stdout and stderr) is collected by a thread.
  class ChatServerProcess
    SCRIPT = File.join(ROOT, 'examples', 'chat', 'server.rb')
    # the lib/ under test (spec_helper's LIB where it has one)
    LIB_DIR = EMWSSpec.const_defined?(:LIB) ? EMWSSpec.const_get(:LIB) : File.join(ROOT, 'lib')

    attr_reader :port, :pid

    def initialize(port, host: '127.0.0.1')
      @port = port
      @output = +''.b
      @lock = Mutex.new
      reader, writer = IO.pipe
      @pid = Process.spawn({ 'HOST' => host }, RbConfig.ruby, '-I', LIB, SCRIPT, port.to_s,
                           out: writer, err: writer, in: File::NULL, pgroup: true)
      writer.close
      @reader = Thread.new do
        loop do
          chunk = reader.readpartial(4096)
          @lock.synchronize { @output << chunk }
        end
      rescue EOFError, IOError
        reader.close
      end
      wait_for(/listening on ws:/)
    rescue StandardError
      kill
      raise
    end

    def output
      @lock.synchronize { @output.dup }
    end

    # Waits (at most +timeout+ s) until the output matches; returns the output.
    def wait_for(pattern, timeout: 10)
      deadline = monotonic + timeout
      until (text = output).match?(pattern)
        raise "the chat server exited; output: #{text}" unless alive?
        raise "no #{pattern.inspect} from the chat server in #{timeout}s; output: #{text}" if monotonic > deadline

        sleep 0.02
      end
      text
    end

    def alive?
      return false unless @pid
      return true unless Process.wait2(@pid, Process::WNOHANG)

      @pid = nil
      false
    end

    # SIGKILL to its group, as a crash would; returns the output.
    def kill
      signal('KILL')
      reap
      output
    end

    # TERM (its EM.stop), KILL after 5 s; returns the exit status.
    def stop
      signal('TERM')
      deadline = monotonic + 5
      until (status = Process.wait2(@pid, Process::WNOHANG)&.last)
        if monotonic > deadline
          signal('KILL')
          reap
          return nil
        end
        sleep 0.02
      end
      @pid = nil
      @reader.join(2)
      status
    end

    private

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def signal(name)
      Process.kill(name, -@pid) if @pid
    rescue Errno::ESRCH
      nil
    end

    def reap
      Process.wait(@pid) if @pid
      @pid = nil
      @reader&.join(2)
    rescue Errno::ECHILD
      @pid = nil
    end
  end

  RSpec.describe 'examples/chat', rs_only: 'examples/chat/server.rb uses EmWebSocketRs::Channel' do
    let(:index_html) { File.binread(File.join(ROOT, 'examples/chat/index.html')) }
    let(:chat_js) { File.binread(File.join(ROOT, 'examples/chat/chat.js')) }
    let(:png_signature) { [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] }

    def chat_frame(client)
      frame = client.read_data_frame(timeout: 5)
      frame.type == :text ? [:text, JSON.parse(frame.text)] : [frame.type, frame.payload]
    end

    it 'serves its page over HTTP on the WebSocket port, sends text to the room and binary to the others' do
      server = ChatServerProcess.new(free_port)
      port = server.port

      # The page and its script, through the dispatch override.
      response = raw_http(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
      head, body = response.split("\r\n\r\n", 2)
      expect(head).to start_with('HTTP/1.1 200 OK')
      expect(head).to include('Content-Type: text/html; charset=utf-8', "Content-Length: #{index_html.bytesize}")
      expect(body).to eq(index_html)
      # in two reads, and with a query string
      response = raw_http(port, "GET /chat.js?v=1 HTTP/1.1\r\n", "Host: x\r\n\r\n")
      expect(response).to start_with("HTTP/1.1 200 OK\r\nContent-Type: application/javascript")
      expect(response.split("\r\n\r\n", 2).last).to eq(chat_js)
      # everything else goes on with super: the healthcheck is answered natively,
      # a request that is neither the page nor an upgrade gets no page
      expect(raw_http(port, "GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")).to start_with('HTTP/1.1 200')
      expect(raw_http(port, "GET /server.rb HTTP/1.1\r\nHost: x\r\n\r\n")).not_to include('HTTP/1.1 200')
      expect(raw_http(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).not_to include('HTTP/1.1 200')

      # WebSocket clients on the same port. Each one's own line coming back
      # shows it is in the room before the next one joins.
      a = BlockingClient.new(port)
      expect(a.response.status).to eq(101)
      a.send_text(JSON.generate(from: 'a', text: 'a here'))
      expect(chat_frame(a)).to eq([:text, { 'from' => 'a', 'text' => 'a here' }])
      b = BlockingClient.new(port)
      b.send_text(JSON.generate(from: 'b', text: 'b here'))
      expect([chat_frame(a), chat_frame(b)]).to eq([[:text, { 'from' => 'b', 'text' => 'b here' }]] * 2)

      # A line is checked and written anew: names trimmed, other keys dropped.
      a.send_text(JSON.generate(from: '  alice ', text: 'hi <b>é</b> 😀', admin: true))
      expect([chat_frame(a), chat_frame(b)]).to eq([[:text, { 'from' => 'alice', 'text' => 'hi <b>é</b> 😀' }]] * 2)

      # What is not a chat line gets a notice, to its sender alone.
      ['not json', '[1]', JSON.generate(from: 'b', text: ' '), JSON.generate(from: 'server', text: 'x'),
       JSON.generate(from: 'b' * 41, text: 'x')].each do |bad|
        b.send_text(bad)
        kind, notice = chat_frame(b)
        expect([kind, notice['from']]).to eq([:text, 'server'])
        expect(notice['text']).to start_with('not sent: ')
      end

      # Binary goes to everyone but the sender, as binary.
      bytes = (0..255).map(&:chr).join.b
      a.send_binary(bytes)
      expect(chat_frame(b)).to eq([:binary, bytes])
      b.send_binary("\xff\x00".b)
      expect(chat_frame(a)).to eq([:binary, "\xff\x00".b])
      # a's next frame is b's line, b's the same: no notice for b's bad
      # lines reached a, and neither got its own binary back
      b.send_text(JSON.generate(from: 'b', text: 'done'))
      expect([chat_frame(a), chat_frame(b)]).to eq([[:text, { 'from' => 'b', 'text' => 'done' }]] * 2)

      # More than 1 MiB in one frame: closed with 1009.
      big = BlockingClient.new(port)
      # Only the header and a byte: the server answers the header at once, and
      # writing the whole MiB after that would race its close (EPIPE).
      big.write(Frames.encode(:binary, 'x', length_override: (1 << 20) + 1))
      expect(big.read_data_frame(timeout: 5).close_code).to eq(1009)
      [a, b, big].each { |client| client.socket.close }

      output = server.wait_for(/(left\n.*){3}/m)
      expect(output.scan(/^127\.0\.0\.1 joined$/).size).to eq(3)
      expect(server.stop&.success?).to be(true), "the server did not stop cleanly on TERM: #{server.output}"
    ensure
      server&.kill
    end

    # The page's messages as the user sees them: [class, from, text].
    def list_js
      "Array.from(document.querySelectorAll('#messages li'), li => " \
        "[li.className, li.querySelector('.from').textContent, li.querySelector('.text').textContent])"
    end

    def say(page, name, text)
      sent = page.evaluate(<<~JS)
        (() => {
          document.getElementById('name').value = #{JSON.generate(name)};
          const box = document.getElementById('text');
          box.value = #{JSON.generate(text)};
          document.getElementById('send').click();
          return box.value === '';
        })()
      JS
      expect(sent).to be(true), "#{name}'s message was not sent (status: #{page.evaluate('chat.state')})"
    end

    def messages(page, count)
      page.wait_for("(#{list_js}).length >= #{count}", what: "#{count} messages on the page")
      page.evaluate(list_js)
    end

    def status(page)
      page.evaluate("[chat.state, document.getElementById('status').textContent, chat.connects, " \
                    "document.getElementById('send').disabled]")
    end

    # The bytes of the page's +index+th binary message received (or sent).
    def binary(page, index, list = 'received')
      page.wait_for("(() => { const m = chat.#{list}.filter(m => m.kind === 'binary')[#{index}]; " \
                    "return m && m.bytes !== null; })()", what: "binary message #{index} #{list}")
      page.evaluate("(() => { const m = chat.#{list}.filter(m => m.kind === 'binary')[#{index}]; " \
                    'return { type: m.type, size: m.size, bytes: Array.from(m.bytes) }; })()')
    end

    it 'chats between two Chromium pages, binary included, and both reconnect by themselves after a server restart' do
      skip 'chromium is not installed (bin/deps installs it)' unless Chromium.executable

      port = free_port
      server = ChatServerProcess.new(port)
      Dir.mktmpdir('emws-chat') do |dir|
        Chromium.open do |browser|
          a = browser.new_page("http://127.0.0.1:#{port}/")
          b = browser.new_page("http://127.0.0.1:#{port}/")
          [a, b].each { |page| page.wait_for("window.chat && chat.state === 'connected'", what: 'connected') }
          expect([a, b].map { |page| status(page) }).to eq([['connected', 'connected', 1, false]] * 2)
          expect(a.evaluate('document.title')).to eq('em-websocket-rs chat')
          server.wait_for(/(joined\n.*){2}/m)

          # Text, both ways; each page shows the room's lines in the room's order.
          say(a, 'alice', 'hello from A')
          expect(messages(b, 1)).to eq([['text', 'alice', 'hello from A']])
          tricky = '<img src=x onerror="window.pwned = 1"> & é 😀'
          say(b, 'bob', tricky)
          both = [['text', 'alice', 'hello from A'], ['text', 'bob', tricky]]
          expect(messages(a, 2)).to eq(both)
          expect(messages(b, 2)).to eq(both)
          # shown as text, never as HTML
          expect(a.evaluate("[document.querySelectorAll('#messages img').length, window.pwned === undefined]"))
            .to eq([0, true])

          # Binary: every byte value, through the file input and its button ...
          file = File.join(dir, 'bytes.bin')
          File.binwrite(file, (0..255).map(&:chr).join)
          a.set_files('#file', [file])
          a.click('#send-file')
          expect(binary(b, 0)).to eq('type' => 'Blob', 'size' => 256, 'bytes' => (0..255).to_a)
          # ... and a picture the page draws (a PNG), shown as one on the other page.
          a.click('#send-picture')
          picture = binary(b, 1)
          expect(picture['type']).to eq('Blob')
          expect(picture['bytes'].first(8)).to eq(png_signature)
          expect(picture['bytes']).to eq(binary(a, 1, 'sent')['bytes'])
          b.wait_for("(() => { const img = document.querySelector('#messages li.binary img'); " \
                     'return img !== null && img.complete && img.naturalWidth === 64; })()', what: 'the picture shown')
          # The sender got neither back: its next line from the room is the text after them.
          say(a, 'alice', 'pictures sent')
          expect(messages(a, 5).map(&:first)).to eq(%w[text text sent sent text])
          expect(a.evaluate("chat.received.map(m => m.kind)")).to eq(%w[text text text])
          expect(messages(b, 5).map(&:first)).to eq(%w[text text binary binary text])

          # The server dies; both pages notice and say so, and keep trying.
          a.evaluate('window.marker = "not reloaded"')
          server.kill
          [a, b].each do |page|
            page.wait_for("chat.state !== 'connected'", what: 'noticed the server is gone')
            state, text, connects, send_disabled = status(page)
            expect(%w[connecting disconnected]).to include(state)
            expect(text).to match(/\A(disconnected; reconnecting in \d+\.\d s|reconnecting \(attempt \d+\)…)\z/)
            expect([connects, send_disabled]).to eq([1, true])
          end

          # The same port again: both come back on their own, without a reload.
          server = ChatServerProcess.new(port)
          [a, b].each { |page| page.wait_for("chat.state === 'connected'", timeout: 30, what: 'reconnected') }
          expect([a, b].map { |page| status(page) }).to eq([['connected', 'connected', 2, false]] * 2)
          expect(a.evaluate('window.marker')).to eq('not reloaded')
          server.wait_for(/(joined\n.*){2}/m)

          say(b, 'bob', 'back again')
          say(a, 'alice', 'welcome back')
          after = [['text', 'bob', 'back again'], ['text', 'alice', 'welcome back']]
          expect(messages(a, 7).last(2)).to eq(after)
          expect(messages(b, 7).last(2)).to eq(after)
          expect(messages(a, 7).size).to eq(7)

          expect(a.exceptions + b.exceptions).to eq([])
        end
      end
      expect(server.stop&.success?).to be(true), "the server did not stop cleanly on TERM: #{server.output}"
    ensure
      server&.kill
    end
  end
end
