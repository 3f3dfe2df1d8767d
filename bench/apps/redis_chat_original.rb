# frozen_string_literal: true

# What an application on the original em-websocket does today to broadcast
# across processes through Redis, the baseline of rake bench's Redis
# scenario: a redis-rb client subscribed in a thread hands each message to
# the reactor with EM.schedule, an EM::Channel relays it to every local
# connection, ws.send per receiver; a message from a client is published
# with a second redis-rb client.
#
#   ruby -r./bench/use_original.rb bench/apps/redis_chat_original.rb PORT   (REDIS_URL)
require 'em-websocket'
require 'redis'

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 8080)
url = ENV['REDIS_URL'] || 'redis://127.0.0.1:6379/0'
$stdout.sync = true

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  channel = EM::Channel.new
  publisher = Redis.new(url: url)
  Thread.new do
    Redis.new(url: url).subscribe('chat:/') do |on|
      on.message { |_name, message| EM.schedule { channel.push(message) } }
    end
  end

  EM::WebSocket.run(host: host, port: port) do |ws|
    sid = nil
    ws.onopen { sid = channel.subscribe { |message| ws.send(message) } }
    ws.onmessage { |message| publisher.publish('chat:/', message) }
    ws.onclose { channel.unsubscribe(sid) if sid }
  end

  puts "redis chat server (original) listening on ws://#{host}:#{port}/"
end
