# The echo server on every core: WORKERS processes (default: one per core)
# share one port through SO_REUSEPORT (:reuse_port => true), so that the
# application's Ruby code is not bound to one core by the global lock.
#
#   ruby -Ilib examples/echo_forked.rb [PORT]   (PORT also from ENV['PORT'], default 8080)
require 'etc'
begin
  require 'em-websocket-rs'
rescue LoadError
  $LOAD_PATH.unshift File.expand_path('../lib', __dir__)
  require 'em-websocket-rs'
end

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 8080)
workers = Integer(ENV['WORKERS'] || Etc.nprocessors)
$stdout.sync = true

children = Array.new(workers) do
  # Each child starts its own reactor (and its own native runtime) after the fork.
  fork do
    EM.run do
      trap('INT') { EM.stop }
      trap('TERM') { EM.stop }
      EM::WebSocket.run(host: host, port: port, reuse_port: true) do |ws|
        ws.onmessage { |msg| ws.send(msg) }
        ws.onbinary { |msg| ws.send_binary(msg) }
      end
    end
  end
end

%w[INT TERM].each do |signal|
  trap(signal) { children.each { |pid| Process.kill('TERM', pid) rescue Errno::ESRCH } }
end
puts "#{workers} echo processes listening on ws://#{host}:#{port}/"
Process.waitall
