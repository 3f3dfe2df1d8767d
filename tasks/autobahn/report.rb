# frozen_string_literal: true

module Autobahn
  # Judges the fuzzing client's results and tabulates them per case group.
  module Report
    PASSING = %w[OK NON-STRICT INFORMATIONAL].freeze
    PASSING_CLOSE = %w[OK INFORMATIONAL].freeze
    GROUPS = {
      '1' => 'Framing', '2' => 'Pings/Pongs', '3' => 'Reserved Bits', '4' => 'Opcodes',
      '5' => 'Fragmentation', '6' => 'UTF-8 Handling', '7' => 'Close Handling',
      '9' => 'Limits/Performance', '10' => 'Miscellaneous',
      '12' => 'permessage-deflate (payloads)', '13' => 'permessage-deflate (parameters)'
    }.freeze

    module_function

    # :passed, :failed or :unimplemented.
    def verdict(result)
      return :unimplemented if result['behavior'] == 'UNIMPLEMENTED'
      return :passed if PASSING.include?(result['behavior']) && PASSING_CLOSE.include?(result['behaviorClose'])

      :failed
    end

    def failures(results)
      results.reject { |_, result| verdict(result) == :passed }.sort_by { |id, _| case_key(id) }
    end

    # { group => { passed: n, failed: n, unimplemented: n } }, groups in order.
    def tally(results)
      counts = Hash.new { |hash, group| hash[group] = { passed: 0, failed: 0, unimplemented: 0 } }
      results.sort_by { |id, _| case_key(id) }.each { |id, result| counts[id.split('.').first][verdict(result)] += 1 }
      counts
    end

    def case_key(id)
      id.split('.').map(&:to_i)
    end

    # A Markdown table: one row per group, passed / failed / unimplemented
    # for each server (servers: { name => results }).
    def markdown(servers)
      tallies = servers.transform_values { |results| tally(results) }
      groups = tallies.values.flat_map(&:keys).uniq.sort_by(&:to_i)
      lines = ["| cases | #{servers.keys.map { |name| "#{name} (passed / failed / unimplemented)" }.join(' | ')} |",
               "|---|#{servers.keys.map { '---' }.join('|')}|"]
      groups.each do |group|
        cells = tallies.values.map { |tally| cell(tally[group]) }
        lines << "| #{group}.* #{GROUPS.fetch(group, '')} | #{cells.join(' | ')} |"
      end
      totals = tallies.values.map do |tally|
        cell(tally.values.each_with_object(Hash.new(0)) { |counts, sum| counts.each { |k, n| sum[k] += n } })
      end
      lines << "| **all #{servers.values.first.size} cases** | #{totals.join(' | ')} |"
      lines.join("\n")
    end

    def cell(counts)
      return '-' unless counts

      "#{counts[:passed]} / #{counts[:failed]} / #{counts[:unimplemented]}"
    end

    def failure_lines(name, results)
      failures(results).map do |id, result|
        "#{name}: #{id} #{result['behavior']} (close: #{result['behaviorClose']})"
      end
    end
  end
end
