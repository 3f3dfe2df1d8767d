# frozen_string_literal: true

require 'fileutils'
require 'json'
require 'open3'
require 'rbconfig'
require_relative 'package'
require_relative '../support/server_process'

module NativeGem
  # rake native_gem:verify: proves that the platform gem installs without a
  # compiler and works from where it was installed.
  #
  # 1. `gem install --local` into a scratch GEM_HOME with an environment of
  #    PATH, HOME, GEM_HOME and GEM_PATH only (no LIBCLANG_PATH, CARGO, CC,
  #    ...), PATH being one directory holding `ruby` and `gem` and, in place
  #    of cargo, rustc, rustup, cc, gcc, clang, c++, g++, make and ld,
  #    tripwires that write their name to a file and fail. The install must
  #    leave the tripwire file empty and no build products (target/, ext/, a
  #    Makefile) in the gem, and is timed.
  # 2. The same install of the source gem into another GEM_HOME must fail at
  #    its cargo tripwire: the control showing that nothing could have
  #    compiled in step 1.
  # 3. `require "em-websocket-rs"` in that environment loads the extension
  #    from GEM_HOME, from the directory of this Ruby's minor.
  # 4. examples/echo.rb from the installed gem echoes a text and a binary
  #    message to python3-websockets.
  # 5. The installed lib/ with its build moved to another minor's directory
  #    raises a LoadError that names that minor and the source gem.
  # 6. The RSpec suite against the installed gem (EMWS_GEM_INSTALLED=1).
  class InstallCheck
    # Tools a compiling install would run. None may run.
    TRIPWIRES = %w[cargo rustc rustup cc gcc clang c++ g++ make ld].freeze
    # An install that unpacks a gem takes seconds; one that runs cargo,
    # minutes. Generous, so that a slow disk does not fail the check.
    INSTALL_SECONDS_LIMIT = 60
    # Paths a compiling install leaves in the gem's directory.
    BUILD_PRODUCTS = %w[target ext tmp Makefile .rb-sys mkmf.log].freeze

    PY_ECHO = <<~PY
      import asyncio, json, sys
      import websockets

      async def main(port):
          async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
              await ws.send("hello from the platform gem")
              text = await ws.recv()
              await ws.send(bytes([0, 1, 254, 255]))
              binary = await ws.recv()
              print(json.dumps({"text": text, "binary": list(binary)}))

      asyncio.run(asyncio.wait_for(main(int(sys.argv[1])), 20))
    PY

    attr_reader :results

    def initialize(native_gem:, source_gem:, work_dir: File.join(STAGE_ROOT, 'verify'))
      @native_gem = native_gem
      @source_gem = source_gem
      @work_dir = work_dir
      @home = File.join(work_dir, 'gem_home')
      @results = {}
    end

    def run(rspec: true)
      FileUtils.rm_rf(@work_dir)
      FileUtils.mkdir_p(@work_dir)
      install_without_toolchain
      source_gem_needs_cargo
      loads_from_gem_home
      echo_exchange
      wrong_ruby_load_error
      run_rspec if rspec
      results
    end

    private

    def installed_dir
      File.join(@home, 'gems', File.basename(@native_gem, '.gem'))
    end

    def installed_lib
      File.join(installed_dir, 'lib')
    end

    # System gem paths after the scratch home: eventmachine, the dependency,
    # is Debian's, and rspec's too.
    def gem_path(home)
      [home, *Gem.path].uniq.join(File::PATH_SEPARATOR)
    end

    # A directory of `ruby` and `gem` and the tripwires; returns the
    # environment that has it as its whole PATH, and the tripwire log.
    def toolchain_free_env(home)
      tools = File.join(@work_dir, 'path')
      log = File.join(@work_dir, 'tripwires.log')
      FileUtils.mkdir_p(tools)
      link(RbConfig.ruby, File.join(tools, 'ruby'))
      link(gem_command, File.join(tools, 'gem'))
      TRIPWIRES.each do |name|
        File.write(File.join(tools, name), "#!/bin/sh\necho #{name} \"$@\" >> '#{log}'\nexit 127\n")
        File.chmod(0o755, File.join(tools, name))
      end
      FileUtils.touch(log)
      env = { 'PATH' => tools, 'HOME' => Dir.home, 'GEM_HOME' => home, 'GEM_PATH' => gem_path(home) }
      [env, log]
    end

    def link(target, name)
      FileUtils.ln_sf(target, name)
    end

    # The `gem` beside this Ruby (Debian: /usr/bin/gem, which runs `ruby`
    # from PATH, the link above).
    def gem_command
      beside_ruby = File.join(RbConfig::CONFIG['bindir'], 'gem')
      raise "no gem command at #{beside_ruby}" unless File.exist?(beside_ruby)

      beside_ruby
    end

    def gem_install(env, gem_file)
      Open3.capture2e(env, 'gem', 'install', '--local', '--no-document', gem_file,
                      unsetenv_others: true, chdir: @work_dir)
    end

    def install_without_toolchain
      env, log = toolchain_free_env(@home)
      started = now
      output, status = gem_install(env, @native_gem)
      seconds = now - started
      raise "gem install #{@native_gem} failed:\n#{output}" unless status.success?

      ran = File.read(log)
      raise "the platform gem's install ran a compiler tool:\n#{ran}" unless ran.empty?

      leftovers = BUILD_PRODUCTS.select { |name| File.exist?(File.join(installed_dir, name)) }
      raise "build products in the installed gem: #{leftovers.join(', ')}" unless leftovers.empty?

      built_extensions = Dir[File.join(@home, 'extensions', '**', 'em-websocket-rs-*')]
      raise "RubyGems built an extension: #{built_extensions.join(', ')}" unless built_extensions.empty?

      build = File.join(installed_dir, build_path(ruby_minor))
      raise "no build for Ruby #{ruby_minor} at #{build}" unless File.file?(build)
      if seconds > INSTALL_SECONDS_LIMIT
        raise "the install took #{seconds.round(1)} s (limit #{INSTALL_SECONDS_LIMIT} s): did it compile?"
      end

      results[:install_seconds] = seconds.round(2)
      results[:gem_bytes] = File.size(@native_gem)
      results[:build_bytes] = File.size(build)
      puts "installed #{File.basename(@native_gem)} (#{results[:gem_bytes]} bytes) in #{seconds.round(2)} s " \
           "with PATH=#{env['PATH']} (no cargo, rustc, cc, make, LIBCLANG_PATH); no tripwire ran"
    end

    def source_gem_needs_cargo
      home = File.join(@work_dir, 'source_gem_home')
      env, log = toolchain_free_env(home)
      File.write(log, '')
      output, status = gem_install(env, @source_gem)
      raise "the source gem installed without cargo:\n#{output}" if status.success?
      raise "the source gem's install failed before asking for cargo:\n#{output}" unless File.read(log).include?('cargo')

      puts "control: the source gem's install, in the same environment, stopped at cargo (#{File.read(log).lines.first.strip})"
    end

    def installed_env
      { 'GEM_HOME' => @home, 'GEM_PATH' => gem_path(@home) }
    end

    def loads_from_gem_home
      env, = toolchain_free_env(@home)
      script = 'require "em-websocket-rs"; print $LOADED_FEATURES.grep(%r{/em_websocket_rs\.[^/]+\z}).first'
      output, status = Open3.capture2e(env, 'ruby', '-e', script, unsetenv_others: true, chdir: @work_dir)
      expected = File.join(installed_dir, build_path(ruby_minor))
      raise "require 'em-websocket-rs' failed:\n#{output}" unless status.success?
      raise "the extension came from #{output}, not #{expected}" unless output == expected

      puts "require 'em-websocket-rs' (no toolchain in PATH) loads #{output}"
    end

    def echo_exchange
      script = File.join(installed_dir, 'examples', 'echo.rb')
      server = ServerProcess.new(script, log: File.join(@work_dir, 'echo.log'),
                                         env: installed_env.merge('HOST' => '127.0.0.1'))
      server.start.wait_for_port(limit: 20)
      output, status = Open3.capture2e('/usr/bin/python3', '-c', PY_ECHO, server.port.to_s)
      raise "the echo exchange failed:\n#{output}\nserver log:\n#{File.read(server.log)}" unless status.success?

      reply = JSON.parse(output)
      expected = { 'text' => 'hello from the platform gem', 'binary' => [0, 1, 254, 255] }
      raise "echo.rb answered #{reply.inspect}, expected #{expected.inspect}" unless reply == expected

      puts "#{script} echoed a text and a binary message to python3-websockets"
    ensure
      server&.stop
    end

    def wrong_ruby_load_error
      other_minor = another_minor
      lib = File.join(@work_dir, 'other_ruby', 'lib')
      FileUtils.mkdir_p(File.dirname(lib))
      FileUtils.cp_r(installed_lib, lib)
      FileUtils.mv(File.join(lib, EXTENSION_DIR, ruby_minor), File.join(lib, EXTENSION_DIR, other_minor))
      script = 'begin; require "em-websocket-rs"; rescue LoadError => e; print e.message; exit 3; end'
      output, status = Open3.capture2e(installed_env, RbConfig.ruby, '-I', lib, '-e', script)
      unless status.exitstatus == 3 && output.include?("Ruby #{other_minor} only") &&
             output.include?('gem install em-websocket-rs --platform ruby')
        raise "with only a Ruby #{other_minor} build, require gave (exit #{status.exitstatus}):\n#{output}"
      end

      puts "with only a Ruby #{other_minor} build: LoadError \"#{output}\""
    end

    # A minor this Ruby is not: the next one.
    def another_minor
      major, minor = ruby_minor.split('.').map(&:to_i)
      "#{major}.#{minor + 1}"
    end

    def run_rspec
      env = installed_env.merge('EMWS_GEM_INSTALLED' => '1')
      started = now
      ok = system(env, RbConfig.ruby, '-S', 'rspec', chdir: ROOT)
      results[:rspec_seconds] = (now - started).round(1)
      raise 'the RSpec suite failed against the installed gem' unless ok
    end

    def ruby_minor
      NativeGem.ruby_minor
    end

    def build_path(minor)
      NativeGem.build_path(minor)
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
