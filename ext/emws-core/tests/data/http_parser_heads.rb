# frozen_string_literal: true

# Writes http_parser_heads.txt: malformed (and some well-formed) request heads
# with what em-websocket's HTTP parser, http_parser.rb's Http::Parser (Debian's
# ruby-http-parser.rb on libhttp_parser.so.2.9, nodejs http-parser 2.9.4),
# makes of them. src/handshake/http_parser.rs checks its emulation against it.
#
#   ruby ext/emws-core/tests/data/http_parser_heads.rb > ext/emws-core/tests/data/http_parser_heads.txt
#
# Format, one case a line: SOURCE SPLIT ANSWER
#   SOURCE  bN (the Nth "#base" line) or xBYTES, then comma-separated edits:
#           rPOS+LEN=BYTES  replace LEN bytes at POS with BYTES (empty: delete)
#           tLEN            keep the first LEN bytes
#           pPOS=HH*N       insert N bytes 0xHH at POS
#           BYTES: visible ASCII as is, but for "%" and ","; any other byte %HH
#   SPLIT   - (fed in one read) or where the second read begins
#   ANSWER  E<offset> (rejected byte, from the start of the input),
#           C<length> (head complete), I (incomplete: every byte accepted)

require 'http_parser'

# [:error, offset] | [:complete, head_length] | [:incomplete]
def oracle(input, split = nil)
  chunks = split ? [input.byteslice(0, split), input.byteslice(split..)] : [input]
  done = false
  parser = Http::Parser.new
  parser.on_headers_complete = proc { done = true; :stop }
  fed = 0
  chunks.each do |chunk|
    next if chunk.empty?
    begin
      taken = parser << chunk
    rescue HTTP::Parser::Error => e
      return [:error, fed + offset_in(e)]
    end
    return head_end(input, fed + taken) if done
    fed += chunk.bytesize
  end
  [:incomplete]
end

def offset_in(error)
  m = error.message.match(/\AC(?:ould not parse data entirely) \((\d+) != \d+\)\z/) or raise error
  m[1].to_i
end

# Stopping in on_headers_complete hides the check made on the head's last
# byte once the callback returns (a request whose Transfer-Encoding is not
# chunked): feed the head alone again, with a callback that lets it run.
def head_end(input, length)
  parser = Http::Parser.new
  parser.on_headers_complete = proc { nil }
  begin
    parser << input.byteslice(0, length)
  rescue HTTP::Parser::Error => e
    at = offset_in(e)
    raise "unexpected error at #{at} in #{input.inspect}" unless at == length - 1
    return [:error, at]
  end
  [:complete, length]
end

# SEED and SCALE (a multiplier of the number of cases) explore further.
RNG = Random.new(Integer(ENV.fetch('SEED', '20240611')))
SCALE = Float(ENV.fetch('SCALE', '1'))
def times(n, &block) = (n * SCALE).round.times(&block)

def pick(list) = list[RNG.rand(list.size)]
def chance(p) = RNG.rand < p
def enc(bytes) = bytes.b.gsub(/[^\x21-\x24\x26-\x2b\x2d-\x7e]/n) { |b| format('%%%02X', b.ord) }

KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
BASES = [
  "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
  "Sec-WebSocket-Key: #{KEY}\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" \
  "Sec-WebSocket-Version: 13\r\n\r\n",
  "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n" \
  "Sec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n" \
  "Origin: http://example.com\r\n\r\n^n:ds[4U",
  "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: example.com\r\n" \
  "Origin: http://example.com\r\nWebSocket-Protocol: sample\r\n\r\n",
  "GET ws://example.com:8080/path/to?x=1&y=%20#frag HTTP/1.1\r\nHost: example.com:8080\r\n" \
  "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: #{KEY}\r\n" \
  "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" \
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nCookie: a=b; c=d\r\nProxy-Connection: keep-alive\r\n\r\n",
  "GET /?q HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
  "Sec-WebSocket-Key: #{KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n",
  "GET /x HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\nX-Folded: a\r\n  b\r\n" \
  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
  "GET /chat HTTP/1.1\nHost: server.example.com\nUpgrade: websocket\nConnection: Upgrade\n" \
  "Sec-WebSocket-Key: #{KEY}\nSec-WebSocket-Version: 13\n\n",
  "GET / HTTP/1.1\r\n\r\n",
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
  "\r\n\r\nGET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  "GET http://user:pw@[::1]:1/p?q?r#f#g HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  "GET /\r\nHost: h\r\n\r\n",
  "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
].map(&:b).freeze

