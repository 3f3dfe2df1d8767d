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
    #
    # WebSocket frames do not go through it: an override sees what the
    # application sends raw, not the frames.
    # @param data [String, #to_s]
    # @return [Integer] the bytes queued, or 0 when the limit was reached
    def send_data(data)
      data = data.to_s
      if @native.send_raw(data) == :limit_reached
        debug [:abort, :outbound_limit_reached]
        return 0
      end
      data.bytesize
    end

    # Closes the socket without a closing handshake: at once, or once what is
    # queued has been written.
    # @param after_writing [Boolean]
    # @return [nil]
    def close_connection(after_writing = false)
      @native.disconnect(after_writing ? true : false)
      nil
    end

    # Closes the socket once what is queued has been written.
    # @return [nil]
    def close_connection_after_writing
      close_connection(true)
    end

    # Bytes queued and not yet written to the socket.
    # @return [Integer]
    def get_outbound_data_size
      @native.outbound_bytes
    end

    # Bytes sent and not yet written to the socket (the browser API's name).
    alias buffered_amount get_outbound_data_size

    # The server name the client asked for in its TLS handshake (SNI), as
    # EventMachine's `get_sni_hostname`; nil for a plain connection, a client
    # that sent none, or before the TLS handshake has completed (it has by
    # `onopen`).
    # @return [String, nil]
    def get_sni_hostname
      defined?(@_rs_sni_hostname) ? @_rs_sni_hostname : nil
    end

    # The peer's address, packed as EventMachine packs it: the address
    # `remote_ip` tells (the client a PROXY protocol header or, from `onopen`
    # on, a trusted proxy named).
    # @return [String] for `Socket.unpack_sockaddr_in`
    # @example
    #   port, ip = Socket.unpack_sockaddr_in(ws.get_peername)
    def get_peername
      ip, port = _rs_peer
      Socket.pack_sockaddr_in(port, ip)
    end

    # The local address, packed as EventMachine packs it; nil once the
    # connection has ended.
    # @return [String, nil] for `Socket.unpack_sockaddr_in`
    def get_sockname
      ip, port = @native.local_address
      Socket.pack_sockaddr_in(port, ip) if ip
    end

    # Seconds with nothing read or written after which the connection is
    # closed, as EventMachine's; 0.0 (none) until set.
    # @return [Float]
    def comm_inactivity_timeout
      defined?(@comm_inactivity_timeout) ? @comm_inactivity_timeout : 0.0
    end

    # Sets the inactivity timeout (see {#comm_inactivity_timeout}); 0 for none.
    # @param seconds [Numeric]
    # @return [Numeric] seconds
    def comm_inactivity_timeout=(seconds)
      @comm_inactivity_timeout = Float(seconds)
      @native.inactivity_timeout = @comm_inactivity_timeout
    end
    alias set_comm_inactivity_timeout comm_inactivity_timeout=

    # EventMachine's: false, always (a connection's errors go to `onerror`).
    # @return [false]
    def error?
      false
    end

    # Streams a file to the peer as it is (no framing) without reading it
    # whole; returns a Deferrable that succeeds once all of it is queued,
    # or fails with "file not found". `:http_chunks` sends it in HTTP/1.1
    # chunked encoding.
    #
    # Chunks are queued while the outbound buffer is below `:drain_threshold`
    # and, with `:outbound_limit`, only where they fit under it (em-websocket
    # aborts the connection instead); see {EmWebSocketRs::FileStreamer}.
    # @param filename [String]
    # @param args [Hash] `http_chunks: true` for chunked encoding
    # @return [EmWebSocketRs::FileStreamer] a Deferrable
    # @example
    #   ws.stream_file_data('index.html').callback { ws.close_connection_after_writing }
    def stream_file_data(filename, args = {})
      EmWebSocketRs::FileStreamer.new(self, filename, args)
    end

    # Sends a small file (up to 32 KiB, EventMachine's limit) as it is.
    # @param filename [String]
    # @return [Integer] the bytes queued (0 when `:outbound_limit` was reached)
    # @raise [RuntimeError] for a file over 32 KiB ("File too large. ...")
    # @raise [IOError] when the file cannot be read
    def send_file_data(filename)
      raise "File too large.  send_file_data() supports files under 32k." if File.size(filename) > SEND_FILE_LIMIT

      send_data(File.binread(filename))
    rescue SystemCallError => e
      raise IOError, ": #{filename} #{SystemCallError.new(nil, e.errno).message}"
    end

    # Stops reading from and writing to the socket until `resume`; true if
    # the connection was not paused already.
    # @return [Boolean]
    def pause
      return false if paused?

      @paused = true
      @native.paused = true
      true
    end

    # Reads and writes again after `pause`; true if the connection was paused.
    # @return [Boolean]
    def resume
      return false unless paused?

      @paused = false
      @native.paused = false
      true
    end

    # Whether the connection is paused (see {#pause}).
    # @return [Boolean]
    def paused?
      defined?(@paused) ? @paused : false
    end

    # Not watched descriptors: the server owns the socket.
    # @return [false]
    def notify_readable?; false; end
    # Not a watched descriptor (see {#notify_readable?}).
    # @return [false]
    def notify_writable?; false; end
    # Not a watched descriptor (see {#notify_readable?}).
    # @return [false]
    def watch_only?; false; end

    # On a `:secure` server the connection is TLS from its first byte, as
    # em-websocket's `post_init` makes it; a plain one cannot switch.
    # @param _options [Hash] ignored (the server's `:tls_options` apply)
    # @return [nil]
    # @raise [NotImplementedError] on a server without `:secure`
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

    # @!method associate_callback_target(*args)
    #   Not supported: EventMachine does not own the socket.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method detach(*args)
    #   Not supported: EventMachine does not own the socket.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method notify_readable=(*args)
    #   Not supported: EventMachine does not own the socket.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method notify_writable=(*args)
    #   Not supported: EventMachine does not own the socket.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_sock_opt(*args)
    #   Not supported: socket options are the server's.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method set_sock_opt(*args)
    #   Not supported: socket options are the server's.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method enable_keepalive(*args)
    #   Not supported: socket options are the server's (use `:ping_interval`).
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method disable_keepalive(*args)
    #   Not supported: socket options are the server's.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_idle_time(*args)
    #   Not supported: use `comm_inactivity_timeout` or `:ping_interval`.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_peer_cert(*args)
    #   Not supported: client certificates are checked by the server (`:verify_peer` with `:ca_file`).
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_cipher_bits(*args)
    #   Not supported: TLS is terminated by the server.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_cipher_name(*args)
    #   Not supported: TLS is terminated by the server.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_cipher_protocol(*args)
    #   Not supported: TLS is terminated by the server.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method proxy_incoming_to(*args)
    #   Not supported: proxying is not implemented.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method stop_proxying(*args)
    #   Not supported: proxying is not implemented.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_proxied_bytes(*args)
    #   Not supported: proxying is not implemented.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method send_datagram(*args)
    #   Not supported: a WebSocket connection is TCP.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method reconnect(*args)
    #   Not supported: a server connection cannot reconnect.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_pid(*args)
    #   Not supported: not a process connection.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method get_status(*args)
    #   Not supported: not a process connection.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method pending_connect_timeout(*args)
    #   Not supported: a server connection is already connected.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method pending_connect_timeout=(*args)
    #   Not supported: a server connection is already connected.
    #   @raise [NotImplementedError] always, naming the method and why
    # @!method set_pending_connect_timeout(*args)
    #   Not supported: a server connection is already connected.
    #   @raise [NotImplementedError] always, naming the method and why
    UNSUPPORTED.each do |name, why|
      define_method(name) do |*|
        raise NotImplementedError, "#{self.class}##{name} is not supported by em-websocket-rs: #{why}"
      end
    end
  end
end
