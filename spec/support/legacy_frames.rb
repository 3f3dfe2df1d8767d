# frozen_string_literal: true

require 'digest/md5'
require 'securerandom'
require_relative 'frames'
require_relative 'raw_client'

module EMWSSpec
  # Client-side codecs and requests for the protocols before RFC 6455, as
  # em-websocket 0.5.x speaks them:
  #
  # - hixie 75/76: "\x00 text \xFF" frames, "\xFF\x00" closing handshake and
  #   length-prefixed frames (type byte with the high bit set, then a 7-bit
  #   group length);
  # - draft 03 (and 01, 02): unmasked frames, byte 0 = MORE bit | opcode, with
  #   the draft 03 opcode table;
  # - drafts 05 and 06: byte 0 = FIN bit | opcode (same opcode table); a client
  #   frame is a 4 byte masking key followed by the WHOLE frame (header and
  #   payload) XORed with it (em-websocket's Framing05 / MaskedString);
  # - drafts 07, 08, 13: RFC 6455 framing (use Frames).
  module Legacy
    OPCODES03 = { continuation: 0, close: 1, ping: 2, pong: 3, text: 4, binary: 5 }.freeze
    OPCODE03_NAMES = OPCODES03.invert.freeze

    # A decoded hybi (03/05/06) frame. +final+ is "not MORE" for draft 03 and
    # the FIN bit for 05/06.
    Frame = Struct.new(:final, :opcode, :payload, :first_byte) do
      include Frames::Payload

      def type
        OPCODE03_NAMES[opcode] || :"unknown_#{opcode}"
      end
    end

    # Sample keys of draft-hixie-thewebsocketprotocol-76 section 1.3
    KEY1 = '4 @1  46546xW%0l 1 5'
    KEY2 = '12998 5 Y3 1  .P00'
    KEY3 = '^n:ds[4U'.b
    ANSWER = "8jKS'y:G*Co,Wxa-".b

    module_function

    # The framing a version uses: :hixie, :d03, :d05 (05 and 06) or :rfc
    def framing_for(version)
      case version
      when 75, 76 then :hixie
      when 1..3 then :d03
      when 5, 6 then :d05
      else :rfc
      end
    end

    # Whether the server's answer carries the 16 byte MD5 challenge answer
    def challenge?(version)
      version == 76 || (1..3).cover?(version)
    end

    # ---- requests ----

    # A hixie draft 75 request
    def draft75_request(host:, path: '/', origin: 'http://example.com', protocol: nil, extra: [])
      Handshake.format_request(path: path, headers: [
        %w[Upgrade WebSocket], %w[Connection Upgrade], ['Host', host], ['Origin', origin],
        ['WebSocket-Protocol', protocol]
      ] + extra.to_a)
    end

    # A hixie draft 76 request (or drafts 01-03 with +draft+), third key
    # included unless +key3+ is nil
    def draft76_request(host:, path: '/', origin: 'http://example.com', protocol: nil, draft: nil,
                        key1: KEY1, key2: KEY2, key3: KEY3, extra: [])
      head = Handshake.format_request(path: path, headers: [
        ['Host', host], %w[Connection Upgrade], ['Sec-WebSocket-Key2', key2],
        ['Sec-WebSocket-Protocol', protocol], %w[Upgrade WebSocket], ['Sec-WebSocket-Draft', draft],
        ['Sec-WebSocket-Key1', key1], ['Origin', origin]
      ] + extra.to_a)
      key3 ? head + key3.b : head
    end

    # A request with Sec-WebSocket-Version (drafts 04 onwards)
    def hybi_request(host:, version:, path: '/', key: Handshake::SAMPLE_KEY, origin: nil, extra: [])
      Handshake.rfc6455_request(host: host, path: path, key: key, version: version, origin: origin,
                                extra: extra)
    end

    # The draft 76 challenge answer for keys 1 and 2 and the 8 byte key 3
    def challenge(key1, key2, key3)
      parts = [key1, key2].map do |k|
        k.scan(/[0-9]/).join.to_i / k.count(' ')
      end
      Digest::MD5.digest(parts.pack('NN') + key3.b)
    end

    # ---- hixie 75/76 ----

    def hixie_text(str)
      "\x00".b + str.b + "\xFF".b
    end

    HIXIE_CLOSE = "\xFF\x00".b

    # A length-prefixed frame: +type+ (0x80-0xFF), then the length as 7-bit
    # groups, most significant first, all but the last with the high bit set
    def hixie_length_frame(payload, type: 0x80, length: nil)
      len = length || payload.bytesize
      groups = []
      loop do
        groups.unshift(len & 0x7F)
        len >>= 7
        break if len.zero?
      end
      bytes = groups.each_with_index.map { |g, i| i == groups.size - 1 ? g : (g | 0x80) }
      type.chr.b + bytes.pack('C*') + payload.b
    end

    # Splits a hixie stream into [[:text, String] | [:close], ...] and the rest
    def decode_hixie(buf)
      out = []
      rest = buf.b
      loop do
        if rest.start_with?(HIXIE_CLOSE)
          out << [:close]
          rest = rest.byteslice(2..)
        elsif rest.start_with?("\x00".b) && (idx = rest.index("\xFF".b))
          out << [:text, rest.byteslice(1, idx - 1).force_encoding(Encoding::UTF_8)]
          rest = rest.byteslice((idx + 1)..)
        else
          break
        end
      end
      [out, rest]
    end

    # ---- hybi drafts 03, 05, 06 ----

    def opcode03(type)
      type.is_a?(Integer) ? type : OPCODES03.fetch(type)
    end

    def length_bytes(len)
      if len <= 125
        len.chr.b
      elsif len < 65_536
        126.chr.b + [len].pack('n')
      else
        127.chr.b + [len].pack('Q>')
      end
    end

    # A draft 01-03 client frame (never masked). +more+ sets the MORE bit.
    def encode03(type, payload = ''.b, more: false, length: nil)
      payload = payload.b
      ((more ? 0x80 : 0) | opcode03(type)).chr.b + length_bytes(length || payload.bytesize) + payload
    end

    # The frame of a draft 05/06 client, before masking. +fin+ sets the FIN bit.
    def plain05(type, payload = ''.b, fin: true, length: nil)
      payload = payload.b
      ((fin ? 0x80 : 0) | opcode03(type)).chr.b + length_bytes(length || payload.bytesize) + payload
    end

    # A draft 05/06 client frame: masking key, then the whole frame masked
    def encode05(type, payload = ''.b, fin: true, key: nil, length: nil)
      key = (key || SecureRandom.random_bytes(4)).b
      key + Frames.apply_mask(plain05(type, payload, fin: fin, length: length), key)
    end

    # Decodes one server frame (never masked) of draft 03 (+more_bit+: bit 7
    # is MORE) or 05/06 (bit 7 is FIN); [Frame, consumed] or nil
    def decode_hybi(buf, more_bit:)
      return nil if buf.bytesize < 2

      b0 = buf.getbyte(0)
      len = buf.getbyte(1) & 0x7F
      pos = 2
      if len == 126
        return nil if buf.bytesize < 4

        len = buf.byteslice(2, 2).unpack1('n')
        pos = 4
      elsif len == 127
        return nil if buf.bytesize < 10

        len = buf.byteslice(2, 8).unpack1('Q>')
        pos = 10
      end
      return nil if buf.bytesize < pos + len

      bit = (b0 & 0x80) != 0
      final = more_bit ? !bit : bit
      [Frame.new(final, b0 & 0x0F, buf.byteslice(pos, len).b, b0), pos + len]
    end
  end

  # An EventMachine client for one of em-websocket's protocol versions: 75,
  # 76, 1-3, 5, 6 (and 7, 8, 13 with RFC 6455 framing). It sends +request+,
  # splits off the HTTP response (and the 16 byte challenge answer of 76 and
  # 01-03), then decodes what follows with the version's framing:
  # +frames+ holds Legacy::Frame (03/05/06), Frames::Frame (07+), or
  # [:text, String] / [:close] pairs (75/76).
  #
  # By default it acknowledges a close frame from the server as a client of
  # that draft would (03/05: echoes the body; 06+: echoes the code), and
  # answers pings with pongs; +echo_close: false+ / +answer_pings: false+
  # turn that off.
  class LegacyClient < EM::Connection
    attr_reader :version, :data, :frames, :response, :challenge_answer

    def initialize(opts = {})
      super()
      @version = opts.fetch(:version)
      @framing = Legacy.framing_for(@version)
      @request = opts[:request]
      @echo_close = opts.fetch(:echo_close, true)
      @answer_pings = opts.fetch(:answer_pings, true)
      @data = String.new(encoding: Encoding::BINARY)
      @buf = String.new(encoding: Encoding::BINARY)
      @frames = []
      @response = nil
      @challenge_answer = nil
      @closed = false
      @sent_close = false
      @on_open = @on_frame = @on_close = @on_data = nil
    end

    include ClientCallbacks

    def connection_completed
      send_data(@request) if @request
    end

    def receive_data(chunk)
      @data << chunk.b
      @on_data&.call(chunk.b)
      @buf << chunk.b
      unless @response
        parsed = Handshake.parse_response(@buf)
        return unless parsed
        return if Legacy.challenge?(@version) && parsed[1].bytesize < 16

        @response, @buf = parsed
        if Legacy.challenge?(@version)
          @challenge_answer = @buf.byteslice(0, 16)
          @buf = @buf.byteslice(16..)
        end
        @on_open&.call(@response)
      end
      drain
    end

    def unbind
      @closed = true
      @on_close&.call
    end

    def closed?
      @closed
    end

    # Bytes after the response headers (and the challenge answer)
    def body
      return ''.b unless @response

      b = @data.byteslice(@data.index("\r\n\r\n") + 4..)
      Legacy.challenge?(@version) ? b.byteslice(16..) : b
    end

    def frames_of(type)
      @frames.select { |f| frame_type(f) == type }
    end

    def types
      @frames.map { |f| frame_type(f) }
    end

    def frame_type(f)
      f.is_a?(Array) ? f.first : f.type
    end

    def close_frame
      frames_of(:close).first
    end

    def texts
      @frames.select { |f| frame_type(f) == :text }.map { |f| f.is_a?(Array) ? f[1] : f.text }
    end

    # Sends one frame with the version's framing (hixie: text only).
    # Options: more:/fin:/key:/length: as the draft's encoder takes them.
    def send_frame(type, payload = ''.b, **opts)
      @sent_close = true if type == :close
      send_data(encode(type, payload, **opts))
    end

    def encode(type, payload = ''.b, **opts)
      case @framing
      when :hixie
        raise ArgumentError, 'hixie framing: text and close only' unless %i[text close].include?(type)

        type == :text ? Legacy.hixie_text(payload) : Legacy::HIXIE_CLOSE
      when :d03 then Legacy.encode03(type, payload, **opts)
      when :d05 then Legacy.encode05(type, payload, **opts)
      else Frames.encode(type, payload, **opts)
      end
    end

    def send_text(str, **opts)
      send_frame(:text, str, **opts)
    end

    def send_binary(str, **opts)
      send_frame(:binary, str, **opts)
    end

    def send_ping(body = ''.b, **opts)
      send_frame(:ping, body, **opts)
    end

    def send_pong(body = ''.b, **opts)
      send_frame(:pong, body, **opts)
    end

    # A close frame: +code+ and +reason+ for 06 and later, or a raw +body+
    def send_close(code = nil, reason = '', body: nil, **opts)
      body ||= Frames.close_payload(code, reason)
      send_frame(:close, body, **opts)
    end

    private

    def drain
      case @framing
      when :hixie
        frames, @buf = Legacy.decode_hixie(@buf)
      when :rfc
        frames, @buf = Frames.decode_all(@buf)
      else
        frames = []
        while (res = Legacy.decode_hybi(@buf, more_bit: @framing == :d03))
          frames << res[0]
          @buf = @buf.byteslice(res[1]..)
        end
      end
      frames.each do |f|
        @frames << f
        react(f)
        @on_frame&.call(f)
      end
    end

    def react(frame)
      return if @framing == :hixie

      case frame.type
      when :close
        return unless @echo_close && !@sent_close

        if @version >= 6
          send_close(frame.close_code)
        else
          send_close(body: frame.payload)
        end
      when :ping
        send_frame(:pong, frame.payload) if @answer_pings
      end
    end
  end

  module Helpers
    # A LegacyClient connected to the server, speaking +version+; +request+
    # defaults to that version's handshake (see legacy_request).
    def connect_legacy(version, request: nil, echo_close: true, answer_pings: true, **req_opts)
      request ||= legacy_request(version, **req_opts)
      EM.connect(HOST, port, LegacyClient,
                 { version: version, request: request, echo_close: echo_close, answer_pings: answer_pings })
    end

    # The opening handshake of +version+ (75, 76, 1-3, or a
    # Sec-WebSocket-Version) with Host 127.0.0.1:port
    def legacy_request(version, **opts)
      host = "#{HOST}:#{port}"
      case version
      when 75 then Legacy.draft75_request(host: host, **opts)
      when 76 then Legacy.draft76_request(host: host, **opts)
      when 1..3 then Legacy.draft76_request(host: host, draft: version, **opts)
      else Legacy.hybi_request(host: host, version: version, **opts)
      end
    end
  end
end

module EMWSSpec
  L = Legacy

  module Helpers
    # Registers every callback on +ws+, appending to +log+:
    # [:open, protocol_version], [:message, String], [:binary, String],
    # [:ping, String], [:pong, String], [:error, Class, message],
    # [:close, event Hash, state]. +stop+ ends em_run shortly after onclose.
    def record_all(ws, log, stop: true)
      ws.onopen { |hs| log << [:open, hs.protocol_version] }
      ws.onmessage { |m| log << [:message, m] }
      ws.onbinary { |m| log << [:binary, m] }
      ws.onping { |m| log << [:ping, m] }
      ws.onpong { |m| log << [:pong, m] }
      ws.onerror { |e| log << [:error, e.class, e.message] }
      ws.onclose do |ev|
        log << [:close, ev, ws.state]
        done_later(0.05) if stop
      end
    end
  end
end