INTERESTING = ([13, 10, 32, 9, 0, 0x7f, 0x80, 0xff, 0xc3, 0x0b, 0x0c, 0x1f, 0x01] +
               ':/?#@[]<>{}|\\^`"(),;=-_.*+!~\'%&$HTPICE0123456789AZaz'.bytes).freeze

def random_byte
  return pick(INTERESTING) if chance(0.5)
  return RNG.rand(0x20..0x7e) if chance(0.5)
  RNG.rand(256)
end

def random_bytes(n, charset = nil)
  Array.new(n) { charset ? pick(charset) : random_byte }.pack('C*')
end

# A case: a base and edits. Returns [description, bytes].
class Case
  attr_reader :bytes

  def initialize(base_index = nil, raw: nil)
    @source = base_index ? "b#{base_index}" : "x#{enc(raw)}"
    @bytes = (base_index ? BASES[base_index] : raw).dup
    @edits = []
  end

  def replace(pos, len, with)
    pos = pos.clamp(0, @bytes.bytesize)
    len = len.clamp(0, @bytes.bytesize - pos)
    @bytes = @bytes.byteslice(0, pos) + with.b + @bytes.byteslice((pos + len)..)
    @edits << "r#{pos}+#{len}=#{enc(with)}"
    self
  end

  def truncate(len)
    len = len.clamp(0, @bytes.bytesize)
    @bytes = @bytes.byteslice(0, len)
    @edits << "t#{len}"
    self
  end

  def pad(pos, byte, count)
    pos = pos.clamp(0, @bytes.bytesize)
    @bytes = @bytes.byteslice(0, pos) + ([byte].pack('C') * count) + @bytes.byteslice(pos..)
    @edits << "p#{pos}=#{format('%02x', byte)}*#{count}"
    self
  end

  def description = [@source, *@edits].join(',')

  # Replace the first occurrence of a string.
  def sub(from, to)
    pos = @bytes.index(from.b)
    pos ? replace(pos, from.bytesize, to) : self
  end
end

def mutate(c)
  n = c.bytes.bytesize
  case RNG.rand(3)
  when 0 then c.replace(RNG.rand(n), 1, [random_byte].pack('C'))
  when 1 then c.replace(RNG.rand(n + 1), 0, [random_byte].pack('C'))
  else n.zero? ? c : c.replace(RNG.rand(n), 1, '')
  end
end

def base_case = Case.new(RNG.rand(BASES.size))

METHODS = %w[DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH
             SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY
             SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE].freeze
UPPER = ('A'..'Z').map(&:ord) + ['-'.ord]

def method_variant
  m = pick(METHODS).b
  case RNG.rand(6)
  when 0 then m
  when 1 then m.downcase
  when 2 then m.dup.tap { |s| s.setbyte(RNG.rand(s.bytesize), pick(UPPER)) }
  when 3 then random_bytes(RNG.rand(1..10), UPPER)
  when 4 then m + random_bytes(1, UPPER)
  else m.byteslice(0, RNG.rand(1..m.bytesize)) + random_bytes(RNG.rand(0..2))
  end
end

VERSION_CHARS = 'HTPICE/0123456789. xX'.bytes + [13, 10]
HEADER_NAME_CHARS = ('A'..'Z').map(&:ord) + ('a'..'z').map(&:ord) +
                    "-_ !#$%&'*+.^`|~0123456789:()<>@,;\\\"/[]?={}\t".bytes + [0, 0x7f, 0x80, 0xe9]
URL_CHARS = "/?#@[]:*.-_~!$&'()+,;=%abcXYZ019 \t\x0c<>\"{}|\\^`".bytes + [0x80, 0xc3, 0xff, 0x7f, 0x00, 0x01, 13, 10]
VALUE_CHARS = (0x20..0x7e).to_a + [9, 0, 1, 0x0b, 0x0c, 0x1f, 0x7f, 0x80, 0xc3, 0xff, 13, 10]

