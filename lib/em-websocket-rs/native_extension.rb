# frozen_string_literal: true

require 'rbconfig'
require 'em-websocket-rs/version'

module EmWebSocketRs
  # Finds and loads the compiled extension (em_websocket_rs.so, .bundle on
  # macOS).
  #
  # A compiled extension works with the one Ruby minor it was built against,
  # so a platform gem (x86_64-linux, arm64-darwin, ...) carries one build per
  # minor: lib/em-websocket-rs/3.1/em_websocket_rs.so, .../3.2/... The source
  # gem (built by cargo at install) and a development checkout (`rake
  # compile`) have the one build in place: lib/em-websocket-rs/em_websocket_rs.so.
  #
  # Loading another minor's build could crash the process, so on a Ruby the
  # platform gem holds no build for this raises a LoadError that says which
  # Rubies it has and how to get the source gem instead.
  #
  # @api private
  module NativeExtension
    # lib/em-websocket-rs, where the builds are.
    DIR = __dir__
    # This Ruby's minor version, the name of its build's directory.
    RUBY_MINOR = RUBY_VERSION[/\d+\.\d+/]

    module_function

    # The Ruby minors this gem holds builds for, oldest first; empty in the
    # source gem and in a checkout.
    #
    # @return [Array<String>] e.g. ["3.1", "3.2"]
    def built_minors
      Dir.children(DIR)
         .select { |name| name.match?(/\A\d+\.\d+\z/) && File.directory?(File.join(DIR, name)) }
         .sort_by { |minor| minor.split('.').map(&:to_i) }
    end

    # Whether a build sits in place: `rake compile`'s in a checkout, the
    # source gem's install's copy in an installed gem. A platform gem has none.
    #
    # @return [Boolean]
    def built_in_place?
      File.exist?(File.join(DIR, "em_websocket_rs.#{RbConfig::CONFIG['DLEXT']}"))
    end

    # Requires this Ruby's build, by its full path (so that another
    # em-websocket-rs on the load path cannot supply it):
    #
    # 1. the build in place, when there is one. In an installed gem it is
    #    never beside per-minor builds; in a checkout it is what `rake
    #    compile` just made, and must win over per-minor directories a cross
    #    build (rake native:PLATFORM) left there;
    # 2. else em-websocket-rs/X.Y/em_websocket_rs for this Ruby's minor
    #    (a platform gem);
    # 3. else, with no per-minor builds at all, em-websocket-rs/em_websocket_rs
    #    from the load path (a source gem's extension directory).
    #
    # @return [Boolean] true when it was loaded now
    # @raise [LoadError] when this gem holds builds for other Rubies only
    def require_build
      minors = built_minors
      if built_in_place?
        require File.join(DIR, 'em_websocket_rs')
      elsif minors.include?(RUBY_MINOR)
        require File.join(DIR, RUBY_MINOR, 'em_websocket_rs')
      elsif minors.empty?
        require 'em-websocket-rs/em_websocket_rs'
      else
        raise LoadError, wrong_ruby_message(minors)
      end
    end

    # @param minors [Array<String>] the Rubies this gem holds builds for
    # @return [String] the LoadError's message: those Rubies, this one, and
    #   how to install the source gem
    def wrong_ruby_message(minors)
      "em-websocket-rs #{VERSION} at #{File.expand_path('../..', DIR)} holds compiled builds " \
        "for Ruby #{minors.join(', ')} only, and this is Ruby #{RUBY_VERSION}. Install the source gem, " \
        'which compiles the extension with Rust (cargo) for this Ruby: ' \
        'gem install em-websocket-rs --platform ruby (with Bundler: ' \
        'bundle config set force_ruby_platform true)'
    end
  end
end

EmWebSocketRs::NativeExtension.require_build
