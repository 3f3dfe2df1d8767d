# frozen_string_literal: true

require_relative 'lib/em-websocket-rs/version'

Gem::Specification.new do |s|
  s.name        = 'em-websocket-rs'
  s.version     = EmWebSocketRs::VERSION
  s.summary     = 'em-websocket on a Rust core: the same EventMachine WebSocket API, many times faster'
  s.description = 'A drop-in replacement for em-websocket. Sockets, handshakes, framing, UTF-8 ' \
                  'checks, ping/pong and the close handshake run in Rust on tokio threads; ' \
                  'the application blocks run on the EventMachine reactor thread as before.'
  s.authors     = ['em-websocket-rs developers']
  s.license     = 'MIT'
  s.homepage    = 'https://rubygems.org/gems/em-websocket-rs'
  # Shown on rubygems.org; the documentation is the YARD build of the
  # released gem.
  source = 'https://github.com/em-websocket-rs/em-websocket-rs'
  s.metadata = {
    'documentation_uri' => 'https://rubydoc.info/gems/em-websocket-rs',
    'changelog_uri' => "#{source}/blob/main/CHANGELOG.md",
    'source_code_uri' => source
  }

  s.required_ruby_version = '>= 3.0'
  # The whole cargo workspace ships (the bench crate is a member), so that
  # `cargo build --locked` finds every member the lock file names.
  s.files = Dir[
    'lib/**/*.rb', 'ext/**/*.{rs,toml,rb}', 'bench/Cargo.toml', 'bench/src/**/*.rs',
    'Cargo.toml', 'Cargo.lock', 'README.md', 'CHANGELOG.md', 'LICENSE', '.yardopts', 'docs/*.md',
    'examples/**/*.{rb,html,js}'
  ].reject { |path| path.start_with?('ext/fuzz') }
  # The source gem: cargo compiles the extension at install. `rake
  # native_gem` (tasks/native_gem.rake) makes the platform gem from this
  # specification, with the compiled extension and no `extensions`.
  s.extensions = ['ext/em-websocket-rs/extconf.rb']
  s.require_paths = ['lib']

  # The prerelease bound lets Debian's eventmachine (1.3.0.dev.1) satisfy it.
  s.add_dependency 'eventmachine', '>= 1.0.0.beta.4'
end
