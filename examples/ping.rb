# Pings every client periodically and logs the pongs.
#
#   ruby -Ilib examples/ping.rb [PORT]   (PORT also from ENV['PORT'], default 8080)
#   PING_INTERVAL=1 ruby -Ilib examples/ping.rb     (seconds, default 5)
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
require 'socket'

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 8080)
interval = Float(ENV['PING_INTERVAL'] || 5)
$stdout.sync = true

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  EM::WebSocket.run(host: host, port: port) do |ws|
    peer = nil
    timer = nil
    count = 0

    ws.onopen do
      peer_port, peer_ip = Socket.unpack_sockaddr_in(ws.get_peername)
      peer = "#{peer_ip}:#{peer_port}"
      puts "#{peer} connected"
      timer = EM.add_periodic_timer(interval) do
        count += 1
        ws.ping("ping #{count}")
      end
    end

    ws.onpong { |data| puts "pong from #{peer}: #{data}" }

    ws.onclose do |event|
      timer&.cancel
      puts "#{peer} disconnected (#{event[:code]})"
    end

    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" }
  end

  puts "ping server listening on ws://#{host}:#{port}/ (every #{interval}s)"
end
