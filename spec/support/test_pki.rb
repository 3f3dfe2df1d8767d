# frozen_string_literal: true

require 'open3'

module EMWSSpec
  # Certificates for the TLS specs, made with the openssl command in a
  # temporary directory: two CAs, a server certificate for localhost and
  # 127.0.0.1 (RSA, PKCS#8), client certificates (EC, SEC1) from each CA.
  class TestPKI
    def initialize(dir)
      @dir = dir
      ca('ca')
      ca('other-ca')
      leaf('server', 'ca', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
           "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1")
      leaf('client', 'ca', %w[ecparam -name prime256v1 -genkey -noout], 'extendedKeyUsage=clientAuth')
      leaf('stranger', 'other-ca', %w[ecparam -name prime256v1 -genkey -noout], 'extendedKeyUsage=clientAuth')
      File.write(path('chain.pem'), File.read(path('server.pem')) + File.read(path('ca.pem')))
      openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path('unrelated.key'))
      openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes-128-cbc',
              '-pass', 'pass:secret', '-out', path('encrypted.key'))
    end

    def path(name)
      File.join(@dir, name)
    end

    def read(name)
      File.read(path(name))
    end

    # The server's :tls_options: the chain (leaf, then CA) and its key.
    def server_options
      { cert_chain_file: path('chain.pem'), private_key_file: path('server.key') }
    end

    private

    def openssl(*args)
      out, status = Open3.capture2e('openssl', *args)
      raise "openssl #{args.join(' ')} failed: #{out}" unless status.success?
    end

    def ca(name)
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
              '-keyout', path("#{name}.key"), '-out', path("#{name}.pem"), '-days', '2', '-subj', "/CN=emws #{name}",
              '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    end

    def leaf(name, ca, keygen, extensions)
      openssl(*keygen, '-out', path("#{name}.key"))
      openssl('req', '-new', '-key', path("#{name}.key"), '-subj', '/CN=localhost', '-out', path("#{name}.csr"))
      File.write(path("#{name}.ext"), "basicConstraints=CA:FALSE\n#{extensions}\n")
      openssl('x509', '-req', '-in', path("#{name}.csr"), '-CA', path("#{ca}.pem"), '-CAkey', path("#{ca}.key"),
              '-set_serial', rand(1 << 62).to_s, '-days', '2', '-extfile', path("#{name}.ext"), '-out', path("#{name}.pem"))
    end
  end
end
