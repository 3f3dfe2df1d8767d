# frozen_string_literal: true

# Loaded by the harness with `rspec --require` before the extracted suite, for
# both implementations alike. The suite (written for rspec 3.5) uses the
# old `should` syntax; enabling it explicitly only silences rspec's
# deprecation warnings, it changes no expectation.
require 'rspec'

RSpec.configure do |config|
  config.expect_with(:rspec) { |c| c.syntax = %i[should expect] }
  config.mock_with(:rspec) { |c| c.syntax = %i[should expect] }
end