def header_line
  name = pick([
    'Content-Length', 'content-length', 'Content-Lengthx', 'Content-Lengt', 'Transfer-Encoding',
    'transfer-encoding', 'Transfer-Encodingx', 'Transfer-Encodin', 'Connection', 'Connection ', 'Connectio',
    'Proxy-Connection', 'Proxy-Connection  ', 'Upgrade', 'Upgrade ', 'Upgradex', 'upgrade', 'X-Other', 'Con',
    'C', 'Co', 'Cont', 'P', 'T', 'U'
  ])
  value = case name.downcase.strip
          when 'content-length'
            pick(['0', '12', ' 5', '5 ', '5 6', '', 'x', '1x', '18446744073709551615', '1844674407370955161',
                  '1844674407370955162', '99999999999999999999', ' ', '  7  ', "1\r\n 2", "1\r\n  "])
          when 'transfer-encoding'
            pick(['chunked', 'Chunked', 'gzip', 'gzip, chunked', 'chunked, gzip', ' chunked ', 'chunkedx', 'chunk',
                  'gzip,chunked', "gzip,\tchunked", 'gzip, , chunked', 'identity', '', "gzip\r\n chunked", 'c', ',chunked'])
          when 'connection', 'proxy-connection'
            pick(['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'close', 'Keep-Alive', 'upgradex', 'upgrade, x',
                  'x, upgrade', "x,\tupgrade", 'up', '', 'upgrade ', ' , upgrade', "upgrade\r\n foo", 'u,pgrade'])
          when 'upgrade' then pick(['websocket', '', ' ', 'x'])
          else random_bytes(RNG.rand(0..6), VALUE_CHARS)
          end
  "#{name}:#{pick(['', ' ', '  ', "\t"])}#{value}\r\n"
end

def at_line_start(c)
  starts = [0] + (0...c.bytes.bytesize).select { |i| c.bytes.getbyte(i) == 10 }.map { |i| i + 1 }
  pick(starts)
end

out = []
emit = lambda do |c, split: :maybe|
  input = c.bytes
  split = chance(0.2) && input.bytesize > 1 ? RNG.rand(1...input.bytesize) : nil if split == :maybe
  answer = oracle(input, split)
  code = case answer[0]
         when :error then "E#{answer[1]}"
         when :complete then "C#{answer[1]}"
         else 'I'
         end
  out << "#{c.description} #{split || '-'} #{code}"
end

# Every base unchanged, and every prefix of each.
BASES.each_index do |i|
  emit.call(Case.new(i), split: nil)
  (0...BASES[i].bytesize).each { |len| emit.call(Case.new(i).truncate(len), split: nil) }
end
times(6000) { emit.call(base_case.tap { |c| c.replace(RNG.rand(c.bytes.bytesize), 1, [random_byte].pack('C')) }) }
times(4000) { emit.call(base_case.tap { |c| c.replace(RNG.rand(c.bytes.bytesize + 1), 0, [random_byte].pack('C')) }) }
times(3000) { emit.call(base_case.tap { |c| c.replace(RNG.rand(c.bytes.bytesize), 1, '') }) }
times(3000) do
  c = base_case
  RNG.rand(2..4).times { mutate(c) }
  emit.call(c)
end
times(1500) do
  c = mutate(base_case)
  emit.call(c.truncate(RNG.rand(c.bytes.bytesize + 1)))
end
times(1500) { emit.call(base_case.tap { |c| c.replace(0, c.bytes.index(' '.b) || 0, method_variant) }) }
times(800) do
  c = base_case
  emit.call(c.sub('HTTP/1.1', random_bytes(RNG.rand(0..10), VERSION_CHARS)))
end
times(1000) do
  c = base_case
  pos = at_line_start(c)
  name = random_bytes(RNG.rand(0..8), HEADER_NAME_CHARS)
  emit.call(c.replace(pos, 0, "#{name}#{pick([':', ': ', ''])}#{random_bytes(RNG.rand(0..4), VALUE_CHARS)}\r\n"))
end
times(1000) do
  c = base_case
  pos = c.bytes.index(': '.b, RNG.rand(c.bytes.bytesize)) || c.bytes.index(': '.b) || 0
  emit.call(c.replace(pos + 2, 0, random_bytes(RNG.rand(1..5), VALUE_CHARS)))
end
times(2000) do
  c = base_case
  RNG.rand(1..3).times { c.replace(at_line_start(c), 0, header_line) }
  emit.call(c)
