# Echo server: every text message comes back as text, every binary message
# as binary.
#
#   ruby -Ilib examples/echo.rb [PORT]      (PORT also from ENV['PORT'], default 8080)
#   HOST=127.0.0.1 ruby -Ilib examples/echo.rb 9000
#   TLS_KEY=key.pem TLS_CERT=cert.pem ruby -Ilib examples/echo.rb   (wss://, on both gems)
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
  # em-websocket-rs: COMPRESSION=1 accepts permessage-deflate.
  options[:compression] = true if ENV['COMPRESSION'] == '1'
  # TLS_KEY and TLS_CERT (PEM files) serve wss:// (both gems take these keys).
  if ENV['TLS_KEY'] || ENV['TLS_CERT']
    options[:secure] = true
    options[:tls_options] = { private_key_file: ENV.fetch('TLS_KEY'), cert_chain_file: ENV.fetch('TLS_CERT') }
  end

  EM::WebSocket.run(options) do |ws|
    ws.onmessage { |msg| ws.send(msg) }
    ws.onbinary { |msg| ws.send_binary(msg) }
    ws.onerror { |e| warn "websocket error: #{e.class}: #{e.message}" }
  end

  puts "echo server listening on #{options[:secure] ? 'wss' : 'ws'}://#{host}:#{port}/"
end
