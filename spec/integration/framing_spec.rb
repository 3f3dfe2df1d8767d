require 'spec_helper'
require 'tmpdir'
require_relative '../support/tls_client'
require_relative '../support/test_pki'

module EMWSSpec
  # Where plain connections are framed (`:framing`): the CPU that reading,
  # unmasking and checking a client's messages costs is spent by the thread
  # the option names. Measured per thread with the kernel's per-thread CPU
  # clocks, while a client writes large text messages the application only
  # counts.
  RSpec.describe 'framing placement', rs_only: 'em-websocket has one thread' do
    MESSAGES = 48
    MESSAGE = ('{"framing":"placement","n":12345} ' * 30_840).byteslice(0, 1 << 20)

    # Nanoseconds of CPU each thread of this process has used, by thread id.
    def thread_cpu
      Dir.children('/proc/self/task').to_h do |tid|
        tid = Integer(tid)
        [tid, Process.clock_gettime(((~tid) << 3) | 6, :nanosecond)]
      rescue Errno::EINVAL, Errno::ESRCH # a thread that ended meanwhile
        [tid, 0]
      end
    end

    def worker?(tid)
      File.read("/proc/self/task/#{tid}/comm").strip == 'em-websocket-rs'
    rescue Errno::ENOENT
      false
    end

    # CPU milliseconds the reactor thread and the core's workers spent while
    # MESSAGES of 1 MiB were received by a server with `options`; with
    # `pki`, over wss://.
    def cpu_while_receiving(options, pki: nil)
      options = options.merge(secure: true, tls_options: pki.server_options) if pki
      plain_frame = Frames.encode(:text, MESSAGE, mask: "\0\0\0\0")
      before = after = nil
      em_run(timeout: 20) do
        received = 0
        start_server(options) do |ws|
          ws.onmessage do |message|
            received += 1 if message.bytesize == MESSAGE.bytesize
            ws.send(received.to_s) if received == MESSAGES
          end
        end
        thread, holder = in_thread do
          if pki
            client = TLSClient.new(port, ca_file: pki.path('ca.pem'), timeout: 15).handshake
            before = thread_cpu
            MESSAGES.times { client.send_frame(:text, MESSAGE) }
            reply = client.read_frame.payload
          else
            client = BlockingClient.new(port, timeout: 15)
            before = thread_cpu
            MESSAGES.times { client.write(plain_frame) }
            reply = client.read_data_frame.payload
          end
          after = thread_cpu
          reply
        end
        EM.add_periodic_timer(0.05) { done unless thread.alive? }
        @client = [thread, holder]
      end
      expect(join_thread!(*@client)).to eq(MESSAGES.to_s)
      spent = ->(tids) { tids.sum { |tid| after.fetch(tid, 0) - before.fetch(tid, 0) } / 1e6 }
      { reactor: spent.call([Process.pid]), workers: spent.call(after.keys.select { |tid| worker?(tid) }) }
    end

    # Where the work went with :reactor and with :pool (the other
    # placements measured against the first): the workers framed only under
    # :pool. (The reactor thread's own figures are not compared: creating
    # and collecting 48 MiB of Strings happens there in both, and a garbage
    # collection in one run and not the other outweighs the framing.)
    def expect_placements(on_reactor, *on_pool)
      on_pool.each do |pool|
        expect(pool[:workers]).to be > 10
        expect(pool[:workers]).to be > 4 * on_reactor[:workers]
      end
    end

    def with_framing_env(value)
      saved = ENV.fetch('EMWS_FRAMING', nil)
      ENV['EMWS_FRAMING'] = value
      yield
    ensure
      ENV['EMWS_FRAMING'] = saved
    end

    it 'frames on the reactor thread with :reactor and on the workers with :pool' do
      on_reactor = cpu_while_receiving({ framing: :reactor })
      on_pool = cpu_while_receiving({ framing: :pool })
      by_environment = with_framing_env('pool') { cpu_while_receiving({}) }
      # 48 MiB read, unmasked and checked as UTF-8: tens of milliseconds,
      # on the workers only when they frame.
      expect_placements(on_reactor, on_pool, by_environment)
    end

    it 'runs wss:// sessions, their decryption included, where :framing says' do
      Dir.mktmpdir('emws-framing-tls') do |dir|
        pki = TestPKI.new(dir)
        expect_placements(cpu_while_receiving({ framing: :reactor }, pki: pki),
                          cpu_while_receiving({ framing: :pool }, pki: pki))
      end
    end

    it 'refuses an unknown placement, naming the choices' do
      em_run do
        expect { start_server(framing: :gpu) }.to raise_error(ArgumentError, /:framing.*:auto, :reactor or :pool/)
        done
      end
    end

    it 'refuses a bad EMWS_FRAMING when a server is started without :framing' do
      with_framing_env('gpu') do
        em_run do
          expect { start_server }.to raise_error(ArgumentError, /EMWS_FRAMING must be auto, reactor or pool, got "gpu"/)
          done
        end
      end
    end
  end
end
