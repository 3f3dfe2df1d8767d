# frozen_string_literal: true

require 'spec_helper'
require 'http_parser'

module EMWSSpec
  # em-websocket reads the opening request with http_parser.rb (nodejs
  # http-parser) and reports a byte it rejects as the HandshakeError
  # "Invalid HTTP header: Could not parse data entirely (N != LEN)": N the
  # byte's offset in the read that brought it, LEN that read's length.
  module HttpParserHeads
    CORPUS = File.join(ROOT, 'ext', 'emws-core', 'tests', 'data', 'http_parser_heads.txt')

    module_function

    # The inputs of the core's corpus (ext/emws-core/tests/data, see
    # http_parser_heads.rb there); their answers are worked out afresh here.
    def inputs
      bases = []
      File.foreach(CORPUS, chomp: true).filter_map do |line|
        if line.start_with?('#base ')
          bases << unescape(line.delete_prefix('#base '))
          next
        end
        next if line.start_with?('#')

        source, = line.split(' ')
        build(bases, source)
      end
    end

    def unescape(text)
      text.b.gsub(/%(\h\h)/n) { Regexp.last_match(1).hex.chr }.b
    end

    def build(bases, source)
      first, *edits = source.split(',')
      bytes = first.start_with?('b') ? bases.fetch(first[1..].to_i).dup : unescape(first[1..])
      edits.each do |edit|
        case edit
        when /\Ar(\d+)\+(\d+)=(.*)\z/ then bytes[$1.to_i, $2.to_i] = unescape($3)
        when /\At(\d+)\z/ then bytes = bytes.byteslice(0, $1.to_i)
        when /\Ap(\d+)=(\h\h)\*(\d+)\z/ then bytes[$1.to_i, 0] = $2.hex.chr * $3.to_i
        else raise "unknown edit #{edit}"
        end
      end
      bytes.b
    end

    POLICY = '<policy-file-request'.b

    # em-websocket-rs's Handshake tells a Flash policy request (or the start
    # of one) before parsing; em-websocket does that in Connection#dispatch,
    # and its Handshake parses one as HTTP.
    def policy_request?(bytes)
      bytes.start_with?(POLICY) || POLICY.start_with?(bytes)
    end

    # The input up to the end of the head as http-parser sees it: what comes
    # after (a body, the next request) is not what is compared here.
    def head(bytes)
      parser = Http::Parser.new
      parser.on_headers_complete = proc { :stop }
      length = parser << bytes
      length.is_a?(Integer) && length < bytes.bytesize ? bytes.byteslice(0, length) : bytes
    rescue HTTP::Parser::Error
      bytes
    end

    # em-websocket's message for bytes arriving in one read, when its parser
    # rejects one of them.
    def expected(bytes)
      parser = Http::Parser.new
      parser.on_headers_complete = proc { nil } # as em-websocket's
      parser << bytes
      nil
    rescue HTTP::Parser::Error => e
      "Invalid HTTP header: #{e.message}"
    end

    # The handshake's error, fed `reads` one receive_data at a time.
    def actual(*reads)
      handshake = EM::WebSocket::Handshake.new(false)
      message = nil
      handshake.errback { |error| message = error.message }
      reads.each { |data| handshake.receive_data(data) }
      message
    rescue StandardError => e
      "raised #{e.class}: #{e.message}"
    end
  end

  RSpec.describe 'malformed request heads (http_parser.rb errors)' do
    it "reports em-websocket's own examples as its parser does" do
      expect(HttpParserHeads.actual("This is not a HTTP header\r\n\r\n"))
        .to eq('Invalid HTTP header: Could not parse data entirely (1 != 29)')
      expect(HttpParserHeads.actual("\r\n\r\nfoobar"))
        .to eq('Invalid HTTP header: Could not parse data entirely (4 != 10)')
      expect(HttpParserHeads.actual("XYZ / HTTP/1.1\r\n\r\n"))
        .to eq('Invalid HTTP header: Could not parse data entirely (0 != 18)')
    end

    it 'fails at the first wrong byte, before the head is complete' do
      expect(HttpParserHeads.actual('get / HT')).to eq('Invalid HTTP header: Could not parse data entirely (0 != 8)')
    end

    it 'rejects heads that only http-parser finds wrong' do
      expect(HttpParserHeads.actual("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n"))
        .to eq('Invalid HTTP header: Could not parse data entirely (41 != 46)')
    end

    it 'counts from the start of the read that brought the byte' do
      expect(HttpParserHeads.actual("GET / HTTP/1.1\r\n", "Host: x\x01\r\n\r\n"))
        .to eq('Invalid HTTP header: Could not parse data entirely (7 != 12)')
    end

    it 'agrees with http_parser.rb on every input of the core corpus' do
      inputs = HttpParserHeads.inputs
      expect(inputs.size).to be > 20_000
      mismatches = inputs.filter_map do |input|
        bytes = HttpParserHeads.head(input)
        next if HttpParserHeads.policy_request?(bytes)

        want = HttpParserHeads.expected(bytes)
        got = HttpParserHeads.actual(bytes)
        agree = want ? got == want : !got.to_s.include?('Could not parse')
        "#{bytes.inspect[0, 200]}: expected #{want.inspect}, got #{got.inspect}" unless agree
      end
      expect(mismatches.size).to eq(0),
                                 "#{mismatches.size} of #{inputs.size} disagree:\n#{mismatches.first(20).join("\n")}"
    end
  end
end
