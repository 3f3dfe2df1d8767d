# frozen_string_literal: true

require_relative 'legacy_frames'

module EMWSSpec
  # Exceptions raised by application callbacks under one protocol version.
  #
  #   include_examples 'application errors under a draft', 3,
  #                    close_bytes: "\x01\x00".b,             # what the client gets
  #                    closed: { code: 1005, reason: '', was_clean: true },
  #                    triggers: %i[onopen onmessage onbinary]
  #
  # +close_bytes+ is what the server sends after the error (before TCP closes
  # or the client acknowledges); +closed+ the onclose event once the client
  # has acknowledged that close (or TCP is gone, for 75/76).
  RSpec.shared_examples 'application errors under a draft' do |version, close_bytes:, closed:, triggers:|
    trigger_for = {
      onopen: ->(_c) {},
      onmessage: ->(c) { c.send_text('hi') },
      onbinary: ->(c) { c.send_binary("\x01\x02".b) }
    }

    context 'with onerror' do
      triggers.each do |callback|
        it "passes an exception from #{callback} to onerror and closes the connection" do
          raised = nil
          log = []
          client = nil
          bytes_at_error = nil
          em_run do
            start_server do |ws|
              record_all(ws, log)
              ws.public_send(callback) do |*|
                raised = RuntimeError.new("boom in #{callback}")
                raise raised
              end
              ws.onerror do |e|
                log << [:error, e]
                EM.add_timer(0.05) { bytes_at_error = client.body }
              end
            end
            client = connect_legacy(version)
            client.on_open { trigger_for.fetch(callback).call(client) }
          end
          expect(log.map(&:first)).to eq(callback == :onopen ? %i[error close] : %i[open error close])
          expect(log.assoc(:error)[1]).to equal(raised)
          expect(log.assoc(:close)[1]).to eq(closed)
          expect(bytes_at_error).to eq(close_bytes)
          expect(client).to be_closed
        end
      end

      it 'passes an exception from onclose to onerror' do
        errors = []
        em_run do
          start_server do |ws|
            ws.onclose { raise ArgumentError, 'boom in onclose' }
            ws.onerror { |e| errors << [e.class, e.message]; done_later(0.05) }
          end
          client = connect_legacy(version)
          client.on_open { client.close_connection }
        end
        expect(errors).to eq([[ArgumentError, 'boom in onclose']])
      end
    end

    context 'without onerror' do
      triggers.each do |callback|
        it "lets an exception from #{callback} propagate out of EM.run" do
          expect do
            em_run do
              start_server { |ws| ws.public_send(callback) { |*| raise "no handler for #{callback}" } }
              client = connect_legacy(version)
              client.on_open { trigger_for.fetch(callback).call(client) }
            end
          end.to raise_error(RuntimeError, "no handler for #{callback}")
          expect(EM.reactor_running?).to be(false)
        end
      end

      it 'lets an exception from onclose propagate out of EM.run' do
        expect do
          em_run do
            start_server { |ws| ws.onclose { raise IndexError, 'no handler for onclose' } }
            client = connect_legacy(version)
            client.on_open { client.close_connection }
          end
        end.to raise_error(IndexError, 'no handler for onclose')
      end
    end
  end
end
