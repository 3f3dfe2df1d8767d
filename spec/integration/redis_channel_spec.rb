require 'spec_helper'
require 'json'
require 'open3'
require 'io/wait'
require_relative '../../tasks/support/process_group'
require_relative '../../tasks/support/redis_server'
require_relative '../../tasks/support/server_process'

module EMWSSpec
  # EmWebSocketRs::Channel with redis: a real redis-server on loopback,
  # examples/redis_chat.rb as the server processes, python3-websockets and
  # redis-cli as the independent clients.
  RSpec.describe 'EmWebSocketRs::Channel through Redis', rs_only: 'em-websocket has no such channel' do
    before(:all) do
      skip 'redis-server is not installed (bin/deps installs it)' unless RedisServer.available?
    end

    around do |example|
      @redis = RedisServer.new.start
      @servers = []
      begin
        example.run
      ensure
        @servers.each { |server| server.stop(grace: 5) }
        @redis.stop
      end
    end

    # examples/redis_chat.rb on a free port, with Redis at `url`.
    def chat_server(url = @redis.url, env: {})
      log = File.join(Dir.tmpdir, "emws-redis-chat-#{Process.pid}-#{@servers.size}.log")
      env = { 'HOST' => '127.0.0.1', 'REDIS_URL' => url, **env }
      server = ServerProcess.new(File.join('examples', 'redis_chat.rb'), log: log, env: env, pgroup: false)
      @servers << server
      server.start.wait_for_port(limit: 20)
      server
    end

    # Waits (bounded) until `cond` holds.
    def eventually(timeout: 5, what: 'the condition')
      deadline = monotonic + timeout
      until yield
        raise "#{what} did not hold within #{timeout}s" if monotonic > deadline

        sleep 0.05
      end
    end

    PY_HELPERS = <<~PY
      import asyncio, json, subprocess, sys, time
      import websockets

      async def recv_or_none(ws, wait):
          try:
              return await asyncio.wait_for(ws.recv(), wait)
          except asyncio.TimeoutError:
              return None

      def text(m):
          return m if isinstance(m, str) else {"binary": list(m)}

      async def close_all(*conns):
          # An explicit close: left to the interpreter's exit, each would
          # wait out websockets' close_timeout.
          await asyncio.gather(*(c.close() for c in conns))

      # `cli`: redis-cli's command line for the spec's Redis (JSON), to which
      # a command is appended.
      def redis_cli(cli, *command):
          return subprocess.run(json.loads(cli) + list(command), capture_output=True, text=True).stdout

      async def subscribed(cli, channel, count):
          while redis_cli(cli, "PUBSUB", "NUMSUB", channel).split()[-1] != str(count):
              await asyncio.sleep(0.05)

      # A client on each of two chat processes in `room`, once both
      # processes have subscribed to it.
      async def one_on_each(room, a_port, b_port, cli):
          a = await websockets.connect(f"ws://127.0.0.1:{a_port}{room}", max_queue=None)
          b = await websockets.connect(f"ws://127.0.0.1:{b_port}{room}", max_queue=None)
          await subscribed(cli, "chat:" + room, 2)
          return a, b
    PY

    PY_TWO_NODES = PY_HELPERS + <<~PY
      async def main(a_port, b_port, cli):
          out = {}
          a, b = await one_on_each("/lobby", a_port, b_port, cli)
          await a.send("héllo from a")
          out["text"] = [text(await a.recv()), text(await b.recv())]
          await b.send(bytes([0, 255, 1]))
          out["binary"] = [text(await a.recv()), text(await b.recv())]
          redis_cli(cli, "PUBLISH", "chat:/lobby", "from redis-cli")
          out["cli"] = [text(await a.recv()), text(await b.recv())]
          out["extra"] = [await recv_or_none(a, 0.4), await recv_or_none(b, 0.1)]
          # Another room hears none of it.
          c = await websockets.connect(f"ws://127.0.0.1:{a_port}/other")
          await a.send("lobby only")
          await a.recv(); await b.recv()
          out["other_room"] = await recv_or_none(c, 0.3)
          await close_all(a, b, c)
          print(json.dumps(out))

      asyncio.run(main(*sys.argv[1:]))
    PY

    it 'carries text and binary between two server processes, and what redis-cli publishes, once each' do
      a = chat_server
      b = chat_server
      expect_two_nodes(python(PY_TWO_NODES, a.port, b.port, @redis.cli_command.to_json))
      # One connection per process, whatever the number of channels.
      expect(@redis.clients).to eq(2)
    end

    def expect_two_nodes(result)
      expect(result['text']).to eq(['héllo from a'] * 2)
      expect(result['binary']).to eq([{ 'binary' => [0, 255, 1] }] * 2)
      expect(result['cli']).to eq(['from redis-cli'] * 2)
      expect(result['extra']).to eq([nil, nil])
      expect(result['other_room']).to be_nil
    end

    it 'reaches Redis over TLS (rediss://) with the password in the URL; a wrong one or an untrusted ' \
       'certificate is reported and local delivery goes on' do
      Dir.mktmpdir do |dir|
        tls = self_signed_cert(dir)
        secure = RedisServer.new(password: 's3cret', tls: tls).start
        begin
          # The certificate is trusted through the system's variable for it (rustls-native-certs).
          trusting = { 'SSL_CERT_FILE' => tls[:cert_chain_file] }
          a = chat_server(secure.url, env: trusting)
          b = chat_server(secure.url, env: trusting)
          expect_two_nodes(python(PY_TWO_NODES, a.port, b.port, secure.cli_command.to_json))
          expect(secure.clients).to eq(2)

          wrong = chat_server(secure.url.sub('s3cret', 'guess'), env: trusting)
          untrusting = chat_server(secure.url, env: { 'SSL_CERT_FILE' => nil, 'SSL_CERT_DIR' => nil })
          [wrong, untrusting].each do |server|
            expect(python(PY_LOCAL, server.port)).to eq('echo' => 'no Redis needed here')
          end
          eventually(what: 'the wrong password to be reported') do
            File.read(wrong.log) =~ /redis: cannot connect to Redis: .*(WRONGPASS|invalid username-password)/i
          end
          eventually(what: 'the untrusted certificate to be reported') do
            File.read(untrusting.log) =~ /redis: cannot connect to Redis: .*certificate/i
          end
          expect(secure.clients).to eq(2)
        ensure
          secure.stop
        end
      end
    end

    PY_ORDER = PY_HELPERS + <<~PY
      async def main(a_port, b_port, cli, count):
          count = int(count)
          a, b = await one_on_each("/order", a_port, b_port, cli)
          for i in range(count):
              await a.send(str(i))
          got_a = [int(await a.recv()) for _ in range(count)]
          got_b = [int(await b.recv()) for _ in range(count)]
          await close_all(a, b)
          print(json.dumps({"a": got_a == list(range(count)), "b": got_b == list(range(count))}))

      asyncio.run(main(*sys.argv[1:]))
    PY

    it 'delivers the messages of one publisher in the order they were pushed, on every process' do
      a = chat_server
      b = chat_server
      expect(python(PY_ORDER, a.port, b.port, @redis.cli_command.to_json, 2000)).to eq('a' => true, 'b' => true)
    end

    PY_LEAVE = PY_HELPERS + <<~PY
      async def main(port):
          ws = await websockets.connect(f"ws://127.0.0.1:{port}/leaving")
          await asyncio.sleep(0.5)
          await ws.close()
          print(json.dumps({"closed": True}))

      asyncio.run(main(*sys.argv[1:]))
    PY

    it 'subscribes to a Redis channel while the process has subscribers, and leaves it when the last one goes' do
      server = chat_server
      thread = Thread.new { python(PY_LEAVE, server.port) }
      eventually(what: 'the subscription') { @redis.subscribers('chat:/leaving') == 1 }
      thread.join(10)
      eventually(what: 'the unsubscription') { @redis.subscribers('chat:/leaving').zero? }
    end

    PY_OUTAGE = PY_HELPERS + <<~PY
      async def main(a_port, b_port, cli):
          out = {}
          a, b = await one_on_each("/lobby", a_port, b_port, cli)
          print("ready", flush=True)
          sys.stdin.readline()   # Redis is killed now
          await a.send("while Redis is away")
          out["local"] = await recv_or_none(a, 2)
          out["remote"] = await recv_or_none(b, 0.5)
          print(json.dumps(out), flush=True)
          sys.stdin.readline()   # Redis is back now
          started = time.monotonic()
          while True:
              await a.send("probe")
              await a.recv()
              if await recv_or_none(b, 0.2) == "probe":
                  break
              if time.monotonic() - started > 8:
                  break
          resumed_after = time.monotonic() - started
          await close_all(a, b)
          print(json.dumps({"resumed_after": resumed_after}), flush=True)

      asyncio.run(main(*sys.argv[1:]))
    PY

    it 'keeps serving while Redis is killed, reports it, and resumes within 5 s of its return' do
      a = chat_server
      b = chat_server
      Open3.popen3('timeout', '60', '/usr/bin/python3', '-c', PY_OUTAGE, a.port.to_s, b.port.to_s,
                   @redis.cli_command.to_json) do |stdin, stdout, stderr, waiter|
        expect(stdout.gets&.strip).to eq('ready'), -> { stderr.read }
        @redis.kill
        stdin.puts
        during = JSON.parse(stdout.gets.to_s)
        expect(during).to eq('local' => 'while Redis is away', 'remote' => nil)
        @redis.start
        stdin.puts
        resumed = JSON.parse(stdout.gets.to_s)
        expect(resumed['resumed_after']).to be < 5
        expect(waiter.value.success?).to be(true), -> { stderr.read }
      end
      expect(File.read(a.log)).to include('redis: the connection to Redis was lost (reconnecting)')
    end

    PY_LOCAL = PY_HELPERS + <<~PY
      async def main(port):
          ws = await websockets.connect(f"ws://127.0.0.1:{port}/lobby")
          await ws.send("no Redis needed here")
          echo = await recv_or_none(ws, 2)
          await close_all(ws)
          print(json.dumps({"echo": echo}))

      asyncio.run(main(*sys.argv[1:]))
    PY

    it 'serves its own subscribers when Redis cannot be reached at all' do
      nowhere = "redis://127.0.0.1:#{FreePort.pick}/0"
      server = chat_server(nowhere)
      expect(python(PY_LOCAL, server.port)).to eq('echo' => 'no Redis needed here')
      eventually(what: 'the report') { File.read(server.log).include?('redis: cannot connect to Redis') }
    end

    it 'raises ArgumentError for a URL that is not a Redis URL, and for a channel without a name' do
      expect { EmWebSocketRs::Channel.new('x', redis: 'http://127.0.0.1/') }.to raise_error(ArgumentError, /Redis URL/)
      expect { EmWebSocketRs::Channel.new('x', redis: 'redis://127.0.0.1:notaport/') }.to raise_error(ArgumentError)
      expect { EmWebSocketRs::Channel.new(nil, redis: @redis.url) }.to raise_error(ArgumentError, /needs a name/)
    end

    it 'calls block listeners with what any publisher sends, and counts it' do
      heard = []
      stats = nil
      em_run(timeout: 10) do
        room = EmWebSocketRs::Channel.new('news', redis: @redis.url, redis_prefix: 'app:')
        room.subscribe { |message| heard << [message, message.encoding] }
        when_true(-> { @redis.subscribers('app:news') == 1 }) do
          @redis.cli('PUBLISH', 'app:news', 'extra!')
          room.push('ours')
          when_true(-> { heard.size == 2 }) do
            stats = room.stats
            done_later(0.2)
          end
        end
      end
      expect(heard).to eq([['ours', Encoding::UTF_8], ['extra!', Encoding::UTF_8]])
      expect(stats).to include(connected: true, published: 1, received: 1, dropped: 0)
    end

    FORKED_SERVER = <<~'RUBY'
      $stdout.sync = true
      require 'em-websocket-rs'
      room = EmWebSocketRs::Channel.new('forked', redis: ARGV[0])
      EM.run { EM.add_timer(0.5) { EM.stop } } # the parent uses its channel first
      child = fork do
        EM.run do
          EM::WebSocket.run(host: '127.0.0.1', port: Integer(ARGV[1])) { |ws| ws.onopen { room.subscribe(ws) } }
          puts "child ready #{Process.pid}"
          trap('TERM') { EM.stop }
        end
      end
      Process.wait(child)
    RUBY

    PY_FORKED = PY_HELPERS + <<~PY
      async def main(port, cli):
          ws = await websockets.connect(f"ws://127.0.0.1:{port}/")
          await subscribed(cli, "forked", 1)
          redis_cli(cli, "PUBLISH", "forked", "to the child")
          got = await recv_or_none(ws, 3)
          await close_all(ws)
          print(json.dumps({"got": got}))

      asyncio.run(main(*sys.argv[1:]))
    PY

    it 'lets a forked child use a channel made before the fork, through a connection of its own' do
      port = FreePort.pick
      reader, writer = IO.pipe
      pid = Process.spawn(RbConfig.ruby, '-I', LIB, '-e', FORKED_SERVER, @redis.url, port.to_s,
                          out: writer, err: writer, pgroup: true)
      writer.close
      begin
        ready = reader.wait_readable(20) && reader.gets.to_s
        expect(ready).to start_with('child ready')
        expect(python(PY_FORKED, port, @redis.cli_command.to_json)).to eq('got' => 'to the child')
        # The parent's connection and the child's own.
        expect(@redis.clients).to eq(2)
      ensure
        ProcessGroup.stop(pid)
        reader.close
      end
    end

    PY_CHURN = PY_HELPERS + <<~PY
      async def main(port, rounds, per_round):
          for r in range(int(rounds)):
              conns = await asyncio.gather(*[websockets.connect(f"ws://127.0.0.1:{port}/churn{i % 10}")
                                             for i in range(int(per_round))])
              # The room of conns[0] (every tenth connection) hears it.
              await conns[0].send("hello")
              await asyncio.gather(*[c.recv() for c in conns[::10]])
              await asyncio.gather(*[c.close() for c in conns])
          print(json.dumps({"done": True}))

      asyncio.run(main(*sys.argv[1:]))
    PY

    def rss_kb(pid)
      File.read("/proc/#{pid}/status")[/VmRSS:\s+(\d+)/, 1].to_i
    end

    it 'holds no Redis connection or memory for a thousand churned subscribers' do
      server = chat_server
      python(PY_CHURN, server.port, 2, 100) # warm-up
      eventually(timeout: 5, what: 'the warm-up to settle') { @redis.subscribers('chat:/churn0').zero? }
      before = rss_kb(server.pid)
      python(PY_CHURN, server.port, 10, 100)
      eventually(timeout: 5, what: 'every churn channel to be left') do
        (0..9).all? { |i| @redis.subscribers("chat:/churn#{i}").zero? }
      end
      expect(@redis.clients).to eq(1)
      expect(rss_kb(server.pid) - before).to be < 8 * 1024
    end
  end
end