end
times(1000) do
  c = base_case
  crlfs = (0...c.bytes.bytesize - 1).select { |i| c.bytes.byteslice(i, 2) == "\r\n" }
  lfs = (0...c.bytes.bytesize).select { |i| c.bytes.getbyte(i) == 10 }
  if !crlfs.empty? && chance(0.7)
    emit.call(c.replace(pick(crlfs), 2, pick(["\n", "\r", "\r\r\n", "\n\r", "\rX", "\r ", "\r\n ", "\r\n\t", "\n\n", "\r\n\r"])))
  elsif !lfs.empty?
    emit.call(c.replace(pick(lfs), 1, pick(["\r\n", "\r", "\n ", " \n", "\n\r"])))
  else
    emit.call(c)
  end
end
times(1000) do
  c = base_case
  first = c.bytes.index(' '.b) || 0
  second = c.bytes.index(' '.b, first + 1) || first
  url = pick([
    -> { random_bytes(RNG.rand(0..12), URL_CHARS) },
    -> { "/#{random_bytes(RNG.rand(0..8), URL_CHARS)}" },
    -> { "#{pick(%w[http ws HTTP h x1])}#{pick([':', '://', ':/', '//', ':///'])}#{random_bytes(RNG.rand(0..10), URL_CHARS)}" },
    -> { "#{pick(['*', '/', '/a?', '/a#', '/a?b#c'])}#{random_bytes(RNG.rand(0..4), URL_CHARS)}" }
  ]).call
  emit.call(c.replace(first + 1, second - first - 1, url))
end
times(1500) do
  raw = case RNG.rand(6)
        when 0 then random_bytes(RNG.rand(1..40))
        when 1 then "#{random_bytes(RNG.rand(1..30), (0x20..0x7e).to_a)}\r\n\r\n"
        when 2 then "\x16\x03\x01#{random_bytes(RNG.rand(0..20))}"
        when 3 then "#{pick(["\r\n", "\n", "\r", "\r\n\r\n", "\n\n\n", ''])}#{method_variant} / HTTP/1.1\r\n\r\n"
        when 4 then "HT#{random_bytes(RNG.rand(0..6), VERSION_CHARS)} #{random_bytes(RNG.rand(0..5), ' 0123456789xX'.bytes)}" \
                    "#{random_bytes(RNG.rand(0..6), VALUE_CHARS)}\r\n#{chance(0.5) ? header_line : ''}\r\n"
        else "#{pick(['<policy-file-request/>', 'H', 'HE', 'HT', 'HTTP', 'SOURCE / ICE/1.0', 'CONNECT a:1', 'M-'])}" \
             "#{random_bytes(RNG.rand(0..12))}\r\n\r\n"
        end
  emit.call(Case.new(raw: raw.b))
