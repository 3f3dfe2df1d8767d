# frozen_string_literal: true

require 'fileutils'
require 'json'
require 'open3'
require 'rbconfig'
require 'socket'
require_relative '../support/process_group'

# Runs em-websocket's own integration suite (spec/integration/*_spec.rb)
# against em-websocket-rs, or against the original em-websocket as a
# control. The suite is not part of this project: it is extracted at run time
# from EMWS_SUITE_REPO into tmp/em_websocket_suite/<impl>/ (gitignored), and
# only the line `require 'em-websocket'` of its spec/helper.rb is changed, to
# `require 'em-websocket-rs'`, for the em-websocket-rs run. The suite's
# client, the unpackaged em-websocket-client gem, is replaced by
# em-websocket-client.rb beside this file.
#
#   EMWS_SUITE_REPO     em-websocket's git directory (bare or a checkout) or
#                       an unpacked source tree (default: DEFAULT_REPO)
#   EMWS_SUITE_REF      the tag or commit to extract from a git repo (v0.5.3)
#   EMWS_IMPL           rs (default): em-websocket-rs from lib/
#                       original: the installed em-websocket gem (Debian's
#                                 0.5.1, so its 0.5.1-vs-0.5.3 differences fail)
#                       upstream: em-websocket's lib/ from EMWS_SUITE_REPO at
#                                 EMWS_SUITE_REF, extracted like the suite
#   EMWS_SUITE_TIMEOUT  seconds the rspec run may take (300)
module EmWebSocketSuite
  ROOT = File.expand_path('../..', __dir__)
  HARNESS_DIR = __dir__ # em-websocket-client.rb, rspec_setup.rb
  DEFAULT_REPO = '/work/.mirror/igrigorik+em-websocket/repo'
  DEFAULT_REF = 'v0.5.3'
  PORT = 12_345 # the suite's start_server binds 0.0.0.0:12345
  RS_LIB = File.join(ROOT, 'lib')
  IMPLS = {
    'rs' => { name: 'em-websocket-rs', require: 'em-websocket-rs' },
    'original' => { name: 'em-websocket (installed gem)', require: 'em-websocket' },
    'upstream' => { name: 'em-websocket (lib/ of EMWS_SUITE_REPO)', require: 'em-websocket' }
  }.freeze
  ALIASES = { 'em-websocket-rs' => 'rs', 'em-websocket' => 'original' }.freeze
  REQUIRE_LINE = /^require 'em-websocket'$/
  # Gems the suite needs, with the Debian packages that provide them.
  DEPENDENCIES = {
    'rspec' => 'ruby-rspec', 'eventmachine' => 'ruby-eventmachine', 'em-spec/rspec' => 'ruby-em-spec',
    'em-http' => 'ruby-em-http-request', 'websocket' => 'ruby-websocket'
  }.freeze

  Skip = Class.new(StandardError)
  Failure = Class.new(StandardError)

  Result = Struct.new(:impl, :source, :server_library, :examples, :errors_outside, :seconds, :timed_out, :exit_status,
                      :log, :workdir, keyword_init: true) do
    def failed = examples.select { |e| e['status'] == 'failed' }
    def passed = examples.select { |e| e['status'] == 'passed' }
    def pending = examples.select { |e| e['status'] == 'pending' }
    def ok? = !timed_out && errors_outside.zero? && !examples.empty? && failed.empty?
  end

  module_function

  def impl_key(value = ENV.fetch('EMWS_IMPL', 'rs'))
    key = value.to_s.strip
    key = ALIASES.fetch(key, key)
    raise Failure, "EMWS_IMPL=#{value.inspect}: use rs (default), original or upstream" unless IMPLS.key?(key)

    key
  end

  def run(impl, repo: ENV.fetch('EMWS_SUITE_REPO', DEFAULT_REPO), ref: ENV.fetch('EMWS_SUITE_REF', DEFAULT_REF),
          timeout: Float(ENV.fetch('EMWS_SUITE_TIMEOUT', '300')))
    check_dependencies
    workdir, source = extract(impl, repo, ref)
    check_port
    json = File.join(workdir, 'results.json')
    log = File.join(workdir, 'rspec.log')
    features = File.join(workdir, 'loaded_features.txt')
    load_path = ['spec', HARNESS_DIR]
    load_path << RS_LIB if impl == 'rs'
    load_path << File.join(workdir, 'lib') if impl == 'upstream'
    command = [RbConfig.ruby, '-S', 'rspec', *load_path.flat_map { |dir| ['-I', dir] },
               '--require', File.join(HARNESS_DIR, 'rspec_setup.rb'), '--order', 'defined', '--no-color',
               '--format', 'progress', '--format', 'json', '--out', json, 'spec/integration']
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    timed_out, exit_status = spawn_bounded(command, workdir, log, timeout, { 'EMWS_SUITE_FEATURES' => features })
    seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    data = File.exist?(json) ? (JSON.parse(File.read(json)) rescue {}) : {}
    result = Result.new(impl: impl, source: source, server_library: server_library(impl, features, workdir),
                        examples: data.fetch('examples', []),
                        errors_outside: data.dig('summary', 'errors_outside_of_examples_count') || 1,
                        seconds: seconds, timed_out: timed_out, exit_status: exit_status, log: log, workdir: workdir)
    File.write(File.join(workdir, 'report.txt'), report(result))
    result
  end

  # Extracts spec/ (and for upstream lib/) of em-websocket into
  # tmp/em_websocket_suite/<impl>/ and points helper.rb at the
  # implementation. Returns the directory and a description of the source.
  def extract(impl, repo, ref)
    unless File.directory?(repo)
      raise Skip, "em-websocket's source not found at #{repo} (set EMWS_SUITE_REPO to its git directory or a checkout)"
    end

    workdir = File.join(ROOT, 'tmp', 'em_websocket_suite', impl)
    FileUtils.rm_rf(workdir)
    FileUtils.mkdir_p(workdir)
    dirs = impl == 'upstream' ? %w[spec lib] : %w[spec]
    source = git_repo?(repo) ? extract_from_git(repo, ref, dirs, workdir) : copy_from_tree(repo, dirs, workdir)
    helper = File.join(workdir, 'spec', 'helper.rb')
    unless File.file?(helper) && Dir[File.join(workdir, 'spec', 'integration', '*_spec.rb')].any?
      raise Skip, "#{source} has no spec/helper.rb and spec/integration/*_spec.rb"
    end

    point_helper_at(helper, IMPLS.fetch(impl)[:require])
    [workdir, source]
  end

  def git_repo?(path)
    _, status = Open3.capture2e('git', '-C', path, 'rev-parse', '--git-dir')
    status.success?
  end

  def extract_from_git(repo, ref, dirs, workdir)
    commit, status = Open3.capture2e('git', '-C', repo, 'rev-parse', '--verify', '--quiet', "#{ref}^{commit}")
    raise Failure, "#{repo} has no #{ref} (set EMWS_SUITE_REF)" unless status.success?

    archive = File.join(workdir, 'extract.tar')
    output, status = Open3.capture2e('git', '-C', repo, 'archive', '--format=tar', "--output=#{archive}", ref, *dirs)
    raise Failure, "git archive #{ref} #{dirs.join(' ')} in #{repo} failed: #{output}" unless status.success?

    output, status = Open3.capture2e('tar', '-x', '-f', archive, '-C', workdir)
    raise Failure, "tar -x #{archive} failed: #{output}" unless status.success?

    File.delete(archive)
    "#{repo} at #{ref} (#{commit.strip[0, 12]})"
  end

  def copy_from_tree(repo, dirs, workdir)
    dirs.each do |dir|
      unless File.directory?(File.join(repo, dir))
        raise Skip, "#{repo} is neither a git repository nor a source tree with #{dir}/"
      end

      FileUtils.cp_r(File.join(repo, dir), workdir)
    end
    "#{repo} (source tree)"
  end

  # The one change to the suite: its require of the server gem.
  def point_helper_at(helper, feature)
    text = File.binread(helper)
    count = text.scan(REQUIRE_LINE).size
    raise Failure, "#{helper}: expected one line `require 'em-websocket'`, found #{count}" unless count == 1

    File.binwrite(helper, text.sub(REQUIRE_LINE, "require '#{feature}'"))
  end

  def check_dependencies
    missing = DEPENDENCIES.reject do |feature, _|
      # em-spec/rspec needs rspec loaded first, as the suite's helper does
      system(RbConfig.ruby, '-e', "require 'rspec'; require #{feature.dump}", out: File::NULL, err: File::NULL)
    end
    return if missing.empty?

    raise Failure, "missing: #{missing.keys.join(', ')} (apt-get install -y #{missing.values.uniq.join(' ')})"
  end

  def check_port
    TCPServer.new('0.0.0.0', PORT).close
  rescue SystemCallError => e
    raise Failure, "port #{PORT}, which the suite binds, is not free: #{e.message}"
  end

  # rspec in its own process group, killed when it outlives the bound.
  def spawn_bounded(command, workdir, log, timeout, env)
    pid = Process.spawn(env, *command, chdir: workdir, pgroup: true, in: File::NULL, %i[out err] => [log, 'w'])
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      _, status = Process.waitpid2(pid, Process::WNOHANG)
      return [false, status.exitstatus || status.termsig] if status

      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        ProcessGroup.stop(pid)
        return [true, nil]
      end
      sleep 0.2
    end
  end

  # Which server library the suite really loaded (rspec_setup.rb lists the
  # loaded features); raises when it is not the one asked for.
  def server_library(impl, features_file, workdir)
    return 'unknown (the run ended before the suite finished)' unless File.exist?(features_file)

    features = File.readlines(features_file, chomp: true)
    rs = features.find { |f| f == File.join(RS_LIB, 'em-websocket-rs.rb') }
    original = features.find { |f| f.end_with?('/em-websocket/connection.rb') }
    expected, found = case impl
                      when 'rs' then [rs && !original, rs]
                      when 'original' then [original && !rs && !original.start_with?(workdir), original]
                      else [original&.start_with?(File.join(workdir, 'lib')) && !rs, original]
                      end
    raise Failure, "EMWS_IMPL=#{impl}, but the suite loaded: #{features.join(', ')}" unless expected

    found
  end

  def report(result)
    name = IMPLS.fetch(result.impl)[:name]
    lines = ["em-websocket integration suite from #{result.source}", "against #{name}: #{result.server_library}", '']
    result.examples.each do |example|
      lines << format('%-7s %s', example['status'].to_s.upcase, example['full_description'])
    end
    unless result.failed.empty?
      lines << '' << 'Failures:'
      result.failed.each do |example|
        exception = example['exception'] || {}
        message = exception['message'].to_s.strip
        message = "#{message[0, 1500]} [... #{message.size - 1500} more characters]" if message.size > 1500
        lines << '' << "  #{example['full_description']}  (#{example['file_path']}:#{example['line_number']})"
        lines << "    #{exception['class']}: #{message.gsub("\n", "\n    ")}"
      end
    end
    lines << ''
    lines << "rspec timed out and was killed; results are partial (log: #{result.log})" if result.timed_out
    if result.errors_outside.positive?
      lines << "#{result.errors_outside} error(s) outside of examples (log: #{result.log}):"
      lines.concat(File.readlines(result.log).first(40).map { |l| "  #{l.chomp}" })
    end
    lines << format('%<name>s: %<total>d examples, %<passed>d passed, %<failed>d failed, %<pending>d pending in %<secs>.1fs ' \
                    '(rspec exit %<exit>s; log %<log>s)',
                    name: name, total: result.examples.size, passed: result.passed.size, failed: result.failed.size,
                    pending: result.pending.size, secs: result.seconds, exit: result.exit_status.inspect, log: result.log)
    "#{lines.join("\n")}\n"
  end
end
