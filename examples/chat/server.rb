# A chat room in one process and one port: the server serves its own page
# (index.html and chat.js, next to this file) over plain HTTP, and the page
# connects back to ws://the-same-host/ to chat.
#
#   ruby -Ilib examples/chat/server.rb [PORT]   (PORT also from ENV['PORT'], default 8080;
#                                                HOST from ENV['HOST'], default 0.0.0.0)
#
# then open http://localhost:8080/ in two browser windows.
#
# Every text message is a JSON object {"from": ..., "text": ...}; the server
# checks it, writes it anew and pushes it to the whole room (the sender
# included: a message shows on the page once the room has it). A binary
# message (a picture, a file) is relayed as binary to everyone else. The room
# is an EmWebSocketRs::Channel, so this example needs em-websocket-rs (the
# original em-websocket has no such class).
#
# Plain HTTP on the WebSocket port comes from overriding `dispatch`, as
# examples/livereload.rb does: a GET of / or /chat.js without an Upgrade
# header is answered here; everything else (the WebSocket upgrade,
# GET /healthcheck, requests this page does not serve) goes on with `super`.
begin
  require 'em-websocket-rs'
rescue LoadError
  $LOAD_PATH.unshift File.expand_path('../../lib', __dir__)
  require 'em-websocket-rs'
end
require 'json'

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 8080)
$stdout.sync = true

# A browser's connection: a GET for the page, or a WebSocket upgrade.
class ChatConnection < EventMachine::WebSocket::Connection
  PAGES = {
    '/' => ['index.html', 'text/html; charset=utf-8'],
    '/index.html' => ['index.html', 'text/html; charset=utf-8'],
    '/chat.js' => ['chat.js', 'application/javascript; charset=utf-8']
  }.transform_values { |(file, type)| [File.expand_path(file, __dir__), type] }.freeze
  MAX_HEAD = 16 * 1024

  def dispatch(data)
    # The request head may come in more than one read: wait for all of it.
    (@head ||= +'') << data
    return if !@head.include?("\r\n\r\n") && @head.bytesize <= MAX_HEAD

    head = @head
    @head = nil
    method, target = head[/\A[^\r\n]*/].split(' ')
    page = PAGES[target.to_s.split('?').first] if method == 'GET' && head !~ /^Upgrade:/i
    return super(head) unless page

    file, type = page
    body = File.binread(file) # small files, read anew for each request so edits show on reload
    send_data "HTTP/1.1 200 OK\r\nContent-Type: #{type}\r\nContent-Length: #{body.bytesize}\r\n" \
              "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
    send_data body
    close_connection_after_writing
  end
end

MAX_NAME = 40          # characters
MAX_TEXT = 2000        # characters
MAX_BINARY = 1 << 20   # bytes; larger frames close the connection with 1009

# The {"from", "text"} of a chat line, or a String saying what is wrong with it.
def chat_line(json)
  message = JSON.parse(json)
  return 'a message is a JSON object {"from": ..., "text": ...}' unless message.is_a?(Hash)

  from = message['from']
  text = message['text']
  return '"from" and "text" must be strings' unless from.is_a?(String) && text.is_a?(String)

  from = from.strip
  from = 'anonymous' if from.empty?
  return "a name has at most #{MAX_NAME} characters" if from.length > MAX_NAME
  return 'the name "server" is taken' if from.casecmp?('server')
  return "a message has 1 to #{MAX_TEXT} characters" if text.strip.empty? || text.length > MAX_TEXT

  { 'from' => from, 'text' => text }
rescue JSON::ParserError
  'a message is a JSON object {"from": ..., "text": ...}'
end

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  room = EmWebSocketRs::Channel.new

  EM::WebSocket.run(host: host, port: port, connection_class: ChatConnection,
                    max_message_size: MAX_BINARY) do |ws|
    ws.max_frame_size = MAX_BINARY

    ws.onopen do
      room.subscribe(ws) # a closed connection leaves the room by itself
      puts "#{ws.remote_ip} joined"
    end

    ws.onmessage do |json|
      line = chat_line(json)
      if line.is_a?(Hash)
        room.push(JSON.generate(line))
      else
        ws.send(JSON.generate('from' => 'server', 'text' => "not sent: #{line}"))
      end
    end

    # To the others only: the Channel has no "all but one", so the sender
    # steps out for its own push (both are O(1), no Ruby call per receiver).
    ws.onbinary do |bytes|
      room.unsubscribe(ws)
      room.push_binary(bytes)
      room.subscribe(ws) if ws.state == :connected
    end

    ws.onclose { puts "#{ws.remote_ip} left" }
    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" }
  end

  puts "chat server listening on ws://#{host}:#{port}/ (the page: http://#{host}:#{port}/)"
end
