# frozen_string_literal: true

require 'fileutils'
require 'open3'

module Autobahn
  # Installs Autobahn|Testsuite (Python 2.7 code) into a virtualenv under
  # .autobahn/, reused by later runs.
  module Suite
    # virtualenv 20.21.1 is the last release that creates Python 2 environments.
    VIRTUALENV = 'virtualenv==20.21.1'
    # The newest releases that still run on Python 2.7 and with each other,
    # in install order; autobahntestsuite's sdist lists no dependencies.
    PINS = [
      %w[txaio==2.1.0 incremental==16.10.1 six==1.16.0 zope.interface==4.6.0],
      %w[Twisted==19.10.0 pyOpenSSL==19.1.0 cryptography==3.3.2 service_identity==18.1.0],
      %w[jinja2==2.11.3 markupsafe==1.1.1 Werkzeug==1.0.1 klein==17.10.0 unittest2==1.1.0],
      %w[autobahn[twisted,accelerate]==0.10.9]
    ].freeze
    TESTSUITE = 'autobahntestsuite==25.10.1'

    module_function

    def dir
      File.expand_path('../../.autobahn', __dir__)
    end

    def wstest
      File.join(dir, 'py2', 'bin', 'wstest')
    end

    # Sets the suite up unless a previous run did; returns the wstest path.
    def install
      stamp = File.join(dir, 'py2', '.installed')
      return wstest if File.exist?(stamp) && File.read(stamp) == stamp_text

      FileUtils.rm_rf(File.join(dir, 'py2'))
      tools = File.join(dir, 'tools')
      unless File.executable?(File.join(tools, 'bin', 'virtualenv'))
        run(python3, '-m', 'venv', tools)
        run(File.join(tools, 'bin', 'pip'), 'install', '--quiet', VIRTUALENV)
      end
      run(File.join(tools, 'bin', 'virtualenv'), '--quiet', '-p', python2, File.join(dir, 'py2'))
      pip = [File.join(dir, 'py2', 'bin', 'pip'), 'install', '--quiet', '--disable-pip-version-check']
      PINS.each { |group| run(*pip, *group) }
      run(*pip, '--no-deps', TESTSUITE)
      File.write(stamp, stamp_text)
      wstest
    end

    def stamp_text
      (PINS.flatten + [TESTSUITE]).join("\n")
    end

    # The machine's Python 3 (for the virtualenv tool only).
    def python3
      ['/usr/bin/python3', 'python3'].find { |p| system(p, '-c', 'import venv, ensurepip', err: File::NULL) } ||
        abort('autobahn: a Python 3 with venv and ensurepip is needed (apt-get install python3-venv)')
    end

    # Debian 12 has no python2 package: CPython 2.7 comes from pyenv
    # (or AUTOBAHN_PYTHON2).
    def python2
      candidates = [ENV.fetch('AUTOBAHN_PYTHON2', nil)]
      root, status = Open3.capture2('pyenv', 'root', err: File::NULL) rescue nil
      if status&.success?
        candidates.concat(Dir[File.join(root.strip, 'versions', '2.7*', 'bin', 'python')].sort.reverse)
      end
      candidates.concat(Dir[File.join(Dir.home, '.pyenv', 'versions', '2.7*', 'bin', 'python')].sort.reverse)
      candidates << 'python2.7'
      found = candidates.compact.find do |python|
        out, ok = Open3.capture2e(python, '-c', 'import sys; print(sys.version_info[:2] == (2, 7))') rescue nil
        ok&.success? && out.strip == 'True'
      end
      found || abort(<<~MSG)
        autobahn: Autobahn|Testsuite needs CPython 2.7, which Debian 12 does not package.
        Install it with pyenv (`pyenv install 2.7.18`) or point AUTOBAHN_PYTHON2 at a python2.7.
      MSG
    end

    def run(*command)
      puts "autobahn: #{command.join(' ')}"
      system(*command) || abort("autobahn: failed: #{command.join(' ')}")
    end
  end
end
