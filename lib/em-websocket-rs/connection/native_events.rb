# frozen_string_literal: true

module EmWebSocketRs
  # What the native side reports of a connection, called by the dispatch on
  # the reactor thread, one method per event. Included in
  # `EM::WebSocket::Connection`.
  # @api private
  module NativeEvents
    # The error class for each kind of failure the native side reports.
    # @api private
    ERROR_CLASSES = {
      handshake: EventMachine::WebSocket::HandshakeError,
      protocol: EventMachine::WebSocket::WSProtocolError,
      invalid_data: EventMachine::WebSocket::InvalidDataError,
      message_too_big: EventMachine::WebSocket::WSMessageTooBigError
    }.freeze

    # The handshake has completed: makes the Handshake and the draft's
    # handler, and runs `onopen`.
    # `forwarded_for`: [ip, port] of the client a trusted proxy named.
    # @param path [String]
    # @param query_string [String]
    # @param header_pairs [Array<String>] name, value, name, value, ...
    # @param version [Integer] the protocol version
    # @param secure [Boolean]
    # @param protocol [String, nil] the subprotocol chosen
    # @param forwarded_for [Array(String, Integer), nil]
    # @return [void]
    # @api private
    def _rs_open(path, query_string, header_pairs, version, secure, protocol, forwarded_for)
      @_rs_forwarded_for = forwarded_for if forwarded_for
      # Not kept: em-websocket lets the handshake go after onopen too, and an
      # idle connection should not hold its request headers.
      handshake = EventMachine::WebSocket::Handshake.completed(path, query_string, header_pairs, version, secure, protocol)
      @handler = EventMachine::WebSocket::Handler.klass_factory(version).new(self, @debug)
      @pingable = @handler.pingable?
      @state = :connected
      debug [:accepting_ws_version, version]
      application { trigger_on_open(handshake) }
    end

    # A request for `onupgrade` to decide on (see Upgrade). If the block
    # raises before deciding, the client is answered 500.
    # @param path [String]
    # @param query_string [String]
    # @param header_pairs [Array<String>] name, value, name, value, ...
    # @param version [Integer] the protocol version
    # @param secure [Boolean]
    # @return [void]
    # @api private
    def _rs_upgrade(path, query_string, header_pairs, version, secure)
      handshake = EventMachine::WebSocket::Handshake.completed(path, query_string, header_pairs, version, secure, nil)
      upgrade = EventMachine::WebSocket::Upgrade.new(@native, handshake)
      debug [:upgrade_requested, path]
      begin
        @onupgrade.call(handshake, upgrade)
      rescue StandardError
        # The client is answered; the error goes up, as from any callback.
        upgrade.refuse(500, 'Internal Server Error') unless upgrade.decided?
        raise
      end
    end

    # The server name a TLS client asked for (SNI), for `get_sni_hostname`.
    # @param name [String]
    # @return [void]
    # @api private
    def _rs_server_name(name)
      @_rs_sni_hostname = name
    end

    # A text message: `onmessage`.
    # @param message [String]
    # @return [void]
    # @api private
    def _rs_message(message)
      debug [:message_received, :text, message] if @debug
      application { trigger_on_message(message) }
    end

    # A binary message: `onbinary`.
    # @param message [String]
    # @return [void]
    # @api private
    def _rs_binary(message)
      debug [:message_received, :binary, message] if @debug
      application { trigger_on_binary(message) }
    end

    # A ping (already answered): `onping`.
    # @param data [String]
    # @return [void]
    # @api private
    def _rs_ping(data)
      application { trigger_on_ping(data) }
    end

    # A pong: `onpong`.
    # @param data [String]
    # @return [void]
    # @api private
    def _rs_pong(data)
      application { trigger_on_pong(data) }
    end

    # The outbound buffer has drained: file streams go on, then `ondrain`.
    # @return [void]
    # @api private
    def _rs_drain
      @_rs_streams&.dup&.each(&:stream)
      application { trigger_on_drain }
    end

    # The connection failed: `onerror` with the error of `kind`.
    # @param kind [Symbol] a key of {ERROR_CLASSES}
    # @param message [String]
    # @return [void]
    # @api private
    def _rs_error(kind, message)
      error = ERROR_CLASSES.fetch(kind).new(message)
      debug [:error, error]
      # Failing the connection sends a close frame: em-websocket is closing then.
      @state = :closing if @state == :connected && kind != :handshake && @pingable
      application { trigger_on_error(error) }
    end

    # An application block raised `error`: closed with 3000, then onerror
    # (or up into the reactor without one). Also called by the native
    # dispatch, which runs message callbacks without `application`.
    # @param error [Exception]
    # @return [void]
    # @api private
    def _rs_application_error(error)
      debug [:error, error]
      close_websocket_private(3000, "Application error")
      trigger_on_error(error) || raise(error)
    end

    # The connection has ended: `unbind`, as EventMachine calls it, whose
    # handler delivers `onclose` when the handshake had completed.
    # @param code [Integer]
    # @param reason [String, nil]
    # @param was_clean [Boolean]
    # @return [void]
    # @api private
    def _rs_close(code, reason, was_clean)
      @handler&.close_info = was_clean ? { code: code, reason: reason, was_clean: true } : { code: code, was_clean: false }
      @_rs_streams&.dup&.each(&:stream)
      unbind
    end
  end
end
