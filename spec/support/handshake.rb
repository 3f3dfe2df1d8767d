# frozen_string_literal: true

require 'base64'
require 'digest/sha1'
require 'securerandom'

module EMWSSpec
  # Building client handshakes and reading the server's answer.
  module Handshake
    GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
    # RFC 6455 section 1.3 sample nonce and its accept value
    SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
    SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='

    Response = Struct.new(:status_line, :header_lines, :headers, :body) do
      # status code as an Integer (nil when the status line is unparseable)
      def status
        status_line[%r{\AHTTP/1\.1 (\d{3})}, 1]&.to_i
      end

      # header lines as a sorted Array, for set comparison
      def header_set
        header_lines.sort
      end

      def [](name)
        headers[name.downcase]
      end
    end

    module_function

    def new_key
      Base64.strict_encode64(SecureRandom.random_bytes(16))
    end

    def accept_for(key)
      Base64.strict_encode64(Digest::SHA1.digest(key + GUID))
    end

    # An HTTP request as bytes. +headers+ is an ordered list of [name, value]
    # pairs (or a Hash); nil values are left out.
    def format_request(method: 'GET', path: '/', headers: [], body: '')
      lines = ["#{method} #{path} HTTP/1.1"]
      headers.each { |k, v| lines << "#{k}: #{v}" unless v.nil? }
      (lines.join("\r\n") + "\r\n\r\n" + body).b
    end

    # An RFC 6455 (or draft 07/08 when +version+ says so) opening handshake.
    # +extra+ headers are appended; +drop+ names headers to leave out.
    def rfc6455_request(host:, path: '/', key: SAMPLE_KEY, version: 13, origin: nil,
                        protocol: nil, extra: [], drop: [], method: 'GET')
      origin_header = version.to_i >= 13 ? 'Origin' : 'Sec-WebSocket-Origin'
      headers = [
        ['Host', host],
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Key', key],
        [origin_header, origin],
        ['Sec-WebSocket-Protocol', protocol],
        ['Sec-WebSocket-Version', version]
      ] + extra.to_a
      headers.reject! { |k, _| drop.any? { |d| d.casecmp?(k) } }
      format_request(method: method, path: path, headers: headers)
    end

    # The header lines em-websocket sends for an RFC 6455 request without
    # a subprotocol.
    def expected_rfc6455_lines(key)
      [
        'HTTP/1.1 101 Switching Protocols',
        'Upgrade: websocket',
        'Connection: Upgrade',
        "Sec-WebSocket-Accept: #{accept_for(key)}"
      ]
    end

    # Splits raw bytes at the first blank line. Returns [Response, rest] or
    # nil when the header block is not complete yet.
    def parse_response(raw)
      raw = raw.b
      idx = raw.index("\r\n\r\n")
      return nil unless idx

      head = raw.byteslice(0, idx)
      rest = raw.byteslice((idx + 4)..)
      lines = head.split("\r\n")
      status_line = lines.shift.to_s
      headers = {}
      lines.each do |line|
        name, value = line.split(':', 2)
        headers[name.strip.downcase] = value.to_s.strip
      end
      [Response.new(status_line, [status_line] + lines, headers, rest), rest]
    end
  end
end
