# Multicast: every message a client sends is relayed, as text or binary, to
# every connected client (the sender included) through an EM::Channel.
#
#   ruby -Ilib examples/multicast.rb [PORT]   (PORT also from ENV['PORT'], default 8080)
#
# EMWS_IMPL=original runs it on the original em-websocket gem instead.
if ENV['EMWS_IMPL'] == 'original'
  require 'em-websocket'
else
  begin
    require 'em-websocket-rs'
  rescue LoadError
    $LOAD_PATH.unshift File.expand_path('../lib', __dir__)
    require 'em-websocket-rs'
  end
end

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 8080)
$stdout.sync = true

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  channel = EM::Channel.new

  EM::WebSocket.run(host: host, port: port) do |ws|
    sid = nil

    ws.onopen do
      sid = channel.subscribe do |(kind, msg)|
        kind == :binary ? ws.send_binary(msg) : ws.send(msg)
      end
    end

    ws.onmessage { |msg| channel.push([:text, msg]) }
    ws.onbinary { |msg| channel.push([:binary, msg]) }

    ws.onclose { channel.unsubscribe(sid) if sid }
    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" }
  end

  puts "multicast server listening on ws://#{host}:#{port}/"
end
