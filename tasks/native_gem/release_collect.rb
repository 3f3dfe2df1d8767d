# frozen_string_literal: true

require 'fileutils'
require 'rubygems/package'
require 'zlib'
require_relative 'package'

module NativeGem
  # rake release:collect: gathers the platform gems that
  # .github/workflows/release.yml built (downloaded artifacts, any directory
  # layout) into pkg/ beside the source gem, and checks every one before
  # anything is pushed: the name, platform and version; no `extensions`; a
  # build for each Ruby minor, in the directory the loader looks in, for the
  # right CPU (ELF machine, Mach-O CPU type) and C library (glibc builds use
  # versioned GLIBC_ symbols, musl has none); the required_ruby_version those
  # builds admit; no Rust sources. The source gem must carry the workspace and
  # extconf.rb, and no build.
  class ReleaseCollect
    # Kept in step with the matrix of .github/workflows/release.yml.
    PLATFORMS = %w[x86_64-linux aarch64-linux x86_64-linux-musl aarch64-linux-musl x86_64-darwin arm64-darwin].freeze
    RUBY_MINORS = %w[3.1 3.2 3.3 3.4].freeze

    ELF_MAGIC = "\x7FELF".b
    ELF_MACHINES = { 'x86_64' => 62, 'aarch64' => 183 }.freeze
    MACHO_64_MAGIC = "\xCF\xFA\xED\xFE".b
    MACHO_CPU_TYPES = { 'x86_64' => 0x0100_0007, 'arm64' => 0x0100_000C }.freeze
    GLIBC_VERSIONED_SYMBOL = 'GLIBC_2.'.b

    # One gem in pkg/: what it holds, and what is wrong with it.
    CheckedGem = Struct.new(:path, :spec, :files, :problems)

    def initialize(artifacts:, platforms: PLATFORMS, ruby_minors: RUBY_MINORS)
      @artifacts = artifacts
      @platforms = platforms
      @ruby_minors = ruby_minors
      @version = NativeGem.source_spec.version.to_s
    end

    # Copies the artifacts' gems of this version into pkg/ (a downloaded
    # gem replaces a local build of the same name); returns their paths.
    def collect
      found = Dir[File.join(@artifacts, '**', "em-websocket-rs-#{@version}*.gem")]
      found.map do |path|
        destination = File.join(PKG_DIR, File.basename(path))
        FileUtils.mkdir_p(PKG_DIR)
        FileUtils.cp(path, destination) unless File.expand_path(path) == destination
        destination
      end
    end

    # Checks pkg/'s gems of this version; returns them, each with its
    # problems (empty when it is right), and the expected gems missing.
    def check
      gems = Dir[File.join(PKG_DIR, "em-websocket-rs-#{@version}*.gem")].sort.map { |path| inspect_gem(path) }
      expected = ['ruby', *@platforms]
      missing = expected - gems.map { |gem| gem.spec.platform.to_s }
      [gems, missing]
    end

    private

    def inspect_gem(path)
      spec, files = NativeGem.contents(path)
      gem = CheckedGem.new(path, spec, files, [])
      expected_name = spec.platform.to_s == 'ruby' ? "em-websocket-rs-#{@version}.gem" : "em-websocket-rs-#{@version}-#{spec.platform}.gem"
      gem.problems << "named #{File.basename(path)}, its specification says #{expected_name}" unless File.basename(path) == expected_name
      gem.problems << "version #{spec.version}, expected #{@version}" unless spec.version.to_s == @version
      if spec.platform.to_s == 'ruby'
        check_source_gem(gem)
      elsif @platforms.include?(spec.platform.to_s)
        check_platform_gem(gem)
      else
        gem.problems << "platform #{spec.platform} is not one the release builds (#{@platforms.join(', ')})"
      end
      gem
    end

    def check_source_gem(gem)
      unless gem.spec.extensions == ['ext/em-websocket-rs/extconf.rb']
        gem.problems << "extensions #{gem.spec.extensions.inspect}, expected the extconf.rb"
      end
      %w[Cargo.toml Cargo.lock ext/em-websocket-rs/Cargo.toml ext/em-websocket-rs/src/lib.rs].each do |file|
        gem.problems << "#{file} missing: cargo could not build it" unless gem.files.include?(file)
      end
      builds = gem.files.grep(/\.(so|bundle|dll)\z/)
      gem.problems << "holds builds: #{builds.join(', ')}" unless builds.empty?
    end

    def check_platform_gem(gem)
      platform = gem.spec.platform
      dlext = platform.os == 'darwin' ? 'bundle' : 'so'
      gem.problems << "extensions #{gem.spec.extensions.inspect}: installing it would compile" unless gem.spec.extensions.empty?
      expected_requirement = Gem::Requirement.new(NativeGem.required_ruby_version(@ruby_minors))
      unless gem.spec.required_ruby_version == expected_requirement
        gem.problems << "required_ruby_version #{gem.spec.required_ruby_version}, expected #{expected_requirement}"
      end
      sources = gem.files.grep(/\.rs\z|(\A|\/)Cargo\.(toml|lock)\z|extconf\.rb\z/)
      gem.problems << "ships the Rust sources: #{sources.first(3).join(', ')}..." unless sources.empty?
      %w[lib/em-websocket-rs.rb lib/em-websocket-rs/native_extension.rb].each do |file|
        gem.problems << "#{file} missing" unless gem.files.include?(file)
      end
      builds = @ruby_minors.to_h { |minor| [minor, NativeGem.build_path(minor, dlext)] }
      builds.each { |minor, file| gem.problems << "no build for Ruby #{minor} (#{file})" unless gem.files.include?(file) }
      read_files(gem.path, builds.values).each { |file, bytes| check_binary(gem, platform, file, bytes) }
    end

    def check_binary(gem, platform, file, bytes)
      if platform.os == 'darwin'
        cpu_type = bytes[4, 4]&.unpack1('l<')
        unless bytes.start_with?(MACHO_64_MAGIC) && cpu_type == MACHO_CPU_TYPES.fetch(platform.cpu)
          gem.problems << "#{file} is not a 64-bit Mach-O for #{platform.cpu} (CPU type #{cpu_type.inspect})"
        end
      else
        machine = bytes[18, 2]&.unpack1('v')
        unless bytes.start_with?(ELF_MAGIC) && machine == ELF_MACHINES.fetch(platform.cpu)
          gem.problems << "#{file} is not an ELF for #{platform.cpu} (machine #{machine.inspect})"
        end
        glibc = bytes.include?(GLIBC_VERSIONED_SYMBOL)
        musl = platform.version == 'musl'
        gem.problems << "#{file} links glibc, in a musl gem" if musl && glibc
        gem.problems << "#{file} does not link glibc (GLIBC_ symbol versions)" if !musl && !glibc
      end
    end

    # The contents of `names` in the gem's data.tar.gz.
    def read_files(gem_path, names)
      found = {}
      File.open(gem_path, 'rb') do |io|
        Gem::Package::TarReader.new(io).each do |entry|
          next unless entry.full_name == 'data.tar.gz'

          Zlib::GzipReader.wrap(entry) do |data|
            Gem::Package::TarReader.new(data).each do |file|
              found[file.full_name] = file.read.to_s.b if names.include?(file.full_name)
            end
          end
        end
      end
      found
    end
  end
end
