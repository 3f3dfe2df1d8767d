require 'spec_helper'

module EMWSSpec
  RSpec.describe 'exceptions raised by application blocks' do
    # How each callback is provoked by the client
    TRIGGERS = {
      onopen: ->(_c) {},
      onmessage: ->(c) { c.send_text('hi') },
      onbinary: ->(c) { c.send_binary("\x01".b) }
    }.freeze

    context 'with onerror' do
      TRIGGERS.each do |callback, trigger|
        it "passes an exception from #{callback} to onerror and closes with 3000 \"Application error\"" do
          raised = nil
          errors = []
          closes = []
          client = nil
          em_run do
            start_server do |ws|
              ws.public_send(callback) do |*|
                raised = RuntimeError.new("boom in #{callback}")
                raise raised
              end
              ws.onerror { |e| errors << e }
              ws.onclose { |ev| closes << ev; done_later(0.05) }
            end
            client = connect_client
            client.on_open { trigger.call(client) }
          end
          expect(errors.size).to eq(1)
          expect(errors.first).to equal(raised)
          expect(client.frames.map(&:type)).to eq([:close])
          expect(client.close_frame.close_code).to eq(3000)
          expect(client.close_frame.close_reason).to eq('Application error')
          expect(closes.size).to eq(1)
          expect(client).to be_closed
        end
      end

      it 'passes an exception from onclose to onerror' do
        errors = []
        em_run do
          start_server do |ws|
            ws.onclose { raise ArgumentError, 'boom in onclose' }
            ws.onerror { |e| errors << e; done_later(0.05) }
          end
          client = connect_client
          client.on_open { client.close_connection }
        end
        expect(errors.map(&:class)).to eq([ArgumentError])
        expect(errors.map(&:message)).to eq(['boom in onclose'])
      end

      it 'keeps the server serving other connections after an application error' do
        echoed = nil
        count = 0
        em_run do
          start_server do |ws|
            count += 1
            n = count
            ws.onmessage do |m|
              raise 'first connection fails' if n == 1

              ws.send(m)
            end
            ws.onerror { |_e| }
          end
          bad = connect_client
          bad.on_open { bad.send_text('x') }
          bad.on_close do
            good = connect_client
            good.on_open { good.send_text('still serving') }
            good.on_frame { |f| echoed = f.text; done }
          end
        end
        expect(echoed).to eq('still serving')
      end
    end

    context 'without onerror' do
      TRIGGERS.each do |callback, trigger|
        it "lets an exception from #{callback} propagate out of EM.run" do
          expect do
            em_run do
              start_server do |ws|
                ws.public_send(callback) { |*| raise "no handler for #{callback}" }
              end
              client = connect_client
              client.on_open { trigger.call(client) }
            end
          end.to raise_error(RuntimeError, "no handler for #{callback}")
          expect(EM.reactor_running?).to be(false)
        end
      end

      it 'lets an exception from onclose propagate out of EM.run' do
        expect do
          em_run do
            start_server { |ws| ws.onclose { raise IndexError, 'no handler for onclose' } }
            client = connect_client
            client.on_open { client.close_connection }
          end
        end.to raise_error(IndexError, 'no handler for onclose')
      end

      it 'leaves the reactor usable for the next EM.run' do
        expect do
          em_run do
            start_server { |ws| ws.onopen { raise 'first run dies' } }
            connect_client
          end
        end.to raise_error('first run dies')

        @port = nil # a fresh port for the second server
        echoed = nil
        em_run do
          start_server { |ws| ws.onmessage { |m| ws.send(m) } }
          c = connect_client
          c.on_open { c.send_text('second run') }
          c.on_frame { |f| echoed = f.text; done }
        end
        expect(echoed).to eq('second run')
      end
    end
  end
end
