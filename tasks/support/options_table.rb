# frozen_string_literal: true

module EmWebSocketRs
  # The README's table of options, made from the options the native server
  # declares (`EmWebSocketRs::Native.options`), so that the two never differ.
  module OptionsTable
    README = File.expand_path('../../README.md', __dir__)
    HEADER = "| option | default | meaning |\n|---|---|---|\n"

    module_function

    def markdown
      HEADER + EmWebSocketRs::Native.options.map do |name, default, doc|
        "| `:#{name}` | #{default} | #{doc} |\n"
      end.join
    end

    # The table as the README has it now.
    def in_readme
      readme = File.read(README)
      start = readme.index(HEADER) or raise "no options table in #{README}"
      finish = readme.index("\n\n", start) or raise 'the options table does not end'
      readme[start..finish]
    end

    # Rewrites the README's table from the declarations.
    def write
      readme = File.read(README)
      File.write(README, readme.sub(in_readme, markdown))
    end
  end
end
