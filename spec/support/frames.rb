# frozen_string_literal: true

require 'securerandom'

module EMWSSpec
  # A minimal RFC 6455 frame codec for the client side of the tests.
  # Client frames are masked by default; server frames are decoded whether
  # masked or not (and the decoder records which they were).
  module Frames
    OPCODES = {
      continuation: 0x0, text: 0x1, binary: 0x2,
      close: 0x8, ping: 0x9, pong: 0xA
    }.freeze
    OPCODE_NAMES = OPCODES.invert.freeze

    # How a decoded frame's payload reads, whatever the draft (the legacy
    # drafts' frames include it too).
    module Payload
      def text
        payload.dup.force_encoding(Encoding::UTF_8)
      end

      # The code of a close frame (nil when the body is empty)
      def close_code
        payload.bytesize >= 2 ? payload.unpack1('n') : nil
      end

      def close_reason
        payload.bytesize > 2 ? payload.byteslice(2..).force_encoding(Encoding::UTF_8) : ''
      end
    end

    Frame = Struct.new(:fin, :rsv, :opcode, :masked, :payload) do
      include Payload

      def type
        OPCODE_NAMES[opcode] || :"unknown_#{opcode}"
      end
    end

    module_function

    def opcode_for(type)
      type.is_a?(Integer) ? type : OPCODES.fetch(type)
    end

    # Encode one frame. +mask+: true (random key), false, or a 4 byte key.
    # +length_override+ lets a test lie about the payload length.
    def encode(type, payload = '', fin: true, mask: true, rsv: 0, length_override: nil)
      payload = payload.b
      out = String.new(encoding: Encoding::BINARY)
      out << (((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | opcode_for(type)) & 0xFF).chr
      len = length_override || payload.bytesize
      mask_bit = mask ? 0x80 : 0
      if len <= 125
        out << (mask_bit | len).chr
      elsif len < 65_536
        out << (mask_bit | 126).chr << [len].pack('n')
      else
        out << (mask_bit | 127).chr << [len].pack('Q>')
      end
      if mask
        key = mask.is_a?(String) ? mask.b : SecureRandom.random_bytes(4)
        out << key << apply_mask(payload, key)
      else
        out << payload
      end
      out
    end

    def close_payload(code = nil, reason = '')
      return ''.b unless code

      [code].pack('n') + reason.to_s.b
    end

    def apply_mask(payload, key)
      return payload.b if payload.empty?

      keys = key.bytes
      bytes = payload.bytes
      bytes.each_index { |i| bytes[i] ^= keys[i & 3] }
      bytes.pack('C*')
    end

    # Decode one frame from the start of +buf+ (a binary String).
    # Returns [Frame, bytes_consumed] or nil when the frame is incomplete.
    def decode(buf)
      return nil if buf.bytesize < 2

      b0 = buf.getbyte(0)
      b1 = buf.getbyte(1)
      masked = (b1 & 0x80) != 0
      len = b1 & 0x7F
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
      key = nil
      if masked
        return nil if buf.bytesize < pos + 4

        key = buf.byteslice(pos, 4)
        pos += 4
      end
      return nil if buf.bytesize < pos + len

      payload = buf.byteslice(pos, len)
      payload = apply_mask(payload, key) if masked
      frame = Frame.new((b0 & 0x80) != 0, (b0 >> 4) & 0x7, b0 & 0x0F, masked, payload.b)
      [frame, pos + len]
    end

    # Decode every complete frame in +buf+; returns [frames, rest].
    def decode_all(buf)
      frames = []
      rest = buf.b
      while (res = decode(rest))
        frames << res[0]
        rest = rest.byteslice(res[1]..)
      end
      [frames, rest]
    end
  end
end
