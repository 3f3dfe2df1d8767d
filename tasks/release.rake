# frozen_string_literal: true

# rake release:collect: after .github/workflows/release.yml, the gems of a
# release in pkg/, each checked (tasks/native_gem/release_collect.rb).
#
#   ARTIFACTS=dir          where the downloaded artifacts are (default artifacts/)
#   RELEASE_PLATFORMS=a,b  the platform gems expected (default: the six the workflow builds)
#   RELEASE_RUBIES=3.1,3.2 the Ruby minors each must hold (default 3.1 to 3.4)

require_relative 'native_gem/release_collect'

namespace :release do
  desc 'Gather the platform gems built by the release workflow into pkg/ with the source gem, and check each'
  task collect: :gem do
    list = ->(name, default) { ENV[name] ? ENV[name].split(',').map(&:strip) : default }
    collector = NativeGem::ReleaseCollect.new(
      artifacts: ENV.fetch('ARTIFACTS', File.join(ROOT, 'artifacts')),
      platforms: list.call('RELEASE_PLATFORMS', NativeGem::ReleaseCollect::PLATFORMS),
      ruby_minors: list.call('RELEASE_RUBIES', NativeGem::ReleaseCollect::RUBY_MINORS)
    )
    collected = collector.collect
    puts "collected #{collected.size} gems from the artifacts"
    gems, missing = collector.check
    gems.each do |gem|
      verdict = gem.problems.empty? ? 'ok' : "PROBLEMS:\n    #{gem.problems.join("\n    ")}"
      puts format('%-60<name>s %10<bytes>d bytes  %<verdict>s',
                  name: File.basename(gem.path), bytes: File.size(gem.path), verdict: verdict)
    end
    problems = gems.sum { |gem| gem.problems.size }
    abort "release:collect: missing #{missing.join(', ')}" unless missing.empty?
    abort "release:collect: #{problems} problems" unless problems.zero?
    puts "release:collect: #{gems.size} gems in pkg/, all checked"
  end
end
