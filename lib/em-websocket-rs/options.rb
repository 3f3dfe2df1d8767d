# frozen_string_literal: true

require_relative 'tls_options'

module EmWebSocketRs
  # Checks the options of `EM::WebSocket.run` and maps them for the native server.
  module Options
    # Options em-websocket takes, and those em-websocket-rs adds.
    KNOWN = %i[
      host port debug secure tls_options secure_proxy close_timeout outbound_limit
      protocols max_message_size max_handshake_size handshake_timeout strict_masking
      reuse_port backlog compression max_connections ping_interval ping_timeout drain_threshold
    ].freeze

    # What `:compression => { ... }` may set (permessage-deflate).
    COMPRESSION_KEYS = %i[
      server_no_context_takeover client_no_context_takeover server_max_window_bits
      client_max_window_bits min_size
    ].freeze

    module_function

    # The Hash the native side reads; raises ArgumentError naming a bad option.
    def native(options)
      raise ArgumentError, "options must be a Hash, got #{options.class}" unless options.is_a?(Hash)

      {
        host: host(options.fetch(:host, '0.0.0.0')),
        port: port(options[:port]),
        secure: flag(options, :secure),
        secure_proxy: flag(options, :secure_proxy),
        tls: TLS.native(options),
        outbound_limit: size(options, :outbound_limit, allow_zero: true),
        max_message_size: size(options, :max_message_size, allow_zero: true),
        max_handshake_size: size(options, :max_handshake_size),
        handshake_timeout: seconds(options, :handshake_timeout),
        protocols: protocols(options[:protocols]),
        compression: compression(options[:compression]),
        strict_masking: flag(options, :strict_masking),
        reuse_port: flag(options, :reuse_port),
        backlog: size(options, :backlog),
        max_connections: size(options, :max_connections),
        ping_interval: seconds(options, :ping_interval),
        ping_timeout: seconds(options, :ping_timeout),
        drain_threshold: size(options, :drain_threshold, allow_zero: true)
      }.tap { seconds(options, :close_timeout) }
    end

    def host(value)
      value = value.to_s if value.is_a?(Symbol)
      raise ArgumentError, ":host must be a String, got #{value.inspect}" unless value.is_a?(String) && !value.empty?

      value
    end

    def port(value)
      raise ArgumentError, ":port is required" if value.nil?

      port = Integer(value, exception: false) if value.is_a?(Integer) || value.is_a?(String)
      raise ArgumentError, ":port must be an Integer from 0 to 65535, got #{value.inspect}" unless port&.between?(0, 65_535)

      port
    end

    def flag(options, key)
      value = options[key]
      return false if value.nil? || value == false

      true
    end

    def size(options, key, allow_zero: false)
      value = options[key]
      return nil if value.nil?

      minimum = allow_zero ? 0 : 1
      raise ArgumentError, ":#{key} must be an Integer >= #{minimum}, got #{value.inspect}" unless value.is_a?(Integer) && value >= minimum

      value
    end

    def seconds(options, key)
      value = options[key]
      return nil if value.nil?
      raise ArgumentError, ":#{key} must be a positive number of seconds, got #{value.inspect}" unless value.is_a?(Numeric) && value.positive?

      value.to_f
    end

    # permessage-deflate: `true` (the defaults), `false`/nil (off), or a Hash
    # of COMPRESSION_KEYS.
    def compression(value)
      return nil if value.nil? || value == false
      return {} if value == true
      raise ArgumentError, ":compression must be true, false or a Hash, got #{value.inspect}" unless value.is_a?(Hash)

      unknown = value.keys - COMPRESSION_KEYS
      unless unknown.empty?
        raise ArgumentError, ":compression has unknown keys #{unknown.map(&:inspect).join(', ')} " \
                             "(known: #{COMPRESSION_KEYS.map(&:inspect).join(', ')})"
      end
      value.each { |key, setting| compression_setting(key, setting) }
      value.dup
    end

    def compression_setting(key, setting)
      expected, valid = case key
                        when :min_size then ['an Integer >= 0', setting.is_a?(Integer) && setting >= 0]
                        when :server_max_window_bits, :client_max_window_bits
                          ['an Integer from 8 to 15', setting.is_a?(Integer) && setting.between?(8, 15)]
                        else ['true or false', [true, false].include?(setting)]
                        end
      raise ArgumentError, ":compression's #{key.inspect} must be #{expected}, got #{setting.inspect}" unless valid
    end

    def protocols(value)
      return [] if value.nil?

      list = Array(value)
      unless list.all? { |p| p.is_a?(String) && p.match?(/\A[!#$%&'*+\-.^_`|~0-9A-Za-z]+\z/) }
        raise ArgumentError, ":protocols must be subprotocol tokens (Strings), got #{value.inspect}"
      end

      list
    end
  end
end
