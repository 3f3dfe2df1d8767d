# Fan-out through EmWebSocketRs::Channel: every message a client sends is
# relayed to every connected client (the sender included), like
# examples/multicast.rb, but without a Ruby call per receiver.
#
#   ruby -Ilib examples/fanout.rb [PORT]   (PORT also from ENV['PORT'], default 8080)
begin
  require 'em-websocket-rs'
rescue LoadError
  $LOAD_PATH.unshift File.expand_path('../lib', __dir__)
  require 'em-websocket-rs'
end

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 8080)
$stdout.sync = true

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  room = EmWebSocketRs::Channel.new

  EM::WebSocket.run(host: host, port: port) do |ws|
    ws.onopen { room.subscribe(ws) }
    ws.onmessage { |msg| room.push(msg) }
    ws.onbinary { |msg| room.push_binary(msg) }
    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" }
  end

  puts "fanout server listening on ws://#{host}:#{port}/"
end
