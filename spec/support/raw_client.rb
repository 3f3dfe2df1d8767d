# frozen_string_literal: true

module EMWSSpec
  # The callbacks a test client reports to (RawClient, LegacyClient).
  module ClientCallbacks
    def on_open(&blk)
      @on_open = blk
    end

    def on_frame(&blk)
      @on_frame = blk
    end

    def on_close(&blk)
      @on_close = blk
    end

    def on_data(&blk)
      @on_data = blk
    end
  end

  # An EventMachine client that speaks raw bytes: it sends a handshake (or
  # anything else), collects every byte it receives, splits off the HTTP
  # response and decodes the frames that follow.
  #
  #   c = EM.connect('127.0.0.1', port, RawClient, request: bytes)
  #   c.on_open { |response| ... }     # once the handshake response is in
  #   c.on_frame { |frame| ... }       # each frame from the server
  #   c.on_close { ... }               # TCP connection gone
  #
  # With +handshake: false+ it never looks for an HTTP response (for the
  # policy file and HTTP-only requests): only +data+ is collected.
  # By default it answers a server close frame with a close frame (like a
  # real client); +echo_close: false+ makes it ignore them.
  class RawClient < EM::Connection
    attr_reader :data, :frames, :response, :closed_at, :opened_at

    # EM passes connection arguments positionally, hence the options Hash
    def initialize(opts = {})
      super()
      @request = opts[:request]
      @handshake = opts.fetch(:handshake, true)
      @echo_close = opts.fetch(:echo_close, true)
      @tls = opts[:tls]
      @data = String.new(encoding: Encoding::BINARY)
      @buf = String.new(encoding: Encoding::BINARY)
      @frames = []
      @response = nil
      @closed = false
      @closed_at = nil
      @opened_at = nil
      @sent_close = false
      @tls_done = false
      @on_open = @on_frame = @on_close = @on_data = nil
    end

    include ClientCallbacks

    def connection_completed
      if @tls
        start_tls(@tls.is_a?(Hash) ? @tls : {})
      elsif @request
        send_data(@request)
      end
    end

    def ssl_handshake_completed
      @tls_done = true
      send_data(@request) if @request
    end

    def tls_done?
      @tls_done ? true : false
    end

    def receive_data(chunk)
      @data << chunk.b
      @on_data&.call(chunk.b)
      return unless @handshake

      @buf << chunk.b
      unless @response
        parsed = Handshake.parse_response(@buf)
        return unless parsed

        @response, @buf = parsed
        @opened_at = Time.now
        @on_open&.call(@response)
      end
      drain_frames
    end

    def unbind
      @closed = true
      @closed_at = Time.now
      @on_close&.call
    end

    def closed?
      @closed
    end

    def open?
      !@response.nil? && !@closed
    end

    # Bytes received after the handshake response
    def body
      @response ? @data.byteslice(@data.index("\r\n\r\n") + 4..) : @data
    end

    def frames_of(type)
      @frames.select { |f| f.type == type }
    end

    def close_frame
      frames_of(:close).first
    end

    def send_frame(type, payload = '', **opts)
      @sent_close = true if type == :close
      send_data(Frames.encode(type, payload, **opts))
    end

    def send_text(str, **opts)
      send_frame(:text, str, **opts)
    end

    def send_binary(str, **opts)
      send_frame(:binary, str, **opts)
    end

    def send_ping(body = '', **opts)
      send_frame(:ping, body, **opts)
    end

    def send_pong(body = '', **opts)
      send_frame(:pong, body, **opts)
    end

    def send_close(code = nil, reason = '', **opts)
      send_frame(:close, Frames.close_payload(code, reason), **opts)
    end

    private

    def drain_frames
      frames, @buf = Frames.decode_all(@buf)
      frames.each do |f|
        @frames << f
        if f.type == :close && @echo_close && !@sent_close
          send_close(f.close_code)
        end
        @on_frame&.call(f)
      end
    end
  end
end
