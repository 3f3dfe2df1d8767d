# frozen_string_literal: true

require_relative 'legacy_frames'

module EMWSSpec
  # Set-up shared by the specs of the drafts before RFC 6455
  # (spec/integration/drafts/draft*_spec.rb).
  module Helpers
    # Runs a server recording everything in +log+ (the block adds to its
    # callbacks) and a LegacyClient speaking +version+; +on_open+ is called
    # with the client after the handshake. Returns the client.
    def legacy_session(version, log, server_opts: {}, client_opts: {}, on_open: nil, &extra)
      client = nil
      em_run do
        start_server(server_opts) do |ws|
          record_all(ws, log)
          extra&.call(ws)
        end
        client = connect_legacy(version, **client_opts)
        client.on_open { on_open&.call(client) }
      end
      client
    end

    # Sends +bytes+ from a +version+ client that does not acknowledge a close
    # frame (the server drops TCP) to a server recording everything (the
    # block adds to its callbacks); returns [log, client]. +close_after+:
    # seconds after which the client drops TCP itself, when the server has not.
    def provoke_legacy(version, bytes, close_after: nil, &extra)
      log = []
      client = legacy_session(version, log, client_opts: { echo_close: false }, on_open: lambda { |c|
        c.send_data(bytes)
        EM.add_timer(close_after) { c.close_connection } if close_after
      }, &extra)
      [log, client]
    end

    # The sorted response headers of draft 76 (and of drafts 01-03, which
    # answer the same way) for a request of +path+ from +origin+
    def d76_response_lines(path: '/', scheme: 'ws', origin: 'http://example.com', protocol: nil)
      lines = [
        'HTTP/1.1 101 WebSocket Protocol Handshake', 'Upgrade: WebSocket', 'Connection: Upgrade',
        "Sec-WebSocket-Location: #{scheme}://#{host}:#{port}#{path}", "Sec-WebSocket-Origin: #{origin}"
      ]
      lines << "Sec-WebSocket-Protocol: #{protocol}" if protocol
      lines.sort
    end
  end
end