end
# Picked by hand, for states the random cases seldom reach.
[
  "CONNECT h:1 HTTP/1.1\r\n\r\n", "CONNECT /x HTTP/1.1\r\n\r\n", "CONNECT a@b HTTP/1.1\r\n\r\n",
  "CONNECT a@@b HTTP/1.1\r\n\r\n", "CONNECT [::1]:80 HTTP/1.1\r\n\r\n", "CONNECT a?b HTTP/1.1\r\n\r\n",
  "CONNECT a#b HTTP/1.1\r\n\r\n", "CONNECT  h:1 HTTP/1.1\r\n\r\n", "CONNECT h:1\r\n\r\n",
  "CONNECT h:1 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "CONNEC h:1 HTTP/1.1\r\n\r\n",
  "SOURCE / ICE/1.0\r\n\r\n", "SOURCE / IXY/1.0\r\n\r\n", "GET / ICE/1.0\r\n\r\n", "SOURC / ICE/1.0\r\n\r\n",
  "HEAD / HTTP/1.1\r\n\r\n", "HEX / HTTP/1.1\r\n\r\n", "HEADX / HTTP/1.1\r\n\r\n", "HEAD-/ HTTP/1.1\r\n\r\n",
  "HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 200\r\n\r\n", "HTTP/1.1 200\n\n",
  "HTTP/1.1  200 OK\r\n\r\n", "HTTP/1.1 999 OK\r\n\r\n", "HTTP/1.1 1000 OK\r\n\r\n", "HTTP/1.1 200 OK\rX\r\n\r\n",
  "HTTP/1.1 200 \x01\x7f\xff\r\n\r\n", "HTTP/11 200 OK\r\n\r\n", "HTXYZ1.1 200 OK\r\n\r\n", "HTTP/1.1\r\n\r\n",
  "HTTP/1.1 \r\n\r\n", "HTTP/1.1 2 0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n",
  "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: 1\r\n 2\r\n\r\n",
  "GET / HTTP/1.1\r\nContent-Length: 1\r\n \r\n\r\n", "GET / HTTP/1.1\r\nContent-Length:\r\n 3\r\n\r\n",
  "GET / HTTP/1.1\r\nContent-Length:  \r\n\r\n", "GET / HTTP/1.1\r\nContent-Length : 1\r\n\r\n",
  "GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", "GET / HTTP/1.1\r\ncontent-length: 01\r\n\r\n",
  "GET / HTTP/1.1\r\nContent-Length: 1844674407370955161\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: 18446744073709551606\r\n\r\n",
  "GET / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked \r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: chunked, x\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding: x,chunked\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x,\tchunked\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding: x, (chunked\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\n chunked\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding: x,\r\n chunked\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nUpgrade: a\r\nConnection: upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: close, upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: upgrade, close\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: upgrade\r\n x\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade:\r\nConnection: upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nProxy-Connection: upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade : a\r\nConnection  : upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: x,upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: x,\tupgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: upgrade \r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: upgradeX\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: UPGRADE\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: keep-alive,upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection:\r\n upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: ,upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: (,upgrade\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: upgrade\n\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\nUpgrade: a\r\nConnection: upgrade\r\n\rZ",
  "CONNECT h:1 HTTP/1.1\r\nTransfer-Encoding: x\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding: x\r\n\rZ",
  "GET /\rX\r\n\r\n", "GET /\n\n", "GET /\r\nHost: x\r\n\r\n", "GET\r\n\r\n", "GET \r\n\r\n", "GET  \r\n",
  "GET / HTTP/1.1 \r\n\r\n", "GET / HTTP/1.1\n\r\n", "GET / HTTP/1.1\r\n\n", "GET / HTTP/1.1\r\n \r\n\r\n",
  "GET / HTTP/1.1\r\n\tx: y\r\n\r\n", "GET / HTTP/1.1\r\n: y\r\n\r\n", "GET / HTTP/1.1\r\nX:\n\n",
  "GET / HTTP/1.1\r\nX:\r\r\n", "GET / HTTP/1.1\r\nX: \r\n \r\n\r\n", "GET / HTTP/1.1\r\nX: a\r\n\t\x01\r\n\r\n",
  "GET / HTTP/1.1\r\nX:\x01a\r\n\r\n", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", "GET / HTTP/1.1\r\nX: a\x00\r\n\r\n",
  "GET / HTTP/1.1\r\nUpgrade:\x01\r\n\r\n", "GET / HTTP/1.1\r\nConnection:\x01\r\n\r\n",
  "GET / HTTP/1.1\r\nContent-Length:\x01\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding:\x01\r\n\r\n",
  "GET / HTTP/1.1\r\nConnection: a\x01\r\n\r\n", "GET / HTTP/1.1\r\nTransfer-Encoding: c\x01\r\n\r\n",
  "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\x01\r\n\r\n", "GET / HTTP/1.1\r\nConnection: upgrade\x01\r\n\r\n",
  "GET http://a:b@c:d/e HTTP/1.1\r\n\r\n", "GET http://a/ HTTP/1.1\r\n\r\n", "GET http://a HTTP/1.1\r\n\r\n",
  "GET http://a?b HTTP/1.1\r\n\r\n", "GET http://a#b HTTP/1.1\r\n\r\n", "GET http://a b HTTP/1.1\r\n\r\n",
  "GET http:// HTTP/1.1\r\n\r\n", "GET http: HTTP/1.1\r\n\r\n", "GET http HTTP/1.1\r\n\r\n", "GET http://\r\n\r\n",
  "GET http://a\r\n\r\n", "GET h1:// HTTP/1.1\r\n\r\n", "GET http://a@@b HTTP/1.1\r\n\r\n", "GET http://@ HTTP/1.1\r\n\r\n",
  "GET /a?b?c#d#e?f HTTP/1.1\r\n\r\n", "GET /#? HTTP/1.1\r\n\r\n", "GET /?# HTTP/1.1\r\n\r\n", "GET ?a HTTP/1.1\r\n\r\n",
  "GET #a HTTP/1.1\r\n\r\n", "GET /\x7f HTTP/1.1\r\n\r\n", "GET /\x0c\t HTTP/1.1\r\n\r\n", "GET /\x0b HTTP/1.1\r\n\r\n",
  "GET /a#\x7f HTTP/1.1\r\n\r\n", "GET /a?\x00 HTTP/1.1\r\n\r\n", "GET /a#b\x01 HTTP/1.1\r\n\r\n",
  "M-SEARCH * HTTP/1.1\r\n\r\n", "MKCALENDAR / HTTP/1.1\r\n\r\n", "MKACTIVITY / HTTP/1.1\r\n\r\n",
  "PROPPATCH / HTTP/1.1\r\n\r\n", "UNSUBSCRIBE / HTTP/1.1\r\n\r\n", "UNLINK / HTTP/1.1\r\n\r\n", "PURGE / HTTP/1.1\r\n\r\n",
  "REBIND / HTTP/1.1\r\n\r\n", "CHECKOUT / HTTP/1.1\r\n\r\n", "GET\x00/ HTTP/1.1\r\n\r\n", "G\x00", "\x00",
  "\r\r\r\n\n GET / HTTP/1.1\r\n\r\n", "\n\nHTTP/1.1 200 OK\r\n\r\n", "\r\n\r\n\r\n", ""
].each { |raw| emit.call(Case.new(raw: raw.b), split: nil) }

