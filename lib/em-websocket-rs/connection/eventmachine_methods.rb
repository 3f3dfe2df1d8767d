# frozen_string_literal: true

module EmWebSocketRs
  # The methods of `EventMachine::Connection` that applications call on a
  # WebSocket connection, answered by its native handle: EventMachine never
  # sees the socket. Included in `EM::WebSocket::Connection`.
  module EventMachineMethods
    # EventMachine's `send_file_data` sends files of up to 32 KiB.
    SEND_FILE_LIMIT = 32 * 1024

    # Writes bytes as they are, without framing. With `:outbound_limit`, a
    # write that would take the buffer past the limit aborts the connection
    # and returns 0, as em-websocket does.
    def send_data(data)
      data = data.to_s
      if @native.send_raw(data) == :limit_reached
        debug [:abort, :outbound_limit_reached]
        return 0
      end
      data.bytesize
    end

    def close_connection(after_writing = false)
      @native.disconnect(after_writing ? true : false)
      nil
    end

    def close_connection_after_writing
      close_connection(true)
    end

    def get_outbound_data_size
      @native.outbound_bytes
    end

    # Bytes sent and not yet written to the socket (the browser API's name).
    alias buffered_amount get_outbound_data_size

    def get_peername
      ip, port = _rs_peer
      Socket.pack_sockaddr_in(port, ip)
    end

    # The local address, packed as EventMachine packs it; nil once the
    # connection has ended.
    def get_sockname
      ip, port = @native.local_address
      Socket.pack_sockaddr_in(port, ip) if ip
    end

    def comm_inactivity_timeout
      defined?(@comm_inactivity_timeout) ? @comm_inactivity_timeout : 0.0
    end

    def comm_inactivity_timeout=(seconds)
      @comm_inactivity_timeout = Float(seconds)
      @native.inactivity_timeout = @comm_inactivity_timeout
    end
    alias set_comm_inactivity_timeout comm_inactivity_timeout=

    def error?
      false
    end

    # Streams a file to the peer as it is (no framing) without reading it
    # whole; returns a Deferrable that succeeds once all of it is queued,
    # or fails with "file not found". `:http_chunks` sends it in HTTP/1.1
    # chunked encoding.
    def stream_file_data(filename, args = {})
      EmWebSocketRs::FileStreamer.new(self, filename, args)
    end

    # Sends a small file (up to 32 KiB, EventMachine's limit) as it is.
    def send_file_data(filename)
      raise "File too large.  send_file_data() supports files under 32k." if File.size(filename) > SEND_FILE_LIMIT

      send_data(File.binread(filename))
    rescue SystemCallError => e
      raise IOError, ": #{filename} #{SystemCallError.new(nil, e.errno).message}"
    end

    # Stops reading from and writing to the socket until `resume`; true if
    # the connection was not paused already.
    def pause
      return false if paused?

      @paused = true
      @native.paused = true
      true
    end

    def resume
      return false unless paused?

      @paused = false
      @native.paused = false
      true
    end

    def paused?
      defined?(@paused) ? @paused : false
    end

    # Not watched descriptors: the server owns the socket.
    def notify_readable?; false; end
    def notify_writable?; false; end
    def watch_only?; false; end

    # On a `:secure` server the connection is TLS from its first byte, as
    # em-websocket's `post_init` makes it; a plain one cannot switch.
    def start_tls(_options = {})
      return if @options[:secure]

      raise NotImplementedError, "#{self.class}#start_tls is not supported by em-websocket-rs: " \
                                 "serve wss:// with the server's :secure and :tls_options"
    end

    # EventMachine::Connection methods with no meaning for a connection
    # whose socket EventMachine does not own; each raises saying so.
    UNSUPPORTED = {
      associate_callback_target: 'EventMachine does not own the socket',
      detach: 'EventMachine does not own the socket',
      'notify_readable=': 'EventMachine does not own the socket',
      'notify_writable=': 'EventMachine does not own the socket',
      get_sock_opt: "socket options are the server's",
      set_sock_opt: "socket options are the server's",
      enable_keepalive: "socket options are the server's (use :ping_interval)",
      disable_keepalive: "socket options are the server's",
      get_idle_time: 'use comm_inactivity_timeout or :ping_interval',
      get_peer_cert: 'client certificates are checked by the server (:verify_peer with :ca_file)',
      get_cipher_bits: 'TLS is terminated by the server',
      get_cipher_name: 'TLS is terminated by the server',
      get_cipher_protocol: 'TLS is terminated by the server',
      get_sni_hostname: 'TLS is terminated by the server',
      proxy_incoming_to: 'proxying is not implemented',
      stop_proxying: 'proxying is not implemented',
      get_proxied_bytes: 'proxying is not implemented',
      send_datagram: 'a WebSocket connection is TCP',
      reconnect: 'a server connection cannot reconnect',
      get_pid: 'not a process connection',
      get_status: 'not a process connection',
      pending_connect_timeout: 'a server connection is already connected',
      'pending_connect_timeout=': 'a server connection is already connected',
      set_pending_connect_timeout: 'a server connection is already connected'
    }.freeze

    UNSUPPORTED.each do |name, why|
      define_method(name) do |*|
        raise NotImplementedError, "#{self.class}##{name} is not supported by em-websocket-rs: #{why}"
      end
    end
  end
end
