# frozen_string_literal: true

# Loaded by the harness with `rspec --require` before the extracted suite, for
# every implementation alike.
require 'rspec'

RSpec.configure do |config|
  # The suite (written for rspec 3.5) uses the old `should` syntax; enabling
  # it explicitly only silences rspec's deprecation warnings.
  config.expect_with(:rspec) { |c| c.syntax = %i[should expect] }
  config.mock_with(:rspec) { |c| c.syntax = %i[should expect] }

  # The loaded files, for the harness to tell which server library ran.
  config.after(:suite) do
    path = ENV.fetch('EMWS_SUITE_FEATURES', nil)
    File.write(path, "#{$LOADED_FEATURES.grep(/em[-_]websocket/).join("\n")}\n") if path
  end
end
