# frozen_string_literal: true

# The platform gems for other machines, built in rb-sys's cross-compiling
# images (rbsys/x86_64-linux, rbsys/arm64-darwin, ...) by
# .github/workflows/release.yml through oxidize-rb/actions/cross-gem, which
# runs `rb-sys-dock --platform P --ruby-versions 3.1,3.2,3.3,3.4 --build`.
# In the container that is `rake native:$RUBY_TARGET gem`, with
# RUBY_CC_VERSION naming the cross Rubies, and this file defines those tasks:
# rake-compiler, through rb_sys's ExtensionTask, runs
# ext/em-websocket-rs/extconf.rb once per Ruby with that Ruby's RbConfig.
# The container has the rb_sys gem, so extconf.rb writes rb_sys's Makefile,
# which gives cargo the target (--target, linker, macOS link flags). With
# more than one Ruby in RUBY_CC_VERSION (the release builds four) the
# builds land in lib/em-websocket-rs/X.Y/, where
# lib/em-websocket-rs/native_extension.rb looks (with one, rake-compiler
# puts it in place, which the loader takes too), and the gem is
# pkg/em-websocket-rs-VERSION-PLATFORM.gem.
#
# Anywhere else this file defines nothing: rake compile and rake native_gem
# (tasks/native_gem.rake) build for this machine without rake-compiler.

require_relative 'native_gem/package'

if NativeGem.cross_container?
  require 'rb_sys/extensiontask'

  # rake-compiler's compile task replaces ours (Rakefile), which runs
  # extconf.rb for the container's own Ruby.
  Rake::Task[:compile].clear if Rake::Task.task_defined?(:compile)

  # Debug information (the release profile keeps line tables) is most of an
  # ELF build's size; cargo leaves it out of the Linux builds. macOS builds
  # keep it: rustc would strip them with the host's `strip`, which in these
  # Linux containers does not read Mach-O.
  ENV['CARGO_PROFILE_RELEASE_STRIP'] ||= 'debuginfo' if ENV['RUBY_TARGET'].include?('linux')

  RbSys::ExtensionTask.new('em-websocket-rs', NativeGem.source_spec) do |ext|
    ext.lib_dir = File.join('lib', NativeGem::EXTENSION_DIR)
    # Only the cross builds of RUBY_CC_VERSION. The container's own Ruby
    # would otherwise get native tasks too, whose gem for x86_64-linux has
    # the same name as the cross one and would be merged into it.
    ext.no_native = true
    # Only what runs: no Rust workspace, bench crate or test data, the same
    # files rake native_gem ships.
    ext.cross_compiling do |spec|
      spec.files = NativeGem.runtime_files(spec.files)
    end
  end
end
