# frozen_string_literal: true

module EventMachine
  module WebSocket
    # em-websocket's opcode tables. The framing itself is done in Rust; these
    # constants stay because test clients written for em-websocket build
    # frames from them.
    module Framing03
      # Frame type (Symbol) => opcode.
      FRAME_TYPES = {
        continuation: 0, close: 1, ping: 2, pong: 3, text: 4, binary: 5
      }.freeze
      # Opcode => frame type.
      FRAME_TYPES_INVERSE = FRAME_TYPES.invert.freeze
    end

    # Draft 04 frames as draft 03 does, with a FIN bit.
    module Framing04
      # Draft 03's frame types and opcodes.
      FRAME_TYPES = Framing03::FRAME_TYPES
      # Draft 03's opcodes and frame types.
      FRAME_TYPES_INVERSE = Framing03::FRAME_TYPES_INVERSE
    end

    # Drafts 05 and 06 (Handler05, Handler06): draft 03's opcodes.
    module Framing05
      # Draft 03's frame types and opcodes.
      FRAME_TYPES = Framing03::FRAME_TYPES
      # Draft 03's opcodes and frame types.
      FRAME_TYPES_INVERSE = Framing03::FRAME_TYPES_INVERSE
    end

    # Drafts 07 onwards and RFC 6455.
    module Framing07
      # Frame type (Symbol) => opcode.
      FRAME_TYPES = {
        continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10
      }.freeze
      # Opcode => frame type.
      FRAME_TYPES_INVERSE = FRAME_TYPES.invert.freeze
    end
  end
end
