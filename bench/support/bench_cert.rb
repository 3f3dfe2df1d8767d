# frozen_string_literal: true

require 'openssl'
require 'fileutils'

# The certificate rake bench serves wss:// with, made at bench time: a CA and
# a server certificate it signed, both ECDSA P-256 keys (what Let's Encrypt
# issues by default) signed with SHA-256, the server's for localhost and
# 127.0.0.1. The chain file holds the server certificate then the CA's (a
# two-certificate chain, as a Let's Encrypt server sends leaf + intermediate);
# emws-bench --ca trusts the CA.
module BenchCert
  Files = Struct.new(:key, :chain, :ca, keyword_init: true)

  module_function

  def generate(dir)
    FileUtils.mkdir_p(dir)
    ca_key = OpenSSL::PKey::EC.generate('prime256v1')
    ca = certificate(ca_key, ca_key, nil, '/CN=emws bench CA', ca: true)
    key = OpenSSL::PKey::EC.generate('prime256v1')
    leaf = certificate(key, ca_key, ca, '/CN=localhost', ca: false)
    files = Files.new(key: File.join(dir, 'server-key.pem'), chain: File.join(dir, 'server-chain.pem'),
                      ca: File.join(dir, 'ca.pem'))
    File.write(files.key, key.private_to_pem)
    File.write(files.chain, leaf.to_pem + ca.to_pem)
    File.write(files.ca, ca.to_pem)
    files
  end

  def certificate(key, signer_key, issuer, subject, ca:)
    cert = OpenSSL::X509::Certificate.new
    cert.version = 2
    cert.serial = OpenSSL::BN.rand(64)
    cert.subject = OpenSSL::X509::Name.parse(subject)
    cert.issuer = issuer ? issuer.subject : cert.subject
    cert.public_key = key
    cert.not_before = Time.now - 3600
    cert.not_after = Time.now + (2 * 86_400)
    ext = OpenSSL::X509::ExtensionFactory.new
    ext.subject_certificate = cert
    ext.issuer_certificate = issuer || cert
    if ca
      cert.add_extension(ext.create_extension('basicConstraints', 'CA:TRUE', true))
      cert.add_extension(ext.create_extension('keyUsage', 'keyCertSign,cRLSign', true))
    else
      cert.add_extension(ext.create_extension('basicConstraints', 'CA:FALSE', true))
      cert.add_extension(ext.create_extension('keyUsage', 'digitalSignature', true))
      cert.add_extension(ext.create_extension('extendedKeyUsage', 'serverAuth'))
      cert.add_extension(ext.create_extension('subjectAltName', 'DNS:localhost,IP:127.0.0.1'))
    end
    cert.add_extension(ext.create_extension('subjectKeyIdentifier', 'hash'))
    cert.sign(signer_key, OpenSSL::Digest.new('SHA256'))
    cert
  end
end
