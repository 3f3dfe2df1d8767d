# frozen_string_literal: true

# Preload that runs an em-websocket-rs application on the original
# em-websocket gem instead:
#
#   ruby -r./bench/use_original.rb examples/echo.rb 8080
#
# It loads the original gem, then marks em-websocket-rs as already loaded so
# that the application's own `require 'em-websocket-rs'` does nothing.

require 'em-websocket'

%w[em-websocket-rs.rb em-websocket-rs.so].each do |feature|
  $LOADED_FEATURES << feature unless $LOADED_FEATURES.include?(feature)
end
