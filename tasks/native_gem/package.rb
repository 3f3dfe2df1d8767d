# frozen_string_literal: true

require 'fileutils'
require 'rbconfig'
require 'rubygems/package'

# Builds the two kinds of gem, for rake gem and rake native_gem:
#
# - the source gem (em-websocket-rs-VERSION.gem): the Rust workspace and
#   ext/em-websocket-rs/extconf.rb, so that `gem install` compiles the
#   extension with cargo. Every machine with Rust can use it.
# - a platform gem (em-websocket-rs-VERSION-x86_64-linux.gem): lib/ with the
#   compiled extension under a directory per Ruby minor
#   (lib/em-websocket-rs/3.1/em_websocket_rs.so, the layout rake-compiler's
#   cross builds use too), no `extensions`, and a required_ruby_version that
#   admits only those minors, so RubyGems and Bundler pick it only for a Ruby
#   it holds a build for and take the source gem otherwise.
#
# Both are built from em-websocket-rs.gemspec, in-process with
# Gem::Package.build; the platform gem from a staging tree under tmp/.
module NativeGem
  ROOT = File.expand_path('../..', __dir__)
  GEMSPEC = File.join(ROOT, 'em-websocket-rs.gemspec')
  PKG_DIR = File.join(ROOT, 'pkg')
  STAGE_ROOT = File.join(ROOT, 'tmp', 'native_gem')
  # Where the per-minor builds go, below lib/.
  EXTENSION_DIR = 'em-websocket-rs'
  EXTENSION_NAME = 'em_websocket_rs'

  module_function

  # The gemspec as the source gem has it. Loaded afresh each time (not
  # through Gem::Specification.load's cache), since callers change it.
  def source_spec
    Dir.chdir(ROOT) { Gem::Specification.load(GEMSPEC).dup }
  end

  # Inside rb-sys's cross-compiling container (rb-sys-dock sets both):
  # rake-compiler, driven by tasks/cross_gem.rake, builds the platform gem
  # there, and owns the `compile` and `gem` tasks.
  def cross_container?
    ENV.key?('RUBY_TARGET') && ENV.key?('RUBY_CC_VERSION')
  end

  # The platform of this machine's Ruby as RubyGems names platform gems:
  # x86_64-linux, arm64-darwin, x86_64-linux-musl. Debian's Ruby says
  # x86_64-linux-gnu, and gems for glibc Linux are named without the "gnu".
  def platform
    local = Gem::Platform.local
    return local unless local.os == 'linux' && local.version == 'gnu'

    Gem::Platform.new([local.cpu, local.os, nil])
  end

  # "3.1" for Ruby 3.1.x: the ABI an extension is built against.
  def ruby_minor(version = RUBY_VERSION)
    version[/\d+\.\d+/]
  end

  # [">= 3.1", "< 3.3.dev"] for ["3.1", "3.2"]: the oldest minor up to, but
  # not including, the minor after the newest (".dev" so that its previews
  # are excluded too), as rake-compiler writes it.
  def required_ruby_version(minors)
    sorted = minors.sort_by { |minor| minor.split('.').map(&:to_i) }
    major, minor = sorted.last.split('.').map(&:to_i)
    [">= #{sorted.first}", "< #{major}.#{minor + 1}.dev"]
  end

  # The files of the source gem a platform gem needs too: the Ruby code, the
  # examples and the documents, not the Rust workspace or extconf.rb.
  def runtime_files(files)
    files.reject do |path|
      path.start_with?('ext/', 'bench/') || File.basename(path).start_with?('Cargo.')
    end
  end

  # Where a build for `minor` sits in a platform gem, extension and all.
  def build_path(minor, dlext = RbConfig::CONFIG['DLEXT'])
    File.join('lib', EXTENSION_DIR, minor, "#{EXTENSION_NAME}.#{dlext}")
  end

  # Builds pkg/em-websocket-rs-VERSION.gem; returns its path.
  def build_source_gem
    package(source_spec, ROOT)
  end

  # Builds the platform gem for this machine from `libraries`, a Hash of
  # Ruby minor => compiled extension ({ "3.1" => "lib/em-websocket-rs/em_websocket_rs.so" }),
  # staged under tmp/native_gem/PLATFORM. Debug information is stripped from
  # the staged copies when `strip` is at hand (the symbols stay, for
  # backtraces); the originals are untouched. Returns the gem's path.
  def build_native_gem(libraries, strip: true)
    spec = source_spec
    spec.platform = platform
    spec.extensions = []
    spec.required_ruby_version = required_ruby_version(libraries.keys)
    stage = File.join(STAGE_ROOT, spec.platform.to_s, 'stage')
    FileUtils.rm_rf(stage)
    files = runtime_files(spec.files)
    files.each { |path| stage_file(File.join(ROOT, path), File.join(stage, path)) }
    libraries.each do |minor, library|
      path = build_path(minor)
      stage_file(library, File.join(stage, path))
      strip_debug_info(File.join(stage, path)) if strip
      files << path
    end
    spec.files = files
    package(spec, stage)
  end

  def stage_file(source, destination)
    FileUtils.mkdir_p(File.dirname(destination))
    FileUtils.cp(source, destination, preserve: true)
  end

  # Leaves the symbol table (Rust panics and crash reports name functions)
  # and drops the DWARF line tables the release profile keeps (debug = 1),
  # most of the library's size.
  def strip_debug_info(library)
    strip = ENV.fetch('STRIP', 'strip')
    return if system(strip, '--strip-debug', library, err: File::NULL)

    warn "#{strip} --strip-debug failed or is missing: #{library} keeps its debug information"
  end

  # Gem::Package.build writes into the current directory and reads the
  # spec's files relative to it; the gem is then moved to pkg/.
  def package(spec, dir)
    FileUtils.mkdir_p(PKG_DIR)
    built = Dir.chdir(dir) { File.expand_path(Gem::Package.build(spec)) }
    destination = File.join(PKG_DIR, File.basename(built))
    FileUtils.mv(built, destination) unless built == destination
    destination
  end

  # What a built gem holds: its specification and its files' paths.
  def contents(gem_path)
    package = Gem::Package.new(gem_path)
    [package.spec, package.contents]
  end
end
