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

  # EMWS_GEM_INSTALLED=1 (rake native_gem:verify): the suite runs against the
  # em-websocket-rs gem installed in GEM_HOME, the platform gem's compiled
  # extension included, instead of this checkout's lib/.
  GEM_INSTALLED = ENV['EMWS_GEM_INSTALLED'] == '1' && !original?

  # The lib/ directory under test; the Ruby processes the examples start get
  # it with -I.
  LIB =
    if GEM_INSTALLED
      home = File.expand_path(ENV.fetch('GEM_HOME') { abort 'EMWS_GEM_INSTALLED=1 needs GEM_HOME' })
      gem 'em-websocket-rs'
      installed = Gem.loaded_specs.fetch('em-websocket-rs').full_gem_path
      abort "EMWS_GEM_INSTALLED=1: em-websocket-rs comes from #{installed}, not from GEM_HOME #{home}" \
        unless installed.start_with?("#{home}/")
      File.join(installed, 'lib')
    else
      File.join(ROOT, 'lib')
    end
end

require 'eventmachine'
if EMWSSpec.original?
  require 'em-websocket'
else
  if EMWSSpec::GEM_INSTALLED
    # rspec puts ./lib on the load path by itself; it must not supply the gem.
    checkout_lib = File.join(EMWSSpec::ROOT, 'lib')
    $LOAD_PATH.reject! { |dir| File.expand_path(dir) == checkout_lib }
  else
    $LOAD_PATH.unshift EMWSSpec::LIB
  end
  require 'em-websocket-rs'
  extension = $LOADED_FEATURES.grep(%r{/em_websocket_rs\.[^/]+\z}).first
  abort "em-websocket-rs's extension came from #{extension}, not from #{EMWSSpec::LIB}" \
    unless extension&.start_with?("#{EMWSSpec::LIB}/")
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
    warn "em-websocket implementation under test: #{EMWSSpec::IMPL}" \
         "#{" (the gem installed in #{ENV['GEM_HOME']})" if EMWSSpec::GEM_INSTALLED}"
  end

  config.after do
    # Never leave a reactor behind for the next example
    EM.stop if EM.reactor_running?
  end
end
