# frozen_string_literal: true

# Preload (`ruby -r./tasks/use_original.rb app.rb`) that makes
# `require 'em-websocket-rs'` load the original em-websocket gem instead, so
# that the same application runs on both for side-by-side measurements.
require 'em-websocket'

%w[em-websocket-rs em-websocket-rs.rb].each { |feature| $LOADED_FEATURES << feature }
