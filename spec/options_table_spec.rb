require 'spec_helper'
require_relative '../tasks/support/options_table'

module EMWSSpec
  RSpec.describe "the README's table of options", rs_only: 'the options em-websocket-rs declares' do
    it 'lists every option the server takes, with its default and meaning (rake doc:options)' do
      expect(EmWebSocketRs::OptionsTable.in_readme).to eq(EmWebSocketRs::OptionsTable.markdown)
    end
  end
end
