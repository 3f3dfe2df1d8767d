# A chat server that scales out: every message a client sends goes to every
# client in the same room (the request path), on this process and on every
# other process or machine connected to the same Redis.
#
#   ruby -Ilib examples/redis_chat.rb [PORT]    (PORT also from ENV['PORT'], default 8080)
#   REDIS_URL=redis://127.0.0.1:6379/0 ruby -Ilib examples/redis_chat.rb 8081
#
# Run two of them on different ports: a client of one talks with the clients
# of the other. `redis-cli PUBLISH chat:/lobby hello` reaches the /lobby room.
begin
  require 'em-websocket-rs'
rescue LoadError
  $LOAD_PATH.unshift File.expand_path('../lib', __dir__)
  require 'em-websocket-rs'
end

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 8080)
redis = ENV['REDIS_URL'] || 'redis://127.0.0.1:6379/0'
$stdout.sync = true

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  # One channel per room, shared by the room's connections on this process.
  rooms = Hash.new do |all, path|
    all[path] = EmWebSocketRs::Channel.new(path, redis: redis, redis_prefix: 'chat:')
  end
  EmWebSocketRs::Channel.on_error { |error| warn "redis: #{error.message} (reconnecting)" }

  EM::WebSocket.run(host: host, port: port) do |ws|
    room = nil
    ws.onopen do |handshake|
      room = rooms[handshake.path]
      room.subscribe(ws)
    end
    ws.onmessage { |msg| room.push(msg) }
    ws.onbinary { |msg| room.push_binary(msg) }
    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" }
  end

  puts "redis chat server listening on ws://#{host}:#{port}/ (Redis at #{redis})"
end
