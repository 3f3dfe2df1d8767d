# frozen_string_literal: true

require 'fileutils'
require 'json'
require 'socket'
require 'tmpdir'
require 'uri'
require 'websocket'

module EMWSSpec
  # Debian's headless Chromium as a real browser for the examples, driven
  # through the DevTools protocol (CDP) spoken over its WebSocket with the
  # websocket gem (Debian's ruby-websocket): no npm, no Python.
  #
  #   Chromium.open do |browser|
  #     page = browser.new_page("http://127.0.0.1:#{port}/")
  #     page.wait_for("document.readyState === 'complete'")
  #     page.evaluate('document.title') # => "..."
  #   end
  #
  # Every wait has a deadline. The browser runs in a process group of its
  # own, which is ended (TERM, then KILL) with its profile directory when the
  # block returns or raises.
  class Chromium
    PATHS = %w[/usr/bin/chromium /usr/bin/chromium-browser].freeze
    FLAGS = %w[
      --headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --no-default-browser-check
      --disable-background-networking --disable-component-update --disable-sync --disable-extensions
      --disable-default-apps --mute-audio --password-store=basic --use-mock-keychain
      --disable-background-timer-throttling --disable-renderer-backgrounding
      --disable-backgrounding-occluded-windows --disable-features=Translate,MediaRouter
    ].freeze

    class Error < StandardError; end
    class Timeout < Error; end

    # The Chromium executable, or nil when it is not installed.
    def self.executable
      PATHS.find { |path| File.executable?(path) }
    end

    # Starts a browser, yields it and ends it, whatever happens in the block.
    def self.open(**options)
      browser = new(**options)
      yield browser
    ensure
      browser&.close
    end

    attr_reader :devtools, :pid

    def initialize(start_timeout: 30)
      exe = self.class.executable or raise Error, 'chromium is not installed'
      @dir = Dir.mktmpdir('emws-chromium')
      profile = File.join(@dir, 'profile')
      @log = File.join(@dir, 'chromium.log')
      @pid = Process.spawn(exe, *FLAGS, "--user-data-dir=#{profile}", '--remote-debugging-port=0', 'about:blank',
                           in: File::NULL, out: @log, err: @log, pgroup: true)
      port, path = devtools_address(File.join(profile, 'DevToolsActivePort'), start_timeout)
      @devtools = DevTools.new("ws://127.0.0.1:#{port}#{path}", timeout: start_timeout)
    rescue StandardError
      close
      raise
    end

    # A new tab, attached (one CDP session per tab on the browser's
    # connection), with Runtime events on, loading +url+.
    def new_page(url = 'about:blank')
      target = devtools.command('Target.createTarget', { url: 'about:blank' })['targetId']
      session = devtools.command('Target.attachToTarget', { targetId: target, flatten: true })['sessionId']
      page = Page.new(devtools, target, session)
      page.command('Runtime.enable')
      page.navigate(url) unless url == 'about:blank'
      page
    end

    # The last lines Chromium wrote (for failure messages).
    def log_tail(lines = 20)
      File.exist?(@log.to_s) ? File.readlines(@log).last(lines).join : ''
    end

    def close
      @devtools&.close
      @devtools = nil
      stop_process_group
    ensure
      FileUtils.rm_rf(@dir) if @dir
      @dir = nil
    end

    private

    # DevToolsActivePort holds the port and the browser target's path.
    def devtools_address(file, timeout)
      deadline = monotonic + timeout
      loop do
        lines = File.exist?(file) ? File.read(file).split("\n") : []
        return lines.first(2) if lines.size >= 2

        if Process.wait2(@pid, Process::WNOHANG)
          @pid = nil
          raise Error, "chromium exited before listening for DevTools:\n#{log_tail}"
        end
        raise Timeout, "chromium did not write #{file} in #{timeout}s:\n#{log_tail}" if monotonic > deadline

        sleep 0.05
      end
    end

    # TERM to the browser's whole group (renderers, zygote, GPU process),
    # then KILL for whatever is still there after 5 s.
    def stop_process_group
      return unless @pid

      signal_group('TERM')
      deadline = monotonic + 5
      until Process.wait2(@pid, Process::WNOHANG)
        if monotonic > deadline
          signal_group('KILL')
          Process.wait(@pid)
          break
        end
        sleep 0.05
      end
      signal_group('KILL') # stragglers of the group, if any
      @pid = nil
    rescue Errno::ECHILD
      @pid = nil
    end

    def signal_group(signal)
      Process.kill(signal, -@pid)
    rescue Errno::ESRCH, Errno::EPERM
      nil
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # One WebSocket connection to the browser's DevTools endpoint: commands
    # (optionally for a session) and the events that arrive meanwhile.
    class DevTools
      class CommandError < Error; end

      MAX_EVENTS = 2000

      attr_reader :events

      def initialize(url, timeout: 10)
        uri = URI(url)
        @socket = TCPSocket.new(uri.host, uri.port)
        @socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
        handshake = ::WebSocket::Handshake::Client.new(url: url)
        @socket.write(handshake.to_s)
        deadline = monotonic + timeout
        handshake << read_some(deadline, 'the DevTools handshake') until handshake.finished?
        raise Error, "DevTools handshake failed: #{handshake.error}" unless handshake.valid?

        @version = handshake.version
        @incoming = ::WebSocket::Frame::Incoming::Client.new(version: @version)
        @incoming << handshake.leftovers.to_s
        @next_id = 0
        @events = []
      end

      # Sends a command and returns its result; raises CommandError for a
      # CDP error and Timeout when no answer comes in time.
      def command(method, params = {}, session: nil, timeout: 10)
        id = (@next_id += 1)
        message = { id: id, method: method, params: params }
        message[:sessionId] = session if session
        write(JSON.generate(message))
        deadline = monotonic + timeout
        loop do
          reply = read_message(deadline, method)
          if reply['id'] == id
            raise CommandError, "#{method}: #{reply['error']['message']} #{reply['error']['data']}".strip if reply['error']

            return reply['result']
          end
          record(reply) if reply['method']
        end
      end

      def close
        @socket&.close
        @socket = nil
      rescue IOError, SystemCallError
        @socket = nil
      end

      private

      def record(event)
        @events << event
        @events.shift if @events.size > MAX_EVENTS
      end

      def write(text)
        frame = ::WebSocket::Frame::Outgoing::Client.new(version: @version, data: text, type: :text)
        @socket.write(frame.to_s)
      end

      def read_message(deadline, waiting_for)
        loop do
          while (frame = @incoming.next)
            case frame.type
            when :text then return JSON.parse(frame.data)
            when :ping then write_control(:pong, frame.data)
            when :close then raise Error, "DevTools closed the connection while waiting for #{waiting_for}"
            end
          end
          raise Error, "DevTools sent a bad frame: #{@incoming.error}" if @incoming.error?

          @incoming << read_some(deadline, waiting_for)
        end
      end

      def write_control(type, data)
        @socket.write(::WebSocket::Frame::Outgoing::Client.new(version: @version, data: data, type: type).to_s)
      end

      def read_some(deadline, waiting_for)
        left = deadline - monotonic
        raise Timeout, "no answer from DevTools to #{waiting_for}" unless left.positive? && IO.select([@socket], nil, nil, left)

        @socket.readpartial(1 << 16)
      rescue EOFError
        raise Error, "DevTools connection ended while waiting for #{waiting_for}"
      end

      def monotonic
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end
    end

    # A tab: evaluate JavaScript in it, wait for a condition, click, fill a
    # file input; its uncaught exceptions and console output are kept.
    class Page
      class EvaluationError < Error; end

      attr_reader :target_id, :session

      def initialize(devtools, target_id, session)
        @devtools = devtools
        @target_id = target_id
        @session = session
      end

      def command(method, params = {}, timeout: 10)
        @devtools.command(method, params, session: session, timeout: timeout)
      end

      def navigate(url)
        result = command('Page.navigate', { url: url })
        raise Error, "loading #{url}: #{result['errorText']}" if result['errorText']

        result
      end

      # The value of a JavaScript expression (promises awaited), as JSON
      # gives it; raises EvaluationError when it throws.
      def evaluate(expression, timeout: 10)
        result = command('Runtime.evaluate', { expression: expression, returnByValue: true, awaitPromise: true },
                         timeout: timeout)
        if (details = result['exceptionDetails'])
          text = details.dig('exception', 'description') || details['text']
          raise EvaluationError, "#{expression}: #{text}"
        end
        result.dig('result', 'value')
      end

      # Polls +expression+ until it is truthy and returns its value; an
      # evaluation that throws (the page still loading) counts as not yet.
      def wait_for(expression, timeout: 15, interval: 0.05, what: expression)
        deadline = monotonic + timeout
        last = nil
        loop do
          begin
            value = evaluate(expression, timeout: [deadline - monotonic, 1].max)
            return value if value && value != 0 && value != ''

            last = value.inspect
          rescue EvaluationError, DevTools::CommandError => e
            last = e.message
          end
          if monotonic > deadline
            raise Timeout, "#{what}: not true after #{timeout}s (last: #{last}); console: #{console.last(10)}; " \
                           "exceptions: #{exceptions}"
          end
          sleep interval
        end
      end

      # Clicks the element (as element.click() does).
      def click(selector)
        clicked = evaluate("(() => { const e = document.querySelector(#{JSON.generate(selector)}); " \
                           'if (!e || e.disabled) return false; e.click(); return true; })()')
        raise Error, "#{selector} is missing or disabled" unless clicked
      end

      # Puts files into an <input type=file>, as a user choosing them would.
      def set_files(selector, paths)
        root = command('DOM.getDocument', { depth: 0 })['root']['nodeId']
        node = command('DOM.querySelector', { nodeId: root, selector: selector })['nodeId']
        raise Error, "no #{selector}" if node.nil? || node.zero?

        command('DOM.setFileInputFiles', { nodeId: node, files: paths })
      end

      # The page's uncaught exceptions (and unhandled rejections), as text.
      def exceptions
        own_events('Runtime.exceptionThrown').map do |event|
          details = event['params']['exceptionDetails']
          details.dig('exception', 'description') || details['text']
        end
      end

      # The page's console output: [type, text] pairs.
      def console
        own_events('Runtime.consoleAPICalled').map do |event|
          [event['params']['type'], event['params']['args'].map { |arg| arg['value'] || arg['description'] }.join(' ')]
        end
      end

      private

      def own_events(method)
        @devtools.events.select { |event| event['sessionId'] == session && event['method'] == method }
      end

      def monotonic
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end
    end
  end
end
