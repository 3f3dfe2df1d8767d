# frozen_string_literal: true

# rake gem                the source gem, pkg/em-websocket-rs-VERSION.gem:
#                         cargo compiles the extension at install
# rake native_gem         the platform gem for this machine and Ruby,
#                         pkg/em-websocket-rs-VERSION-x86_64-linux.gem
# rake native_gem:verify  installs the platform gem with no compiler in
#                         reach, then runs an echo exchange and the RSpec
#                         suite against the installed gem (.ci/run)
#
# The other platforms are built by .github/workflows/release.yml in rb-sys's
# cross-compiling images (tasks/cross_gem.rake) and gathered by
# rake release:collect (tasks/release.rake).

require_relative 'native_gem/package'
require_relative 'native_gem/install_check'

# In rb-sys's cross-compiling container rake-compiler defines `gem` (the
# platform gem it builds); see tasks/cross_gem.rake.
unless NativeGem.cross_container?
  desc 'Build the source gem (pkg/em-websocket-rs-VERSION.gem); cargo compiles the extension at install'
  task :gem do
    path = NativeGem.build_source_gem
    puts "#{path}: #{File.size(path)} bytes"
  end
end

desc "Build the platform gem for this machine and Ruby (pkg/em-websocket-rs-VERSION-#{NativeGem.platform}.gem)"
task native_gem: :compile do
  minor = NativeGem.ruby_minor
  path = NativeGem.build_native_gem({ minor => NATIVE_LIB }, strip: ENV['NATIVE_GEM_STRIP'] != '0')
  spec, files = NativeGem.contents(path)
  puts "#{path}: #{File.size(path)} bytes, platform #{spec.platform}, " \
       "Ruby #{spec.required_ruby_version}, #{files.size} files, " \
       "extension #{files.grep(%r{/#{minor}/}).join(', ')}"
end

namespace :native_gem do
  desc 'Install the platform gem with cargo, rustc, cc and libclang out of reach; echo and RSpec against it'
  task verify: %i[gem native_gem] do
    version = Gem::Specification.load(NativeGem::GEMSPEC).version
    native = File.join(NativeGem::PKG_DIR, "em-websocket-rs-#{version}-#{NativeGem.platform}.gem")
    source = File.join(NativeGem::PKG_DIR, "em-websocket-rs-#{version}.gem")
    check = NativeGem::InstallCheck.new(native_gem: native, source_gem: source)
    results = check.run(rspec: ENV['NATIVE_GEM_RSPEC'] != '0')
    puts "native_gem:verify: #{results.map { |name, value| "#{name} #{value}" }.join(', ')}"
  end
end
