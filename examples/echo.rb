# Echo server: every text message comes back as text, every binary message
# as binary.
#
#   ruby -Ilib examples/echo.rb [PORT]      (PORT also from ENV['PORT'], default 8080)
#   HOST=127.0.0.1 ruby -Ilib examples/echo.rb 9000
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

  options = { host: host, port: port }
  # em-websocket-rs: METRICS=1 answers GET /metrics with the server's figures;
  # RATE_LIMIT=n limits each connection to n messages (and n KiB) a second.
  options[:metrics] = true if ENV['METRICS'] == '1'
  if (limit = ENV['RATE_LIMIT'])
    options.merge!(max_messages_per_second: Integer(limit), max_bytes_per_second: Integer(limit) * 1024)
  end

  EM::WebSocket.run(options) do |ws|
    ws.onmessage { |msg| ws.send(msg) }
    ws.onbinary { |msg| ws.send_binary(msg) }
    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" }
  end

  puts "echo server listening on ws://#{host}:#{port}/"
end
