# The echo server Autobahn|Testsuite's fuzzing client tests (`rake autobahn`):
# text comes back as text, binary as binary, with permessage-deflate on.
#
#   ruby -Ilib examples/autobahn_echo.rb [PORT]   (PORT also from ENV['PORT'], default 9001)
#
# `ruby -r./tasks/use_original.rb examples/autobahn_echo.rb PORT` runs it on the
# original em-websocket gem, which ignores :compression.
begin
  require 'em-websocket-rs'
rescue LoadError
  $LOAD_PATH.unshift File.expand_path('../lib', __dir__)
  require 'em-websocket-rs'
end

host = ENV['HOST'] || '127.0.0.1'
port = Integer(ARGV[0] || ENV['PORT'] || 9001)
$stdout.sync = true

# Cases 9.1.6 and 9.2.6 send 16 MiB messages.
EM::WebSocket.max_frame_size = 32 * 1024 * 1024

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  # min_size 0: compress every message, so that the compression cases test
  # compression whatever their message sizes.
  EM::WebSocket.run(host: host, port: port, compression: { min_size: 0 }) do |ws|
    ws.onmessage { |msg| ws.send(msg) }
    ws.onbinary { |msg| ws.send_binary(msg) }
    # The suite sends broken frames on purpose: errors are expected.
    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" } if ENV['DEBUG']
  end

  puts "autobahn echo server listening on ws://#{host}:#{port}/"
end
