# frozen_string_literal: true

require 'ipaddr'

# Headers of the HAProxy PROXY protocol
# (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt), for specs
# that play a load balancer in front of the server: what a client writes
# first on its connection, before the WebSocket handshake, to tell the
# server the address of the peer it stands for.
#
#   socket.write(ProxyProtocol.v1('203.0.113.7', '127.0.0.1', 51_000, port) + request)
#   socket.write(ProxyProtocol.v2('2001:db8::1', '::1', 51_000, port,
#                                 tlvs: [[ProxyProtocol::PP2_TYPE_AUTHORITY, 'example.com']]))
#
# Every builder returns a new binary (Encoding::BINARY) String. Addresses
# are Strings or IPAddr; source and destination must be of one family.
module ProxyProtocol
  # The 12 bytes every version 2 header starts with
  V2_SIGNATURE = "\r\n\r\n\x00\r\nQUIT\n".b.freeze

  # Version 2 in the high nibble, command in the low one
  V2_LOCAL = 0x20
  V2_PROXY = 0x21
  # Address family in the high nibble, transport protocol in the low one
  V2_UNSPEC = 0x00
  V2_TCP4 = 0x11 # AF_INET, STREAM
  V2_TCP6 = 0x21 # AF_INET6, STREAM

  # The TLV types the protocol defines (section 2.2)
  PP2_TYPE_ALPN = 0x01
  PP2_TYPE_AUTHORITY = 0x02
  PP2_TYPE_CRC32C = 0x03
  PP2_TYPE_NOOP = 0x04
  PP2_TYPE_UNIQUE_ID = 0x05
  PP2_TYPE_SSL = 0x20
  PP2_TYPE_NETNS = 0x30

  module_function

  # "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (TCP6 for IPv6 addresses)
  def v1(src_ip, dst_ip, src_port, dst_port)
    src, dst = addresses(src_ip, dst_ip)
    protocol = src.ipv4? ? 'TCP4' : 'TCP6'
    "PROXY #{protocol} #{src} #{dst} #{port(src_port)} #{port(dst_port)}\r\n".b
  end

  # "PROXY UNKNOWN\r\n": a connection the proxy cannot describe (the
  # receiver must use the connection's own addresses).
  def v1_unknown
    "PROXY UNKNOWN\r\n".b
  end

  # A version 2 header, command PROXY over TCP (AF_INET or AF_INET6 and
  # STREAM, after the addresses' family), followed by +tlvs+, an Array of
  # [type (0..255), value (String)] in the order given.
  def v2(src_ip, dst_ip, src_port, dst_port, tlvs: [])
    src, dst = addresses(src_ip, dst_ip)
    family = src.ipv4? ? V2_TCP4 : V2_TCP6
    body = src.hton + dst.hton + [port(src_port), port(dst_port)].pack('nn') + tlv_bytes(tlvs)
    v2_header(V2_PROXY, family, body)
  end

  # A version 2 header with command LOCAL and family UNSPEC, no address (a
  # connection the proxy makes on its own behalf, e.g. a health check).
  def v2_local
    v2_header(V2_LOCAL, V2_UNSPEC, ''.b)
  end

  def v2_header(command, family, body)
    raise ArgumentError, "v2 header body of #{body.bytesize} bytes (at most 65535)" if body.bytesize > 0xFFFF

    V2_SIGNATURE + [command, family, body.bytesize].pack('CCn') + body
  end

  def tlv_bytes(tlvs)
    tlvs.map do |type, value|
      unless type.is_a?(Integer) && type.between?(0, 0xFF)
        raise ArgumentError, "TLV type #{type.inspect} is not an Integer in 0..255"
      end
      raise ArgumentError, "TLV value #{value.inspect} is not a String" unless value.is_a?(String)

      bytes = value.b
      raise ArgumentError, "TLV value of #{bytes.bytesize} bytes (at most 65535)" if bytes.bytesize > 0xFFFF

      [type, bytes.bytesize].pack('Cn') + bytes
    end.join.b
  end

  def addresses(src_ip, dst_ip)
    src = address(src_ip)
    dst = address(dst_ip)
    raise ArgumentError, "#{src} and #{dst} are not of one address family" unless src.family == dst.family

    [src, dst]
  end

  def address(ip)
    addr = ip.is_a?(IPAddr) ? ip : IPAddr.new(ip.to_s)
    unless addr.prefix == (addr.ipv4? ? 32 : 128)
      raise ArgumentError, "#{ip.inspect} is a network, not a host address"
    end

    addr
  rescue IPAddr::Error
    raise ArgumentError, "invalid IP address #{ip.inspect}"
  end

  def port(number)
    unless number.is_a?(Integer) && number.between?(0, 0xFFFF)
      raise ArgumentError, "port #{number.inspect} is not an Integer in 0..65535"
    end

    number
  end
  private_class_method :v2_header, :tlv_bytes, :addresses, :address, :port
end
