# frozen_string_literal: true

# rake fuzz: the fuzz targets of ext/fuzz (request parser, each framing
# family, the permessage-deflate inflater), each for a bounded time.
#
#   FUZZ_SECONDS=30     seconds per target (default 30)
#   FUZZ_TARGETS=a,b    only these targets (default: all)
#   FUZZ_ENGINE=auto    libfuzzer: cargo fuzz (coverage-guided, AddressSanitizer)
#                       stable:    ext/fuzz's fuzz-stable driver (mutation only)
#                       auto:      libfuzzer when `cargo fuzz` is installed
#   FUZZ_INSTALL=1      with libfuzzer: `cargo install cargo-fuzz` when missing
#
# cargo fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them. Inputs libFuzzer finds go to ext/fuzz/target/corpus/
# (the committed corpus, ext/fuzz/corpus/, is only read); a crashing input is
# saved under ext/fuzz/artifacts/TARGET/ and the task fails.
#
#   rake fuzz:replay    every committed corpus input once (seconds, stable)
#   rake fuzz:seed      rewrite ext/fuzz/corpus/ from ext/fuzz/src/seeds.rs

require 'English'
require 'fileutils'

module EmwsFuzz
  extend Rake::DSL

  ROOT = File.expand_path('..', __dir__)
  DIR = File.join(ROOT, 'ext', 'fuzz')
  MANIFEST = File.join(DIR, 'Cargo.toml')
  TARGETS = %w[handshake frames_rfc6455 frames_hybi_legacy frames_hixie inflate].freeze
  STABLE = File.join(DIR, 'target', 'release', 'fuzz-stable')
  CARGO_FUZZ_VERSION = '0.13.2'
  # Inputs up to 16 KiB: several frames with 126-length payloads, a request
  # head that passes the 4 KiB bound the handshake target may pick.
  MAX_LEN = 16_384

  module_function

  def targets
    list = ENV.fetch('FUZZ_TARGETS', TARGETS.join(',')).split(',').map(&:strip)
    unknown = list - TARGETS
    abort "fuzz: unknown target(s) #{unknown.join(', ')} (known: #{TARGETS.join(', ')})" unless unknown.empty?
    list
  end

  def seconds
    Integer(ENV.fetch('FUZZ_SECONDS', '30'))
  end

  def cargo_fuzz?
    system('cargo', 'fuzz', '--version', out: File::NULL, err: File::NULL)
  end

  def engine
    case ENV.fetch('FUZZ_ENGINE', 'auto')
    when 'auto' then cargo_fuzz? || ENV['FUZZ_INSTALL'] == '1' ? :libfuzzer : :stable
    when 'libfuzzer' then :libfuzzer
    when 'stable' then :stable
    else abort "fuzz: FUZZ_ENGINE is auto, libfuzzer or stable, not #{ENV['FUZZ_ENGINE']}"
    end
  end

  def build_stable
    sh 'cargo', 'build', '--release', '--no-default-features', '--manifest-path', MANIFEST
  end

  def bootstrap_env
    { 'RUSTC_BOOTSTRAP' => '1' }
  end

  def libfuzzer(targets, seconds)
    unless cargo_fuzz?
      abort 'fuzz: cargo fuzz is not installed (FUZZ_INSTALL=1 installs it)' unless ENV['FUZZ_INSTALL'] == '1'
      sh 'cargo', 'install', 'cargo-fuzz', '--locked', '--version', CARGO_FUZZ_VERSION
    end
    Dir.chdir(ROOT) do
      sh bootstrap_env, 'cargo', 'fuzz', 'build', '--fuzz-dir', DIR, '-O'
      targets.map { |target| [target, libfuzzer_run(target, seconds)] }
    end
  end

  # Returns the run count libFuzzer reports; fails the task on a finding.
  def libfuzzer_run(target, seconds)
    scratch = File.join(DIR, 'target', 'corpus', target)
    FileUtils.mkdir_p(scratch)
    args = ["-max_total_time=#{seconds}", "-max_len=#{MAX_LEN}", '-timeout=10', '-print_final_stats=1']
    dict = File.join(DIR, "#{target}.dict")
    args << "-dict=#{dict}" if File.exist?(dict)
    command = ['cargo', 'fuzz', 'run', '--fuzz-dir', DIR, '-O', target, scratch, File.join(DIR, 'corpus', target), '--', *args]
    puts command.join(' ')
    output = +''
    IO.popen(bootstrap_env, command, err: %i[child out]) do |io|
      io.each_line do |line|
        output << line
        # libFuzzer's progress lines are many; keep the log readable.
        puts line unless line.start_with?('#') && line.include?(' exec/s: ')
      end
    end
    abort "fuzz: #{target} found a crash (see ext/fuzz/artifacts/#{target}/)" unless $CHILD_STATUS.success?
    output[/^Done (\d+) runs/, 1].to_i
  end

  def stable(targets, seconds)
    build_stable
    targets.map do |target|
      output = IO.popen([STABLE, 'run', target, '--seconds', seconds.to_s,
                         '--corpus', File.join(DIR, 'corpus'), '--artifacts', File.join(DIR, 'artifacts')],
                        err: %i[child out], &:read)
      puts output
      abort "fuzz: #{target} found a crash (see ext/fuzz/artifacts/#{target}/)" unless $CHILD_STATUS.success?
      [target, output[/(\d+) executions/, 1].to_i]
    end
  end

  def report(engine, results, seconds)
    puts
    puts "| target | engine | seconds | executions | findings |"
    puts '|---|---|---|---|---|'
    results.each { |target, runs| puts "| #{target} | #{engine} | #{seconds} | #{runs} | 0 |" }
  end
end

desc 'Fuzz each target for FUZZ_SECONDS (30) seconds: cargo fuzz when installed, else the stable driver'
task :fuzz do
  engine = EmwsFuzz.engine
  seconds = EmwsFuzz.seconds
  targets = EmwsFuzz.targets
  results = engine == :libfuzzer ? EmwsFuzz.libfuzzer(targets, seconds) : EmwsFuzz.stable(targets, seconds)
  EmwsFuzz.report(engine, results, seconds)
end

namespace :fuzz do
  desc 'Run every committed corpus input through its target once (stable toolchain)'
  task :replay do
    EmwsFuzz.build_stable
    EmwsFuzz.targets.each do |target|
      sh EmwsFuzz::STABLE, 'replay', target, File.join(EmwsFuzz::DIR, 'corpus', target)
    end
  end

  desc 'Rewrite the seed corpus (ext/fuzz/corpus/) from ext/fuzz/src/seeds.rs'
  task :seed do
    EmwsFuzz.build_stable
    sh EmwsFuzz::STABLE, 'seed', File.join(EmwsFuzz::DIR, 'corpus')
  end
end
