# frozen_string_literal: true

require 'strscan'

# A strict reader of the Prometheus text exposition format 0.0.4, for specs
# that scrape the server's metrics endpoint: a scrape that any Prometheus
# would refuse, or that breaks a rule of the format a lenient reader lets
# through (duplicate series, a family split in two, TYPE after samples, a
# bad escape...), raises FormatError naming the line and the reason, so that
# a spec reading values from it also proves the exposition well-formed.
#
#   scrape = PrometheusText.parse(body)
#   scrape.families['emws_connections']      # => { type: 'gauge', help: '...' }
#   scrape.value('emws_connections')         # => 1.0
#   scrape.value('emws_messages_received_total', type: 'text')  # => 3.0
#   scrape.samples('emws_closes_sent_total') # => [[{ 'code' => '1000' }, 2.0]]
#   scrape.sum('emws_messages_received_total')
#
# The rules are those of the format's documentation (exposition_formats.md)
# and of its reference reader (Go, prometheus/common expfmt), with these
# choices where the two leave room:
#
# - tokens may be separated by blanks and tabs, lines may have leading and
#   trailing blanks; label sets may be empty ({}) or end with a comma;
# - values are what expfmt's parseFloat takes: strconv.ParseFloat's decimal
#   syntax (sign, "1", "1.", ".5", exponents), Inf/Infinity (signed or not)
#   and NaN in any case, but no hexadecimal or "_" (expfmt refuses "p", "P"
#   and "_"); a value too large for a float64 is an error, as in Go;
# - TYPE names its type in lower case; HELP text escapes only \\ and \n;
# - a counter's samples are named <family>_total, or <family> itself when
#   the family's name already ends in _total (0.0.4 names the sample in
#   TYPE: "# TYPE x_total counter" then "x_total 3"), and are >= 0 (NaN
#   refused); a histogram's are <family>_bucket (with an "le" label),
#   _sum and _count; a summary's <family> (with "quantile"), _sum and
#   _count; a gauge's and an untyped family's <family>;
# - every line of a family (HELP, TYPE, samples) is in one group, HELP and
#   TYPE before the samples; a sample with no TYPE before it starts an
#   untyped family of its own name;
# - a label with an empty value counts as absent when looking for duplicate
#   series (x{a=""} is x), as in Prometheus's data model;
# - label names starting with "__" are reserved and refused;
# - buckets appear in increasing "le" order and quantiles in increasing
#   "quantile" order, each histogram has an le="+Inf" bucket, equal to its
#   _count when there is one;
# - the whole text is valid UTF-8.
module PrometheusText
  # Raised for malformed text: #line is the 1-based line number, #reason
  # what is wrong with it; the message is "line <line>: <reason>".
  class FormatError < StandardError
    attr_reader :line, :reason

    def initialize(line, reason)
      @line = line
      @reason = reason
      super("line #{line}: #{reason}")
    end
  end

  TYPES = %w[counter gauge histogram summary untyped].freeze
  METRIC_NAME = /\A[a-zA-Z_:][a-zA-Z0-9_:]*\z/
  LABEL_NAME = /\A[a-zA-Z_][a-zA-Z0-9_]*\z/
  # strconv.ParseFloat's decimal form and its special values (no hex, no _)
  DECIMAL = /\A[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\z/
  INFINITY = /\A([+-]?)inf(?:inity)?\z/i
  NAN = /\Anan\z/i
  INT64 = (-2**63..2**63 - 1).freeze
  LABEL_VALUE_ESCAPES = { '\\' => '\\', '"' => '"', 'n' => "\n" }.freeze
  HELP_ESCAPES = { '\\' => '\\', 'n' => "\n" }.freeze

  def self.parse(text)
    Parser.new(text).parse
  end

  # Go float syntax as the format takes it (see above); nil when +token+ is
  # not one. Raises RangeError when it overflows a float64.
  def self.parse_float(token)
    if token.match?(DECIMAL)
      # Ruby's Float() wants digits on both sides of the point
      normal = token.sub(/\A([+-]?)\./, '\10.').sub(/\.(?=[eE]|\z)/, '.0')
      value = without_warnings { Float(normal) }
      raise RangeError, "#{token} overflows a float64" if value.infinite?

      value
    elsif (m = INFINITY.match(token))
      m[1] == '-' ? -Float::INFINITY : Float::INFINITY
    elsif token.match?(NAN)
      Float::NAN
    end
  end

  # Float() warns (under -w) of a value out of range, which we report
  # ourselves.
  def self.without_warnings
    verbose = $VERBOSE
    $VERBOSE = nil
    yield
  ensure
    $VERBOSE = verbose
  end
  private_class_method :without_warnings

  # One sample line: labels is a frozen Hash of String => String in the
  # order written, value a Float, timestamp an Integer (ms) or nil.
  Sample = Struct.new(:name, :labels, :value, :timestamp, :line)

  # A metric family as declared (HELP, TYPE) or started by a sample.
  class Family
    attr_reader :name, :first_line, :samples
    attr_accessor :type, :help, :last_line, :typed_at, :helped_at

    def initialize(name, line)
      @name = name
      @first_line = line
      @last_line = line
      @type = nil
      @help = nil
      @samples = []
    end

    # The sample names this family's type allows
    def sample_names
      case type
      when 'counter' then [name.end_with?('_total') ? name : "#{name}_total"]
      when 'histogram' then %W[#{name}_bucket #{name}_sum #{name}_count]
      when 'summary' then [name, "#{name}_sum", "#{name}_count"]
      else [name]
      end
    end
  end

  # The parsed text.
  class Scrape
    def initialize(families, samples)
      @families = families.to_h do |name, family|
        [name, { type: family.type, help: family.help }.freeze]
      end.freeze
      @by_name = samples.group_by(&:name)
      @by_name.each_value(&:freeze)
      @by_name.freeze
    end

    # Hash of family name => { type: 'counter' (a String, as written; a
    # family with no TYPE line is 'untyped'), help: String or nil }, in the
    # order the families appear; includes families with no sample.
    attr_reader :families

    # The sample names present, in the order they first appear.
    def names
      @by_name.keys
    end

    # The value (Float) of the sample named +name+ whose label set is exactly
    # +labels+ (Symbol or String keys; values compared as Strings, via to_s),
    # or nil when there is none.
    def value(name, labels = {})
      wanted = normalize(labels)
      sample = @by_name.fetch(name.to_s, []).find { |s| s.labels == wanted }
      sample&.value
    end

    # [[labels (String keys and values), value (Float)], ...] of every
    # sample named +name+, in order ([] when there is none).
    def samples(name)
      @by_name.fetch(name.to_s, []).map { |s| [s.labels.dup, s.value] }
    end

    # The sum of the values of every sample named +name+, whatever its
    # labels (Float), or nil when there is none.
    def sum(name)
      found = @by_name[name.to_s]
      found&.sum(&:value)
    end

    private

    def normalize(labels)
      labels.each_with_object({}) do |(key, val), out|
        unless key.is_a?(Symbol) || key.is_a?(String)
          raise ArgumentError, "label name #{key.inspect} is not a Symbol or String"
        end
        raise ArgumentError, "label #{key} given twice" if out.key?(key.to_s)

        out[key.to_s] = val.to_s
      end
    end
  end

  # The reader proper (PrometheusText.parse).
  class Parser
    BLANKS = /[ \t]*/

    def initialize(text)
      raise ArgumentError, "expected a String, got #{text.class}" unless text.is_a?(String)

      @text = text.b
      @families = {}      # name => Family
      @owner = {}         # sample name => Family allowed to use it
      @samples = []
      @series = {}        # [name, sorted non-empty labels] => line
      @current = nil      # the Family whose group the last line was in
    end

    def parse
      lines = @text.split("\n", -1)
      last = lines.pop || '' # "" when the text ends with "\n" (or is empty)
      lines.each.with_index(1) do |line, number|
        @number = number
        read_line(line.force_encoding(Encoding::UTF_8))
      end
      raise FormatError.new(lines.size + 1, 'no "\n" at the end of the last line') unless last.empty?

      close_group
      Scrape.new(@families, @samples)
    end

    private

    def fail!(reason, line = @number)
      raise FormatError.new(line, reason)
    end

    def read_line(line)
      fail!('invalid UTF-8') unless line.valid_encoding?
      fail!('carriage return (lines end with "\n" alone)') if line.include?("\r")

      scanner = StringScanner.new(line)
      scanner.skip(BLANKS)
      if scanner.eos?
        nil # blank line
      elsif scanner.skip(/#/)
        read_comment(scanner)
      else
        read_sample(scanner)
      end
    end

    # --- HELP, TYPE and other comments

    def read_comment(scanner)
      scanner.skip(BLANKS)
      keyword = scanner.scan(/[^ \t]+/)
      return unless %w[HELP TYPE].include?(keyword)

      scanner.skip(BLANKS)
      name = scanner.scan(/[^ \t]+/)
      fail!("#{keyword} line without a metric name") unless name
      fail!("invalid metric name #{name.inspect} in #{keyword} line") unless name.match?(METRIC_NAME)
      scanner.skip(BLANKS)
      family = declare(name, keyword)
      if keyword == 'HELP'
        family.help = unescape(scanner.rest, HELP_ESCAPES, 'HELP text')
        family.helped_at = @number
      else
        set_type(family, scanner.rest.sub(/[ \t]+\z/, ''))
      end
    end

    # The family a HELP or TYPE line for +name+ is about, after checking it
    # may come here.
    def declare(name, keyword)
      family = @families[name]
      if family.nil?
        if (owner = @owner[name])
          fail!("#{keyword} line for #{name}, a sample name of #{owner.type} family #{owner.name}")
        end
        return start_group(Family.new(name, @number))
      end
      if keyword == 'HELP' && family.helped_at
        fail!("second HELP line for #{name} (first at line #{family.helped_at})")
      end
      if keyword == 'TYPE' && family.typed_at
        fail!("second TYPE line for #{name} (first at line #{family.typed_at})")
      end
      unless family.equal?(@current)
        fail!("lines for family #{name} are not contiguous (its group ended at line #{family.last_line})")
      end
      unless family.samples.empty?
        fail!("#{keyword} line for #{name} after its samples (line #{family.samples.first.line})")
      end

      family.last_line = @number
      family
    end

    def set_type(family, type)
      fail!("TYPE line for #{family.name} without a type") if type.empty?
      fail!("unknown metric type #{type.inspect} (expected one of #{TYPES.join(', ')})") unless TYPES.include?(type)

      family.type = type
      family.typed_at = @number
      claim(family)
    end

    # Reserves the family's sample names for it.
    def claim(family)
      family.sample_names.each do |sample_name|
        owner = @owner[sample_name]
        other = @families[sample_name]
        if other && !other.equal?(family)
          fail!("#{family.type} family #{family.name} would have samples named #{sample_name}, " \
                "the name of family #{sample_name} (line #{other.first_line})")
        elsif owner && !owner.equal?(family)
          fail!("#{family.type} family #{family.name} would have samples named #{sample_name}, " \
                "which belong to #{owner.type} family #{owner.name}")
        end
        @owner[sample_name] = family
      end
    end

    # --- samples

    def read_sample(scanner)
      name = scanner.scan(/[^ \t{]+/)
      fail!("expected a metric name, found #{scanner.rest.inspect}") unless name
      fail!("invalid metric name #{name.inspect}") unless name.match?(METRIC_NAME)

      scanner.skip(BLANKS)
      labels = scanner.peek(1) == '{' ? read_labels(scanner) : {}
      scanner.skip(BLANKS)
      token = scanner.scan(/[^ \t]+/)
      fail!("no value for #{name}") unless token
      value = read_value(token)
      timestamp = nil
      scanner.skip(BLANKS)
      unless scanner.eos?
        timestamp = read_timestamp(scanner.scan(/[^ \t]+/))
        scanner.skip(BLANKS)
        fail!("unexpected #{scanner.rest.inspect} after the timestamp") unless scanner.eos?
      end
      add_sample(Sample.new(name, labels.freeze, value, timestamp, @number))
    end

    def read_labels(scanner)
      scanner.getch # {
      labels = {}
      loop do
        scanner.skip(BLANKS)
        break if scanner.skip(/\}/)

        label = read_label_name(scanner, labels)
        scanner.skip(BLANKS)
        fail!("expected '=' after label name #{label}") unless scanner.skip(/=/)
        scanner.skip(BLANKS)
        fail!("expected '\"' to open the value of label #{label}") unless scanner.skip(/"/)
        labels[label] = read_label_value(scanner, label)
        scanner.skip(BLANKS)
        next if scanner.skip(/,/)
        break if scanner.skip(/\}/)

        fail!("expected ',' or '}' after the value of label #{label}, found #{scanner.rest.inspect}")
      end
      labels
    end

    def read_label_name(scanner, labels)
      label = scanner.scan(/[^ \t=,}"]+/)
      fail!("expected a label name or '}', found #{scanner.rest.inspect}") unless label
      fail!("invalid label name #{label.inspect}") unless label.match?(LABEL_NAME)
      fail!("label name #{label} is reserved (starts with __)") if label.start_with?('__')
      fail!("duplicate label name #{label}") if labels.key?(label)

      label
    end

    # Reads up to the closing quote (the opening one already read).
    def read_label_value(scanner, label)
      raw = +''
      loop do
        raw << scanner.scan(/[^"\\]*/)
        break if scanner.skip(/"/)
        fail!("unterminated value of label #{label}") unless scanner.skip(/\\/)
        fail!("unterminated value of label #{label} (ends in a backslash)") if scanner.eos?

        raw << '\\' << scanner.getch
      end
      unescape(raw, LABEL_VALUE_ESCAPES, "value of label #{label}")
    end

    def unescape(raw, escapes, what)
      raw.gsub(/\\(.?)/m) do
        escapes.fetch(Regexp.last_match(1)) do |char|
          fail!(char.empty? ? "#{what} ends in a backslash" : "invalid escape \\#{char} in #{what}")
        end
      end
    end

    def read_value(token)
      value = PrometheusText.parse_float(token)
      fail!("invalid value #{token.inspect} (not a Go float)") unless value
      value
    rescue RangeError
      fail!("value #{token} out of range for a float64")
    end

    def read_timestamp(token)
      fail!("invalid timestamp #{token.inspect} (not an integer)") unless token.match?(/\A[+-]?\d+\z/)

      timestamp = Integer(token, 10)
      fail!("timestamp #{token} out of range for an int64") unless INT64.cover?(timestamp)
      timestamp
    end

    # --- families and series

    def add_sample(sample)
      family = family_of(sample.name)
      check_sample(family, sample)
      # a label with an empty value is the same as no label at all
      key = [sample.name, sample.labels.reject { |_, v| v.empty? }.sort]
      if (first = @series[key])
        fail!("duplicate series #{sample.name}#{format_labels(sample.labels)} (first at line #{first})")
      end
      @series[key] = @number
      family.samples << sample
      family.last_line = @number
      @samples << sample
    end

    def family_of(name)
      current = @current
      if current
        if current.type.nil?
          current.type = 'untyped'
          claim(current)
        end
        return current if current.sample_names.include?(name)
      end
      if (owner = @owner[name])
        fail!("sample #{name} of #{owner.type} family #{owner.name} is not with the family's other lines " \
              "(its group ended at line #{owner.last_line})")
      end
      if (family = @families[name])
        fail!("sample #{name} does not belong to #{family.type} family #{name} " \
              "(its samples are named #{family.sample_names.join(', ')})")
      end
      family = start_group(Family.new(name, @number))
      family.type = 'untyped'
      claim(family)
      family
    end

    def check_sample(family, sample)
      case family.type
      when 'counter'
        fail!("counter #{sample.name} has the value #{sample.value}, not >= 0") unless sample.value >= 0
      when 'histogram'
        float_label(sample, 'le') if sample.name == "#{family.name}_bucket"
      when 'summary'
        float_label(sample, 'quantile') if sample.name == family.name
      end
    end

    def float_label(sample, label)
      text = sample.labels[label]
      fail!("#{sample.name} has no #{label} label") unless text
      value = PrometheusText.parse_float(text)
      fail!("#{label}=#{text.inspect} of #{sample.name} is not a float") unless value && !value.nan?
    rescue RangeError
      fail!("#{label}=#{text.inspect} of #{sample.name} is out of range for a float64")
    end

    def start_group(family)
      close_group
      @families[family.name] = family
      @current = family
    end

    # Ends the current family's group: a family with no TYPE is untyped from
    # now on, and a histogram's or summary's series are checked now that all
    # their samples are in.
    def close_group
      family = @current
      return unless family

      @current = nil
      unless family.type
        family.type = 'untyped'
        claim(family)
      end
      case family.type
      when 'histogram' then check_histogram(family)
      when 'summary' then check_order(family, family.name, 'quantile')
      end
    end

    def check_histogram(family)
      check_order(family, "#{family.name}_bucket", 'le')
      bucket = "#{family.name}_bucket"
      family.samples.group_by { |s| s.labels.reject { |k, _| k == 'le' && s.name == bucket }.sort }
            .each_value do |series|
        buckets = series.select { |s| s.name == bucket }
        top = buckets.find { |s| PrometheusText.parse_float(s.labels['le']) == Float::INFINITY }
        unless top
          fail!("histogram #{family.name}#{format_labels(series.first.labels.reject { |k, _| k == 'le' })} " \
                'has no le="+Inf" bucket', series.first.line)
        end

        count = series.find { |s| s.name == "#{family.name}_count" }
        next unless count && !(count.value == top.value || (count.value.nan? && top.value.nan?))

        fail!("#{count.name} is #{count.value} but its le=\"+Inf\" bucket (line #{top.line}) is #{top.value}",
              count.line)
      end
    end

    # The samples named +name+ of each series, in increasing +label+ order.
    def check_order(family, name, label)
      family.samples.select { |s| s.name == name }
            .group_by { |s| s.labels.reject { |k, _| k == label }.sort }
            .each_value do |series|
        series.each_cons(2) do |before, after|
          next if PrometheusText.parse_float(after.labels[label]) > PrometheusText.parse_float(before.labels[label])

          fail!("#{label}=\"#{after.labels[label]}\" comes after #{label}=\"#{before.labels[label]}\" " \
                "(line #{before.line}): not in increasing order", after.line)
        end
      end
    end

    def format_labels(labels)
      return '' if labels.empty?

      inner = labels.map do |k, v|
        "#{k}=\"#{v.gsub('\\', '\\\\\\\\').gsub('"', '\\"').gsub("\n", '\\n')}\""
      end
      "{#{inner.join(',')}}"
    end
  end
  private_constant :Parser, :Family, :Sample
end
