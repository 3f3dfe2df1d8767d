# frozen_string_literal: true

namespace :doc do
  desc "Rewrite the README's table of options from the options the native server declares"
  task options: :compile do
    $LOAD_PATH.unshift File.expand_path('../lib', __dir__)
    require 'em-websocket-rs'
    require_relative 'support/options_table'
    EmWebSocketRs::OptionsTable.write
    puts 'README.md: options table written'
  end
end
