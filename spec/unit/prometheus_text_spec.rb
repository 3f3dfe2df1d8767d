# frozen_string_literal: true

require 'spec_helper'
require_relative '../support/prometheus_text'
require_relative '../support/proxy_protocol'

# The test helpers themselves: PrometheusText (spec/support/prometheus_text.rb)
# must accept what the format allows and refuse each thing it does not, and
# ProxyProtocol (spec/support/proxy_protocol.rb) must write the exact bytes of
# the HAProxy specification. No server is involved.
module EMWSSpec
  RSpec.describe PrometheusText do
    # A scrape shaped like the server's (render in metrics/prometheus.rs),
    # plus a histogram, a summary, a timestamp, escapes and comments.
    let(:valid) do
      <<~'TEXT'
        # HELP emws_connections Connections open (WebSocket or still in their handshake).
        # TYPE emws_connections gauge
        emws_connections 2
        # HELP emws_connections_accepted_total Connections accepted.
        # TYPE emws_connections_accepted_total counter
        emws_connections_accepted_total 3
        # HELP emws_messages_received_total Messages received, by type (control: ping, pong, close).
        # TYPE emws_messages_received_total counter
        emws_messages_received_total{type="text"} 5
        emws_messages_received_total{type="binary"} 1
        emws_messages_received_total{type="control"} 0
        # HELP emws_closes_received_total Close frames received, by status code.
        # TYPE emws_closes_received_total counter
        # TYPE requests counter
        # HELP requests Requests, with a back\\slash\nand a second line.
        requests_total{method="GET",code="200"} 1.5e3 1700000000000
        requests_total{ code = "404" , method = "GET" , } 7
        # A comment, then a blank line

        # TYPE latency histogram
        latency_bucket{le="0.05"} 1
        latency_bucket{le="0.5"} 3
        latency_bucket{le="+Inf"} 4
        latency_sum 2.25
        latency_count 4
        # TYPE rtt summary
        rtt{quantile="0.5"} 0.012
        rtt{quantile="0.99"} NaN
        rtt_sum 0.75
        rtt_count 60
        escaped{path="C:\\dir",quote="say \"hi\"",nl="a\nb",utf8="näive ✓"} -1
        no_labels{} +Inf
        untyped_one -Inf
      TEXT
    end

    def parse(text)
      PrometheusText.parse(text)
    end

    # Expects +text+ to be refused at +line+ for a reason matching +reason+.
    def expect_refused(text, line, reason)
      expect { parse(text) }.to raise_error(PrometheusText::FormatError) { |error|
        expect(error.line).to eq(line)
        expect(error.reason).to match(reason)
        expect(error.message).to eq("line #{line}: #{error.reason}")
      }
    end

    describe 'a valid exposition' do
      let(:scrape) { parse(valid) }

      it 'lists the families with their type and help, HELP escapes undone' do
        expect(scrape.families).to eq(
          'emws_connections' => { type: 'gauge', help: 'Connections open (WebSocket or still in their handshake).' },
          'emws_connections_accepted_total' => { type: 'counter', help: 'Connections accepted.' },
          'emws_messages_received_total' => { type: 'counter',
                                              help: 'Messages received, by type (control: ping, pong, close).' },
          'emws_closes_received_total' => { type: 'counter', help: 'Close frames received, by status code.' },
          'requests' => { type: 'counter', help: "Requests, with a back\\slash\nand a second line." },
          'latency' => { type: 'histogram', help: nil },
          'rtt' => { type: 'summary', help: nil },
          'escaped' => { type: 'untyped', help: nil },
          'no_labels' => { type: 'untyped', help: nil },
          'untyped_one' => { type: 'untyped', help: nil }
        )
      end

      it 'lists the sample names in order' do
        expect(scrape.names).to eq(%w[
          emws_connections emws_connections_accepted_total emws_messages_received_total requests_total
          latency_bucket latency_sum latency_count rtt rtt_sum rtt_count escaped no_labels untyped_one
        ])
      end

      it 'gives values by name and exact label set, Symbol or String keys' do
        expect(scrape.value('emws_connections')).to eq(2.0)
        expect(scrape.value('emws_connections_accepted_total')).to eq(3.0)
        expect(scrape.value('emws_messages_received_total', type: 'text')).to eq(5.0)
        expect(scrape.value('emws_messages_received_total', 'type' => 'binary')).to eq(1.0)
        expect(scrape.value('requests_total', method: 'GET', code: '200')).to eq(1500.0)
        expect(scrape.value('requests_total', code: 404, method: 'GET')).to eq(7.0)
        expect(scrape.value('latency_bucket', le: '+Inf')).to eq(4.0)
        expect(scrape.value('no_labels')).to eq(Float::INFINITY)
        expect(scrape.value('untyped_one')).to eq(-Float::INFINITY)
        expect(scrape.value('rtt', quantile: '0.99')).to be_nan
        expect(scrape.value(:latency_sum)).to eq(2.25)
      end

      it 'gives nil for a missing name, a label subset, superset or other value' do
        expect(scrape.value('emws_nope')).to be_nil
        expect(scrape.value('emws_messages_received_total')).to be_nil
        expect(scrape.value('requests_total', method: 'GET')).to be_nil
        expect(scrape.value('emws_connections', instance: 'x')).to be_nil
        expect(scrape.value('emws_messages_received_total', type: 'TEXT')).to be_nil
      end

      it 'refuses a label given twice as Symbol and String' do
        expect { scrape.value('requests_total', code: '200', 'code' => '200') }.to raise_error(ArgumentError)
      end

      it 'unescapes label values' do
        expect(scrape.samples('escaped')).to eq(
          [[{ 'path' => 'C:\\dir', 'quote' => 'say "hi"', 'nl' => "a\nb", 'utf8' => 'näive ✓' }, -1.0]]
        )
      end

      it 'lists samples with String-keyed labels, and sums them' do
        expect(scrape.samples('emws_messages_received_total')).to eq(
          [[{ 'type' => 'text' }, 5.0], [{ 'type' => 'binary' }, 1.0], [{ 'type' => 'control' }, 0.0]]
        )
        expect(scrape.samples('emws_connections')).to eq([[{}, 2.0]])
        expect(scrape.samples('emws_closes_received_total')).to eq([])
        expect(scrape.sum('emws_messages_received_total')).to eq(6.0)
        expect(scrape.sum('requests_total')).to eq(1507.0)
        expect(scrape.sum('emws_closes_received_total')).to be_nil
      end

      it 'does not let a caller change the scrape' do
        scrape.samples('emws_connections').first.first['x'] = 'y'
        expect(scrape.value('emws_connections')).to eq(2.0)
        expect(scrape.families).to be_frozen
      end

      it 'accepts an empty text, blank lines, comments and leading or trailing blanks' do
        expect(parse('').names).to eq([])
        text = "\n#\n# HELPS not help\n#HELP_ x\n  \t\n\tfoo{a=\"1\"}\t2 \n  # TYPE bar gauge \nbar 1\n"
        scrape = parse(text)
        expect(scrape.value('foo', a: '1')).to eq(2.0)
        expect(scrape.families['bar']).to eq(type: 'gauge', help: nil)
      end

      it 'accepts a HELP line with no text' do
        expect(parse("# HELP foo\nfoo 1\n").families['foo']).to eq(type: 'untyped', help: '')
      end
    end

    describe 'values' do
      {
        '0' => 0.0, '-0' => -0.0, '42' => 42.0, '+1' => 1.0, '007' => 7.0, '1.5' => 1.5, '1.' => 1.0,
        '.5' => 0.5, '-.5' => -0.5, '1e3' => 1000.0, '1E3' => 1000.0, '1.5e-3' => 0.0015, '2.E+2' => 200.0,
        '.5e1' => 5.0, '1e-400' => 0.0, '1.7976931348623157e308' => Float::MAX,
        '+Inf' => Float::INFINITY, '-Inf' => -Float::INFINITY, 'Inf' => Float::INFINITY,
        'inf' => Float::INFINITY, '-infinity' => -Float::INFINITY, '+Infinity' => Float::INFINITY
      }.each do |token, expected|
        it "reads #{token} as #{expected}" do
          value = parse("x #{token}\n").value('x')
          expect(value).to eq(expected)
          expect(value.to_s).to eq(expected.to_s) # -0.0 too
        end
      end

      %w[NaN nan NAN].each do |token|
        it "reads #{token} as NaN" do
          expect(parse("x #{token}\n").value('x')).to be_nan
        end
      end

      %w[1,5 0x10 0x1p-2 1_000 1e 1e+ . - + e3 ++1 1..2 1.2.3 Infx +NaN -NaN abc 1d 1f ∞ 0b1].each do |token|
        it "refuses #{token}" do
          expect_refused("x #{token}\n", 1, /invalid value/)
        end
      end

      it 'refuses a value too large for a float64' do
        expect_refused("ok 1\nx 1e400\n", 2, /out of range/)
        expect_refused("x -1.8e308\n", 1, /out of range/)
      end

      it 'refuses a sample without a value' do
        expect_refused("x\n", 1, /no value/)
        expect_refused("x{a=\"1\"}\n", 1, /no value/)
      end
    end

    describe 'timestamps' do
      it 'accepts an optional integer timestamp, signed or not' do
        expect(parse("x 1 1700000000000\ny 2 -5\nz 3 +7\nw 4 9223372036854775807\n").value('w')).to eq(4.0)
      end

      %w[1.5 1e3 abc 0x10 1_000 9223372036854775808 -9223372036854775809].each do |token|
        it "refuses the timestamp #{token}" do
          expect_refused("x 1 #{token}\n", 1, /timestamp/)
        end
      end

      it 'refuses anything after the timestamp' do
        expect_refused("x 1 2 3\n", 1, /after the timestamp/)
      end
    end

    describe 'lines' do
      it 'refuses a text whose last line has no "\n"' do
        expect_refused("x 1\ny 2", 2, /no "\\n" at the end/)
        expect_refused('# HELP x y', 1, /no "\\n" at the end/)
      end

      it 'refuses a carriage return' do
        expect_refused("x 1\r\n", 1, /carriage return/)
        expect_refused("x 1\ny 2\r\n", 2, /carriage return/)
      end

      it 'refuses invalid UTF-8' do
        expect_refused("x 1\ny{a=\"\xff\"} 1\n".b, 2, /invalid UTF-8/)
      end
    end

    describe 'HELP and TYPE' do
      it 'refuses HELP or TYPE without a metric name' do
        expect_refused("# HELP\n", 1, /HELP line without a metric name/)
        expect_refused("# TYPE   \n", 1, /TYPE line without a metric name/)
      end

      it 'refuses an invalid metric name in HELP or TYPE' do
        expect_refused("# HELP 1x help\n", 1, /invalid metric name "1x" in HELP/)
        expect_refused("# TYPE x-y counter\n", 1, /invalid metric name "x-y" in TYPE/)
      end

      it 'refuses TYPE without a type' do
        expect_refused("# TYPE x\n", 1, /TYPE line for x without a type/)
      end

      %w[Counter GAUGE int histogram_ stateset info].each do |type|
        it "refuses the type #{type}" do
          expect_refused("# TYPE x #{type}\n", 1, /unknown metric type "#{type}"/)
        end
      end

      it 'refuses text after the type' do
        expect_refused("# TYPE x gauge extra\n", 1, /unknown metric type "gauge extra"/)
      end

      it 'accepts each of the five types' do
        text = "# TYPE c counter\n# TYPE g gauge\n# TYPE h histogram\n# TYPE s summary\n# TYPE u untyped\n"
        expect(parse(text).families.transform_values { |f| f[:type] })
          .to eq('c' => 'counter', 'g' => 'gauge', 'h' => 'histogram', 's' => 'summary', 'u' => 'untyped')
      end

      it 'refuses a second HELP or TYPE for a family' do
        expect_refused("# HELP x a\n# HELP x b\n", 2, /second HELP line for x \(first at line 1\)/)
        expect_refused("# TYPE x gauge\n# HELP x a\n# TYPE x gauge\n", 3, /second TYPE line for x/)
        expect_refused("# TYPE x gauge\nx 1\n# TYPE y gauge\n# TYPE x gauge\n", 4, /second TYPE line for x/)
      end

      it 'refuses TYPE or HELP after the family\'s samples' do
        expect_refused("x 1\n# TYPE x gauge\n", 2, /TYPE line for x after its samples \(line 1\)/)
        expect_refused("# TYPE x gauge\nx 1\n# HELP x late\n", 3, /HELP line for x after its samples/)
      end

      it 'refuses escapes other than \\\\ and \\n in HELP' do
        expect_refused("# HELP x say \\\"hi\\\"\n", 1, /invalid escape \\" in HELP text/)
        expect_refused("# HELP x tab\\t\n", 1, /invalid escape \\t in HELP text/)
        expect_refused("# HELP x trailing\\\n", 1, /HELP text ends in a backslash/)
      end

      it 'refuses HELP or TYPE for the sample name of another family' do
        expect_refused("# TYPE x counter\n# HELP x_total help\n", 2, /x_total, a sample name of counter family x/)
        expect_refused("# TYPE h histogram\n# TYPE h_bucket gauge\n", 2, /sample name of histogram family h/)
      end

      it 'refuses a TYPE whose sample names another family already has' do
        expect_refused("x_total 1\n# TYPE x counter\n", 2, /samples named x_total, the name of family x_total/)
        expect_refused("s_sum 1\n# TYPE s summary\n", 2, /samples named s_sum, the name of family s_sum/)
      end
    end

    describe 'families' do
      it 'refuses samples of a family split by another family' do
        expect_refused("# TYPE x gauge\nx{a=\"1\"} 1\ny 1\nx{a=\"2\"} 2\n", 4,
                       /sample x of gauge family x is not with the family's other lines \(its group ended at line 2/)
        expect_refused("a 1\nb 1\na{l=\"x\"} 1\n", 3, /sample a of untyped family a is not with/)
      end

      it 'refuses HELP or TYPE for a family whose group has ended' do
        expect_refused("# HELP x a\ny 1\n# TYPE x gauge\n", 3, /lines for family x are not contiguous/)
        expect_refused("# HELP x a\n# HELP y b\nx 1\n", 3, /sample x of untyped family x is not with/)
      end

      it 'refuses a sample named as the counter family when that does not end in _total' do
        expect_refused("# TYPE x counter\nx 1\n", 2,
                       /sample x does not belong to counter family x \(its samples are named x_total\)/)
      end

      it 'accepts a counter named with or without _total in TYPE' do
        scrape = parse("# TYPE a counter\na_total 1\n# TYPE b_total counter\nb_total 2\n")
        expect(scrape.families.keys).to eq(%w[a b_total])
        expect(scrape.names).to eq(%w[a_total b_total])
        expect(scrape.value('a_total')).to eq(1.0)
        expect(scrape.value('b_total')).to eq(2.0)
      end

      it 'takes <family>_total_total after a counter family named b_total for an untyped family' do
        expect(parse("# TYPE b_total counter\nb_total_total 1\n").families['b_total_total'])
          .to eq(type: 'untyped', help: nil)
      end

      it 'refuses a negative or NaN counter' do
        expect_refused("# TYPE x counter\nx_total{a=\"1\"} 0\nx_total{a=\"2\"} -1\n", 3,
                       /counter x_total has the value -1.0, not >= 0/)
        expect_refused("# TYPE x_total counter\nx_total NaN\n", 2, /not >= 0/)
        expect_refused("# TYPE x counter\nx_total -Inf\n", 2, /not >= 0/)
      end

      it 'accepts a negative gauge and untyped value' do
        expect(parse("# TYPE g gauge\ng -3\nu -4\n").sum('g')).to eq(-3.0)
      end

      it 'starts an untyped family at a sample with no TYPE' do
        expect(parse("x_total 1\n").families).to eq('x_total' => { type: 'untyped', help: nil })
      end
    end

    describe 'histograms and summaries' do
      it 'refuses a bucket without a float le' do
        expect_refused("# TYPE h histogram\nh_bucket 1\n", 2, /h_bucket has no le label/)
        expect_refused("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 2, /le="x" of h_bucket is not a float/)
      end

      it 'refuses a summary quantile without a float quantile label' do
        expect_refused("# TYPE s summary\ns 1\n", 2, /s has no quantile label/)
        expect_refused("# TYPE s summary\ns{quantile=\"NaN\"} 1\n", 2, /quantile="NaN" of s is not a float/)
      end

      it 'refuses a histogram without an le="+Inf" bucket' do
        expect_refused("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n", 2,
                       /histogram h has no le="\+Inf" bucket/)
        expect_refused("# TYPE h histogram\nh_sum{a=\"x\"} 1\n", 2, /histogram h\{a="x"\} has no le="\+Inf" bucket/)
      end

      it 'refuses a histogram whose _count differs from its +Inf bucket' do
        expect_refused("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n", 3,
                       /h_count is 3.0 but its le="\+Inf" bucket \(line 2\) is 2.0/)
      end

      it 'refuses buckets and quantiles out of order, series by series' do
        text = "# TYPE h histogram\nh_bucket{a=\"x\",le=\"1\"} 1\nh_bucket{a=\"y\",le=\"0.5\"} 1\n" \
               "h_bucket{a=\"x\",le=\"0.5\"} 1\n"
        expect_refused(text, 4, /le="0.5" comes after le="1" \(line 2\)/)
        expect_refused("# TYPE s summary\ns{quantile=\"0.9\"} 1\ns{quantile=\"0.5\"} 1\n", 3,
                       /quantile="0.5" comes after quantile="0.9"/)
      end

      it 'checks a histogram when its group ends, before the next family' do
        expect_refused("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nnext 1\n", 2, /no le="\+Inf" bucket/)
      end

      it 'accepts series of a histogram with other labels' do
        text = "# TYPE h histogram\nh_bucket{a=\"x\",le=\"1\"} 1\nh_bucket{a=\"x\",le=\"+Inf\"} 2\n" \
               "h_bucket{le=\"+Inf\",a=\"y\"} 0\nh_count{a=\"x\"} 2\nh_count{a=\"y\"} 0\n"
        expect(parse(text).sum('h_count')).to eq(2.0)
      end
    end

    describe 'metric names' do
      %w[1x x-y x.y é x$ x/y].each do |name|
        it "refuses the metric name #{name}" do
          expect_refused("#{name} 1\n", 1, /invalid metric name/)
        end
      end

      it 'accepts colons and underscores' do
        expect(parse(":a_b:c9 1\n_x 2\n").names).to eq(%w[:a_b:c9 _x])
      end

      it 'refuses a line starting with a label set' do
        expect_refused("{a=\"1\"} 1\n", 1, /expected a metric name/)
      end
    end

    describe 'labels' do
      %w[1a a-b a:b a.b é].each do |label|
        it "refuses the label name #{label}" do
          expect_refused("x{#{label}=\"1\"} 1\n", 1, /invalid label name/)
        end
      end

      it 'refuses a reserved label name' do
        expect_refused("x{__name__=\"y\"} 1\n", 1, /label name __name__ is reserved/)
      end

      it 'refuses a duplicate label name in one sample' do
        expect_refused("x{a=\"1\",b=\"2\",a=\"1\"} 1\n", 1, /duplicate label name a/)
      end

      it 'refuses an unquoted or single-quoted label value' do
        expect_refused("x{a=1} 1\n", 1, /expected '"' to open the value of label a/)
        expect_refused("x{a='1'} 1\n", 1, /expected '"' to open/)
      end

      it 'refuses an unterminated label value' do
        expect_refused("x{a=\"1} 1\n", 1, /unterminated value of label a/)
        expect_refused("x{a=\"1\\\n", 1, /unterminated value of label a/)
      end

      it 'refuses escapes other than \\\\, \\" and \\n in a label value' do
        expect_refused("x{a=\"\\t\"} 1\n", 1, /invalid escape \\t in value of label a/)
        expect_refused("x{a=\"\\u00e9\"} 1\n", 1, /invalid escape \\u/)
        expect_refused("x{a=\"\\'\"} 1\n", 1, /invalid escape \\'/)
      end

      it 'refuses a missing =, comma or closing brace' do
        expect_refused("x{a} 1\n", 1, /expected '=' after label name a/)
        expect_refused("x{a=\"1\" b=\"2\"} 1\n", 1, /expected ',' or '}'/)
        expect_refused("x{a=\"1\" 1\n", 1, /expected ',' or '}'/)
        expect_refused("x{,} 1\n", 1, /expected a label name or '}'/)
        expect_refused("x{a=\"1\",,b=\"2\"} 1\n", 1, /expected a label name or '}'/)
      end
    end

    describe 'series' do
      it 'refuses the same name and labels twice, whatever the label order' do
        expect_refused("x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n", 2,
                       /duplicate series x\{b="2",a="1"\} \(first at line 1\)/)
        expect_refused("x 1\nx 2\n", 2, /duplicate series x \(first at line 1\)/)
        expect_refused("x 1\nx{} 2\n", 2, /duplicate series x/)
        expect_refused("x{a=\"1\"} 1\nx{a=\"1\",b=\"\"} 2\n", 2, /duplicate series x\{a="1",b=""\}/)
      end

      it 'accepts the same labels with another value' do
        expect(parse("x{a=\"1\"} 1\nx{a=\"2\"} 2\nx 3\n").sum('x')).to eq(6.0)
      end
    end

    it 'reports the first error of a text by line' do
      expect_refused("x 1\ny 1\n# TYPE z bogus\nw{a=1} 1\n", 3, /unknown metric type/)
    end
  end

  RSpec.describe ProxyProtocol do
    let(:signature) { "\r\n\r\n\x00\r\nQUIT\n".b }

    describe '.v1' do
      it 'writes TCP4 for IPv4 addresses' do
        expect(ProxyProtocol.v1('127.0.0.1', '10.0.0.2', 1000, 2000))
          .to eq("PROXY TCP4 127.0.0.1 10.0.0.2 1000 2000\r\n".b)
        expect(ProxyProtocol.v1('255.255.255.255', '0.0.0.0', 65_535, 0))
          .to eq("PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n")
      end

      it 'writes TCP6 for IPv6 addresses' do
        expect(ProxyProtocol.v1('::1', '2001:DB8:0:0:0:0:0:1', 1, 443)).to eq("PROXY TCP6 ::1 2001:db8::1 1 443\r\n")
      end

      it 'takes IPAddr too, and returns a binary String' do
        header = ProxyProtocol.v1(IPAddr.new('192.0.2.1'), IPAddr.new('192.0.2.2'), 5, 6)
        expect(header).to eq("PROXY TCP4 192.0.2.1 192.0.2.2 5 6\r\n")
        expect(header.encoding).to eq(Encoding::BINARY)
        expect(header).not_to be_frozen
      end

      it 'refuses mixed families, networks, bad addresses and ports' do
        expect { ProxyProtocol.v1('127.0.0.1', '::1', 1, 2) }.to raise_error(ArgumentError, /one address family/)
        expect { ProxyProtocol.v1('10.0.0.0/8', '10.0.0.1', 1, 2) }.to raise_error(ArgumentError, /network/)
        expect { ProxyProtocol.v1('localhost', '10.0.0.1', 1, 2) }.to raise_error(ArgumentError, /invalid IP address/)
        expect { ProxyProtocol.v1('10.0.0.1', '10.0.0.1', 65_536, 2) }.to raise_error(ArgumentError, /port/)
        expect { ProxyProtocol.v1('10.0.0.1', '10.0.0.1', 1, '2') }.to raise_error(ArgumentError, /port/)
      end
    end

    describe '.v1_unknown' do
      it 'is PROXY UNKNOWN' do
        expect(ProxyProtocol.v1_unknown).to eq("PROXY UNKNOWN\r\n".b)
        expect(ProxyProtocol.v1_unknown.encoding).to eq(Encoding::BINARY)
      end
    end

    describe '.v2' do
      it 'writes PROXY, AF_INET STREAM, 12 bytes of addresses and ports' do
        header = ProxyProtocol.v2('127.0.0.1', '127.0.0.1', 1000, 2000)
        expect(header).to eq(
          signature + "\x21\x11\x00\x0c".b + "\x7f\x00\x00\x01\x7f\x00\x00\x01".b + "\x03\xe8\x07\xd0".b
        )
        expect(header.bytesize).to eq(28)
        expect(header.encoding).to eq(Encoding::BINARY)
      end

      it 'writes PROXY, AF_INET6 STREAM, 36 bytes of addresses and ports' do
        header = ProxyProtocol.v2('::1', '2001:db8::2', 443, 65_535)
        expect(header).to eq(
          signature + "\x21\x21\x00\x24".b +
          ("\x00".b * 15) + "\x01".b +
          "\x20\x01\x0d\xb8".b + ("\x00".b * 11) + "\x02".b +
          "\x01\xbb\xff\xff".b
        )
      end

      it 'appends TLVs in order and counts them in the length' do
        tlvs = [[ProxyProtocol::PP2_TYPE_AUTHORITY, 'ex.com'], [0xE0, "\x00\xff".b], [ProxyProtocol::PP2_TYPE_NOOP, '']]
        header = ProxyProtocol.v2('10.1.2.3', '10.4.5.6', 1, 2, tlvs: tlvs)
        expect(header).to eq(
          signature + "\x21\x11\x00\x1d".b + "\x0a\x01\x02\x03\x0a\x04\x05\x06\x00\x01\x00\x02".b +
          "\x02\x00\x06ex.com".b + "\xe0\x00\x02\x00\xff".b + "\x04\x00\x00".b
        )
      end

      it 'writes a TLV value as its UTF-8 bytes' do
        header = ProxyProtocol.v2('10.0.0.1', '10.0.0.2', 1, 2, tlvs: [[1, 'é']])
        expect(header.byteslice(28..)).to eq("\x01\x00\x02\xc3\xa9".b)
      end

      it 'refuses bad TLVs and mixed families' do
        v2 = ->(tlvs) { ProxyProtocol.v2('10.0.0.1', '10.0.0.2', 1, 2, tlvs: tlvs) }
        expect { v2.call([[256, 'x']]) }.to raise_error(ArgumentError, /TLV type/)
        expect { v2.call([[-1, 'x']]) }.to raise_error(ArgumentError, /TLV type/)
        expect { v2.call([[1, 2]]) }.to raise_error(ArgumentError, /TLV value/)
        expect { v2.call([[1, 'x' * 65_536]]) }.to raise_error(ArgumentError, /65535/)
        expect { ProxyProtocol.v2('::1', '10.0.0.2', 1, 2) }.to raise_error(ArgumentError, /one address family/)
      end
    end

    describe '.v2_local' do
      it 'writes LOCAL, UNSPEC and no address' do
        expect(ProxyProtocol.v2_local).to eq(signature + "\x20\x00\x00\x00".b)
        expect(ProxyProtocol.v2_local.encoding).to eq(Encoding::BINARY)
      end
    end
  end
end
