# frozen_string_literal: true

require 'fileutils'
require 'rbconfig'

# The API documentation: YARD reads lib/ and the pages .yardopts lists
# (README.md, CHANGELOG.md, docs/*.md) and writes HTML into doc/. Objects
# tagged `@api private` are documented as internal; private methods are left
# out. Debian's yard and ruby-redcarpet (bin/deps) are all it needs: no build.
desc 'Build the YARD documentation into doc/; fails on any yard warning or undocumented public object'
task :doc do
  root = File.expand_path('..', __dir__)
  yard = lambda do |*args|
    output = IO.popen([RbConfig.ruby, '-S', 'yard', *args], chdir: root, err: %i[child out], &:read)
    puts output
    abort "rake doc: yard #{args.first} failed (#{$?})" unless $?.success?
    output
  end

  FileUtils.rm_rf([File.join(root, 'doc'), File.join(root, '.yardoc')])
  warnings = yard.call('doc').lines.grep(/\[warn\]/)
  # The README's chart, where its link points (yard's --asset cannot make doc/bench/).
  FileUtils.mkdir_p(File.join(root, 'doc', 'bench'))
  FileUtils.cp(File.join(root, 'bench', 'results.png'), File.join(root, 'doc', 'bench'))
  stats = yard.call('stats', '--list-undoc')
  warnings += stats.lines.grep(/\[warn\]/)
  undocumented = stats[/^Undocumented Objects:.*/m] || stats.lines.grep(/\(\s*[1-9]\d* undocumented\)/).join

  problems = []
  problems << "yard warned:\n#{warnings.uniq.join}" unless warnings.empty?
  problems << "undocumented public objects:\n#{undocumented}" unless undocumented.strip.empty?
  abort "rake doc: #{problems.join("\n")}" unless problems.empty?
  puts 'rake doc: doc/index.html written; every public object documented, no warnings'
end

namespace :doc do
  desc "Rewrite the README's table of options from the options the native server declares"
  task options: :compile do
    $LOAD_PATH.unshift File.expand_path('../lib', __dir__)
    require 'em-websocket-rs'
    require_relative 'support/options_table'
    EmWebSocketRs::OptionsTable.write
    puts 'README.md: options table written'
  end
end
