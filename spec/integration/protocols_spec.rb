require 'spec_helper'

module EMWSSpec
  RSpec.describe 'subprotocols (:protocols)' do
    # Opens one connection offering +offer+ (a String, or an Array for
    # several header lines); returns [response, handshake.protocol].
    def negotiate(offer, **options)
      response = chosen = nil
      em_run do
        start_server(options) { |ws| ws.onopen { |hs| chosen = hs.protocol } }
        lines = Array(offer).map { |value| ['Sec-WebSocket-Protocol', value] }
        connect_client(extra: lines).on_open { |r| response = r; done_later(0.05) }
      end
      [response, chosen]
    end

    it 'chooses the first of :protocols the client offered (server preference)',
       rs_only: ':protocols is new' do
      response, chosen = negotiate('v1, v2, v3', protocols: %w[v3 v2])
      expect(response.status).to eq(101)
      expect(response['sec-websocket-protocol']).to eq('v3')
      expect(chosen).to eq('v3')
    end

    it 'reads offers over several header lines', rs_only: ':protocols is new' do
      response, chosen = negotiate(%w[v1 v2], protocols: %w[v2])
      expect(response['sec-websocket-protocol']).to eq('v2')
      expect(chosen).to eq('v2')
    end

    it 'answers with none when the client offers none of :protocols', rs_only: ':protocols is new' do
      response, chosen = negotiate('v8, v9', protocols: %w[v1 v2])
      expect(response.status).to eq(101)
      expect(response['sec-websocket-protocol']).to be_nil
      expect(chosen).to be_nil
    end

    it 'answers with none when the client offers nothing', rs_only: ':protocols is new' do
      response, chosen = negotiate([], protocols: %w[v1])
      expect(response['sec-websocket-protocol']).to be_nil
      expect(chosen).to be_nil
    end

    it 'echoes a single offered protocol without :protocols',
       rs_only: 'em-websocket 0.5.1 names no subprotocol to RFC 6455 clients (a TODO); ' \
                'its draft 76 handshake echoes the offer, which em-websocket-rs keeps for a single one' do
      response, = negotiate('chat')
      expect(response['sec-websocket-protocol']).to eq('chat')
    end

    it 'never echoes a list whole without :protocols',
       rs_only: 'em-websocket 0.5.1 sends no subprotocol to RFC 6455 clients at all' do
      response, chosen = negotiate('chat, superchat')
      expect(response.status).to eq(101)
      expect(response['sec-websocket-protocol']).to be_nil
      expect(chosen).to be_nil
    end

    it 'rejects bad :protocols values naming the option', rs_only: 'option checking is new' do
      [['a b'], [1], 'bad,list', [nil]].each do |bad|
        expect { EM.run { start_server(protocols: bad) } }
          .to raise_error(ArgumentError, /:protocols/)
        EM.stop if EM.reactor_running?
      end
    end
  end
end
