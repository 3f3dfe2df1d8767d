# frozen_string_literal: true

module EmWebSocketRs
  module Options
    # Maps `:tls_options` (the keys of EventMachine's `start_tls`) to the
    # native TLS settings. TLS is rustls: what it cannot honour raises
    # ArgumentError naming the option, or, where ignoring it is safe (rustls'
    # own choice is at least as strict), warns once per process.
    # @api private
    module TLS
      # Each PEM is a file or the text itself; the native side reads the files.
      # @api private
      PEMS = { cert_chain_file: :cert, private_key_file: :private_key, ca_file: :ca_cert }.freeze
      # What an `:sni` entry takes: a certificate and its key.
      # @api private
      SNI_PEMS = PEMS.slice(:cert_chain_file, :private_key_file).freeze

      # Keys ignored with a warning, and why.
      # @api private
      IGNORED = {
        cipher_list: 'rustls offers only its own modern AEAD cipher suites',
        ecdh_curve: 'rustls negotiates X25519, P-256 or P-384 itself',
        dhparam: 'rustls uses no finite-field Diffie-Hellman',
        sni_hostname: 'it is a client option (a server answers server names with :sni)'
      }.freeze

      # Every key `:tls_options` takes; any other raises ArgumentError.
      # @api private
      KNOWN = (PEMS.to_a.flatten + IGNORED.keys +
               %i[sni verify_peer fail_if_no_peer_cert ssl_version ssl_versions private_key_pass]).freeze

      # `:ssl_version` names rustls speaks (downcased, dots as underscores).
      # @api private
      SUPPORTED_VERSIONS = { 'tlsv1_2' => :tls12, 'tlsv1_3' => :tls13 }.freeze
      # `:ssl_version` names left out with a warning (or raising when alone).
      # @api private
      OLD_VERSIONS = %w[sslv2 sslv3 tlsv1 tlsv1_0 tlsv1_1].freeze

      @warned = {}

      module_function

      # The Hash the native side loads, or nil when `:secure` is off (as in
      # em-websocket, `:tls_options` alone does nothing). `Server#reload_tls`
      # maps its Hash here too.
      # @param options [Hash] the server's options (`:secure`, `:tls_options`)
      # @return [Hash, nil]
      # @raise [ArgumentError] naming what cannot be honoured
      # @api private
      def native(options)
        return nil unless options[:secure]

        tls = options[:tls_options] || {}
        raise ArgumentError, ":tls_options must be a Hash, got #{tls.class}" unless tls.is_a?(Hash)

        check_keys(tls)
        verify = tls[:verify_peer] ? true : false
        versions = versions(tls)
        pems(tls, verify).merge(
          sni: sni(tls[:sni]),
          fail_if_no_peer_cert: verify && tls[:fail_if_no_peer_cert] ? true : false,
          tls12: versions.include?(:tls12),
          tls13: versions.include?(:tls13)
        )
      end

      # Raises for unknown keys and `:private_key_pass`; warns for the ignored ones.
      # @param tls [Hash]
      # @return [void]
      # @raise [ArgumentError]
      # @api private
      def check_keys(tls)
        unknown = tls.keys - KNOWN
        unless unknown.empty?
          raise ArgumentError, ":tls_options does not take #{unknown.map(&:inspect).join(', ')} " \
                               "(known: #{KNOWN.map(&:inspect).join(', ')})"
        end
        unless tls[:private_key_pass].nil? || tls[:private_key_pass] == ''
          raise ArgumentError, ":tls_options :private_key_pass is not supported: em-websocket-rs reads only " \
                               "unencrypted keys (write one with `openssl pkey -in KEY -out PLAIN_KEY`)"
        end
        IGNORED.each { |key, why| warn_once(key, "is ignored: #{why}") unless tls[key].nil? }
        warn_once(:fail_if_no_peer_cert, 'is ignored without :verify_peer') if tls[:fail_if_no_peer_cert] && !tls[:verify_peer]
      end

      # The certificate, key and CA, each as a file or as text.
      # @param tls [Hash]
      # @param verify [Boolean] `:verify_peer`
      # @return [Hash]
      # @raise [ArgumentError] without a certificate and a key
      # @api private
      def pems(tls, verify)
        out = {}
        PEMS.each { |file_key, inline_key| pem(out, tls, file_key, inline_key, ':tls_options') }
        unless certificate_and_key?(out)
          raise ArgumentError, ':secure needs a certificate and its key in :tls_options (:cert_chain_file or :cert, ' \
                               'and :private_key_file or :private_key): em-websocket-rs has no built-in certificate'
        end
        client_ca(out, verify)
      end

      # Puts the PEM `settings` give as a file or as text into `out`; `within`
      # names `settings` in errors.
      # @return [void]
      # @raise [ArgumentError] for both forms, or a value of the wrong kind
      # @api private
      def pem(out, settings, file_key, inline_key, within)
        file = path(settings, file_key, within)
        inline = inline(settings, inline_key, within)
        raise ArgumentError, "#{within} takes :#{file_key} or :#{inline_key}, not both" if file && inline

        out[file_key] = file
        out[inline_key] = inline
      end

      # Whether `pems` has a certificate and a key.
      # @param pems [Hash]
      # @return [Boolean]
      # @api private
      def certificate_and_key?(pems)
        (pems[:cert_chain_file] || pems[:cert]) && (pems[:private_key_file] || pems[:private_key])
      end

      # `:sni`: each server name (a String) to the certificate and key a
      # client asking for it is answered with; the native side checks the
      # names and loads the files.
      # @param entries [Hash, nil]
      # @return [Hash{String => Hash}]
      # @raise [ArgumentError]
      # @api private
      def sni(entries)
        return {} if entries.nil?
        unless entries.is_a?(Hash)
          raise ArgumentError, ":tls_options :sni must be a Hash of server names to certificates, got #{entries.class}"
        end

        entries.to_h do |name, entry|
          name = name.to_s if name.is_a?(Symbol)
          raise ArgumentError, ":tls_options :sni takes server names (Strings) as keys, got #{name.inspect}" unless name.is_a?(String)

          [name, sni_entry(":tls_options :sni #{name.inspect}", entry)]
        end
      end

      # One `:sni` entry's certificate and key; `within` names it in errors.
      # @param within [String]
      # @param entry [Hash]
      # @return [Hash]
      # @raise [ArgumentError]
      # @api private
      def sni_entry(within, entry)
        unless entry.is_a?(Hash)
          raise ArgumentError, "#{within} must be a Hash (:cert_chain_file, :private_key_file), got #{entry.class}"
        end

        known = SNI_PEMS.to_a.flatten
        unknown = entry.keys - known
        unless unknown.empty?
          raise ArgumentError, "#{within} does not take #{unknown.map(&:inspect).join(', ')} " \
                               "(known: #{known.map(&:inspect).join(', ')})"
        end
        out = {}
        SNI_PEMS.each { |file_key, inline_key| pem(out, entry, file_key, inline_key, within) }
        unless certificate_and_key?(out)
          raise ArgumentError, "#{within} needs a certificate and its key (:cert_chain_file or :cert, " \
                               'and :private_key_file or :private_key)'
        end
        out
      end

      # Client certificates are checked against a CA given here: EventMachine's
      # `ssl_verify_peer` callback is not called.
      # @param out [Hash] the PEMs so far
      # @param verify [Boolean] `:verify_peer`
      # @return [Hash] out
      # @raise [ArgumentError] for `:verify_peer` without a CA
      # @api private
      def client_ca(out, verify)
        has_ca = out[:ca_file] || out[:ca_cert]
        if verify && !has_ca
          raise ArgumentError, ':tls_options :verify_peer needs :ca_file (or :ca_cert), the CA client ' \
                               'certificates are checked against'
        end
        unless verify
          warn_once(out[:ca_file] ? :ca_file : :ca_cert, 'is ignored without :verify_peer') if has_ca
          out[:ca_file] = out[:ca_cert] = nil
        end
        out
      end

      # A path (String or Pathname); an empty one counts as none, as in EventMachine.
      # @return [String, nil]
      # @raise [ArgumentError] for anything else
      # @api private
      def path(settings, key, within)
        value = settings[key]
        value = value.to_path if value.respond_to?(:to_path)
        return nil if value.nil? || value == ''
        raise ArgumentError, "#{within} :#{key} must be a file name (String), got #{value.inspect}" unless value.is_a?(String)

        value
      end

      # PEM text given inline, or nil.
      # @return [String, nil]
      # @raise [ArgumentError] for anything but a String
      # @api private
      def inline(settings, key, within)
        value = settings[key]
        return nil if value.nil?
        raise ArgumentError, "#{within} :#{key} must be PEM text (String), got #{value.class}" unless value.is_a?(String)

        value
      end

      # `:ssl_version` as EventMachine takes it (one name or a list; `:ssl_versions`
      # is the same); TLS 1.2 and 1.3 when none is given.
      # @param tls [Hash]
      # @return [Array<Symbol>] `:tls12` and/or `:tls13`
      # @raise [ArgumentError] for an unknown name, or when none is 1.2 or 1.3
      # @api private
      def versions(tls)
        names = [tls[:ssl_version], tls[:ssl_versions]].flatten.compact
        return SUPPORTED_VERSIONS.values if names.empty?

        old = []
        versions = names.filter_map do |name|
          key = name.to_s.downcase.tr('.', '_')
          next SUPPORTED_VERSIONS[key] if SUPPORTED_VERSIONS.key?(key)
          raise ArgumentError, ":tls_options :ssl_version has an unknown protocol #{name.inspect}" unless OLD_VERSIONS.include?(key)

          old << name
          nil
        end
        if versions.empty?
          raise ArgumentError, ":tls_options :ssl_version #{names.inspect} names no protocol em-websocket-rs " \
                               'speaks: rustls speaks TLSv1_2 and TLSv1_3 only'
        end
        warn_once(:ssl_version, "leaves out #{old.join(', ')}: rustls speaks TLSv1_2 and TLSv1_3 only") unless old.empty?
        versions.uniq
      end

      # Warns about `key` once per process.
      # @param key [Symbol]
      # @param message [String]
      # @return [void]
      # @api private
      def warn_once(key, message)
        return if @warned[key]

        @warned[key] = true
        warn "em-websocket-rs: :tls_options :#{key} #{message}"
      end

      # Forgets which warnings were given (for the specs).
      # @return [void]
      # @api private
      def reset_warnings
        @warned.clear
      end
    end
  end
end
