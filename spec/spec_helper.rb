# frozen_string_literal: true

# Runs the suite against em-websocket-rs (default) or, with
# EMWS_IMPL=original, against the original em-websocket gem, so that every
# example can first be proven against the behaviour it copies.
module EMWSSpec
  IMPL = ENV['EMWS_IMPL'] == 'original' ? :original : :rs

  def self.original?
    IMPL == :original
  end

  ROOT = File.expand_path('..', __dir__)
end

require 'eventmachine'
if EMWSSpec.original?
  require 'em-websocket'
else
  $LOAD_PATH.unshift File.join(EMWSSpec::ROOT, 'lib')
  require 'em-websocket-rs'
end

require 'rspec'
require_relative 'support/frames'
require_relative 'support/handshake'
require_relative 'support/raw_client'
require_relative 'support/blocking_client'
require_relative 'support/em_helpers'

module EMWSSpec
  # Short names for the spec files, which all live inside module EMWSSpec
  F = Frames
  H = Handshake
  WS = EM::WebSocket
end

RSpec.configure do |config|
  config.disable_monkey_patching!
  config.expect_with(:rspec) { |e| e.syntax = :expect }
  config.mock_with(:rspec) { |m| m.syntax = :expect }
  config.order = :defined
  config.include EMWSSpec::Helpers

  # Examples tagged rs_only: "reason" cover what em-websocket-rs does on
  # purpose differently from (or beyond) em-websocket 0.5.1.
  # (EMWS_RUN_RS_ONLY=1 runs them anyway, to see them fail on the original.)
  if EMWSSpec.original? && ENV['EMWS_RUN_RS_ONLY'] != '1'
    config.define_derived_metadata(:rs_only) do |meta|
      meta[:skip] = "em-websocket-rs only: #{meta[:rs_only]}"
    end
  end

  # Examples tagged original_only: "reason" pin down behaviour of
  # em-websocket 0.5.1 that em-websocket-rs deliberately does not copy (a bug
  # that breaks clients); each has an rs_only counterpart next to it.
  # (EMWS_RUN_ORIGINAL_ONLY=1 runs them anyway, to see them fail on ours.)
  if !EMWSSpec.original? && ENV['EMWS_RUN_ORIGINAL_ONLY'] != '1'
    config.define_derived_metadata(:original_only) do |meta|
      meta[:skip] = "em-websocket 0.5.1 only: #{meta[:original_only]}"
    end
  end

  config.before(:suite) do
    warn "em-websocket implementation under test: #{EMWSSpec::IMPL}"
  end

  config.after do
    # Never leave a reactor behind for the next example
    EM.stop if EM.reactor_running?
  end
end
