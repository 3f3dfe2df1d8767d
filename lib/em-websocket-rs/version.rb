# frozen_string_literal: true

module EmWebSocketRs
  VERSION = "0.1.0"
end