# Heads put together from pieces of HTTP, to reach odd corners.
PIECES = ['GET', 'HEAD', 'H', 'HT', 'HTTP', 'SOURCE', 'CONNECT', 'M-SEARCH', 'get', ' ', '  ', '/', '*', '?', '#', '@',
          'http://', 'ws://h', 'a', 'HTTP/1.1', 'HTTP/1.0', 'ICE/1.0', '1', '.', "\r\n", "\r\n", "\n", "\r", ':', ': ',
          'Connection', 'Proxy-Connection', 'Upgrade', 'upgrade', 'Content-Length', 'Transfer-Encoding', 'chunked',
          'keep-alive', 'close', ',', ', ', '0', '5', '101', '200', "\t", 'x', "\x01", "\x80", "\x7f", "\r\n ", "\r\n\r\n"].map(&:b)
times(3000) do
  emit.call(Case.new(raw: Array.new(RNG.rand(1..25)) { pick(PIECES) }.join.b))
end
times(2000) do
  line = pick(["GET / HTTP/1.1\r\n", "HTTP/1.1 101 OK\r\n", "HTTP/1.1 200 OK\r\n", "CONNECT h:1 HTTP/1.1\r\n", "POST /\r\n"])
  headers = Array.new(RNG.rand(0..4)) { chance(0.7) ? header_line : "#{pick(PIECES)}#{pick(PIECES)}#{pick(PIECES)}\r\n" }
  emit.call(Case.new(raw: "#{line}#{headers.join}#{pick(["\r\n", "\n", "\rx", ''])}".b))
end

# The header size limit (80 KiB), in one read and in two: a long target, a
# long header value, a long header name, many spaces before a value.
max = 80 * 1024
[[0, '/chat', 'a'], [3, 'Host: ', 'a'], [0, "\r\nOrigin", 'X'], [0, 'Host:', ' ']].each do |base, after, byte|
  times(40) do
    c = Case.new(base)
    count = max - c.bytes.bytesize + RNG.rand(-40..40)
    count += max if chance(0.2)
    c.pad(c.bytes.index(after.b) + after.bytesize - (byte == 'X' ? 6 : 0), byte.ord, count)
    c.replace(RNG.rand(c.bytes.bytesize), 1, "\r") if chance(0.3)
    emit.call(c, split: chance(0.5) ? RNG.rand(1...c.bytes.bytesize) : nil)
  end
end

puts '# Generated by http_parser_heads.rb: inputs and what Http::Parser (http-parser 2.9.4) answers.'
BASES.each { |b| puts "#base #{enc(b)}" }
puts out
