# A LiveReload server, in the shape of those static-site generators and file
# watchers run: the browser loads /livereload.js over plain HTTP from the
# WebSocket port, connects back to ws://host:port/livereload, and is told to
# reload when a file under the watched directory changes. Files under the
# directory are also served at /files/<path> (streamed, never read whole);
# any other plain request gets a 400.
#
#   ruby -Ilib examples/livereload.rb [PORT] [DIR]   (PORT also from ENV['PORT'],
#                                                    default 35729; DIR defaults to .)
#
# The connection class overrides `dispatch`, as such servers do: a request
# that is not a WebSocket upgrade is answered here, an upgrade goes on with
# `super`. EMWS_IMPL=original runs it on the original em-websocket gem instead.
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
require 'json'
require 'socket'

host = ENV['HOST'] || '0.0.0.0'
port = Integer(ARGV[0] || ENV['PORT'] || 35_729)
root = File.expand_path(ARGV[1] || '.')
$stdout.sync = true

# A browser's connection: plain HTTP or a WebSocket upgrade.
class LiveReloadConnection < EventMachine::WebSocket::Connection
  SCRIPT = File.expand_path('livereload/livereload.js', __dir__)
  PROTOCOL = 'http://livereload.com/protocols/official-7'
  CONTENT_TYPES = {
    '.js' => 'application/javascript', '.css' => 'text/css', '.html' => 'text/html',
    '.json' => 'application/json', '.png' => 'image/png', '.svg' => 'image/svg+xml'
  }.freeze

  def initialize(options)
    @root = options[:root]
    super
  end

  def dispatch(data)
    # The request head may come in more than one read: wait for all of it.
    (@head ||= +'') << data
    return unless @head.include?("\r\n\r\n")

    head = @head
    @head = nil
    return super(head) if head =~ /^Upgrade:\s*websocket\s*$/i

    method, target = head[/\A[^\r\n]*/].split(' ')
    path = target.to_s.split('?').first.to_s
    if method != 'GET'
      respond(405, 'Only GET is served here.')
    elsif path == '/livereload.js'
      serve_file(SCRIPT)
    elsif (file = file_under_root(path))
      serve_file(file)
    else
      respond(400, 'This port only serves livereload.js and /files/ over HTTP.')
    end
  end

  private

  def file_under_root(path)
    return unless path.start_with?('/files/')

    file = File.expand_path(path.delete_prefix('/files/'), @root)
    file if file.start_with?("#{@root}/") && File.file?(file)
  end

  def serve_file(file)
    type = CONTENT_TYPES.fetch(File.extname(file), 'application/octet-stream')
    send_data "HTTP/1.1 200 OK\r\nContent-Type: #{type}\r\nContent-Length: #{File.size(file)}\r\n" \
              "Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
    stream_file_data(file).callback { close_connection_after_writing }
  end

  def respond(status, text)
    reason = { 400 => 'Bad Request', 405 => 'Method Not Allowed' }.fetch(status)
    send_data "HTTP/1.1 #{status} #{reason}\r\nContent-Type: text/plain\r\nContent-Length: #{text.bytesize + 1}\r\n" \
              "Connection: close\r\n\r\n#{text}\n"
    close_connection_after_writing
  end
end

# Modification times of the files under +root+ (at most +limit+ of them).
def snapshot(root, limit = 10_000)
  Dir.glob('**/*', base: root).first(limit).each_with_object({}) do |relative, times|
    path = File.join(root, relative)
    times[relative] = File.mtime(path) if File.file?(path)
  rescue Errno::ENOENT
    next
  end
end

EM.run do
  trap('INT') { EM.stop }
  trap('TERM') { EM.stop }

  browsers = EM::Channel.new
  EM.start_server(host, port, LiveReloadConnection, root: root) do |ws|
    subscription = nil
    ws.onmessage do |message|
      hello = JSON.parse(message)
      next unless hello['command'] == 'hello'

      ws.send(JSON.generate(command: 'hello', protocols: [LiveReloadConnection::PROTOCOL],
                            serverName: 'em-websocket-rs livereload example'))
      subscription ||= browsers.subscribe { |reload| ws.send(reload) }
      puts "browser connected from #{Socket.unpack_sockaddr_in(ws.get_peername).reverse.join(':')}"
    end
    ws.onclose { browsers.unsubscribe(subscription) if subscription }
    # As in the servers this copies: an error here is a bug, and stops them.
    ws.onerror { |error| raise error }
  end

  times = snapshot(root)
  EM.add_periodic_timer(0.2) do
    now = snapshot(root)
    changed = now.select { |path, mtime| times[path] != mtime }.keys
    times = now
    changed.each do |path|
      puts "changed: #{path}"
      browsers.push(JSON.generate(command: 'reload', path: path, liveCSS: true))
    end
  end

  puts "livereload server listening on ws://#{host}:#{port}/livereload (watching #{root})"
end
