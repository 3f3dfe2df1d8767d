//! The model against known answers of http_parser.rb (Http::Parser).

use super::*;

fn offset(head: &[u8]) -> Option<usize> {
    error_offset(head)
}

#[test]
fn complete_heads_are_accepted() {
    for head in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /chat?x=1#f HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\nHost: x\n\n",
        b"GET http://example.com:80/a HTTP/1.1\r\n\r\n",
        b"GET * HTTP/1.1\r\n\r\n",
        b"GET /\r\n\r\n",
        b"M-SEARCH * HTTP/1.1\r\n\r\n",
        b"SOURCE / ICE/1.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"HEAD / HTTP/1.1\r\n\r\n",
        // The non-strict build: any letters after the H of HTTP, spaces
        // in names, tab in the target, any byte after CR.
        b"GET / HXYZ/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET /a\tb HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\rX",
        b"GET / HTTP/1.1\r\nHost:\rx\r\n\r\n",
        b"GET /\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /\u{e9} HTTP/1.1\r\nX: \u{e9}\r\n\r\n".as_bytes(),
    ] {
        assert_eq!(offset(head), None, "{:?}", String::from_utf8_lossy(head));
        assert!(
            matches!(outcome(head, 0), Outcome::Complete(_)),
            "{:?}",
            String::from_utf8_lossy(head)
        );
    }
}

#[test]
fn head_length() {
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        outcome(&[&head[..], b"rest"].concat(), 0),
        Outcome::Complete(head.len())
    );
    assert_eq!(outcome(b"GET / HTTP/1.1\n\nrest", 0), Outcome::Complete(16));
    assert_eq!(
        outcome(b"GET / HTTP/1.1\r\n\rXrest", 0),
        Outcome::Complete(18)
    );
}

#[test]
fn incomplete_heads_wait() {
    let head = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\r\n";
    for end in 0..head.len() {
        assert_eq!(outcome(&head[..end], 0), Outcome::Incomplete, "{end}");
    }
}

// Each confirmed against Http::Parser (ruby-http-parser.rb 0.6.0 on
// libhttp_parser.so.2.9): "Could not parse data entirely (N != LEN)".
#[test]
fn rejected_bytes() {
    for (head, at) in [
        (&b"This is not a HTTP header\r\n\r\n"[..], 1),
        (b"XYZ / HTTP/1.1\r\n\r\n", 0),
        (b"\r\n\r\nfoobar", 4),
        (b"get / HTTP/1.1\r\n\r\n", 0),
        (b"GeT / HTTP/1.1\r\n\r\n", 1),
        (b"HXX", 1),
        (b"GET / HTTP/1.12\r\n\r\n", 14),
        (b"GET / HTTP/12.1\r\n\r\n", 12),
        (b"GET / HTTP/1.1\r\nNo Colon\r\n\r\n", 24),
        (b"\x16\x03\x01\x00\xa5\x01\x00", 0),
        (b"GET  /a b HTTP/1.1\r\n\r\n", 8),
        (b"GET / HTTP/1.1\rX\r\n\r\n", 15),
        (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 24),
        (b"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n", 23),
        (b"GET / HTTP/1.1\r\nHost: \x01b\x01\r\n\r\n", 24),
        (b"GET / HTTP/1.1\r\n(x): y\r\n\r\n", 16),
        (b"GET /a<\"{}|\\^`b> /c HTTP/1.1\r\n\r\n", 17),
        (b"GET http//x HTTP/1.1\r\n\r\n", 8),
        (b"GET http:/ HTTP/1.1\r\n\r\n", 10),
        (b"GET h\xc3 HTTP/1.1\r\n\r\n", 5),
        (b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 33),
        (b"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 33),
        (
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            51,
        ),
        (
            b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\n",
            61,
        ),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 42),
        (b"GET / HTTP/1.1\r\nTransfer-Encodingx: y\r\n\r\n", 40),
        (
            b"GET /\r\nTransfer-Encoding: chunked\r\nTransfer-Encodingx: y\r\n\r\n",
            59,
        ),
        (
            b"GET /\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
            61,
        ),
        (b"HTTP/1.1 2000 OK\r\n\r\n", 12),
        (b"HTTP/1.1 20x OK\r\n\r\n", 11),
    ] {
        assert_eq!(
            offset(head),
            Some(at),
            "{:?}",
            String::from_utf8_lossy(head)
        );
    }
}

#[test]
fn upgrades_may_have_any_transfer_encoding() {
    let head = b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n";
    assert_eq!(outcome(head, 0), Outcome::Complete(head.len()));
}

#[test]
fn header_size_limit() {
    let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
    head.resize(MAX_HEADER_SIZE + 10, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    // Counted once the value ends.
    assert_eq!(offset(&head), Some(MAX_HEADER_SIZE + 10));
    // A read that ends inside the value: counted there.
    assert_eq!(
        outcome(&head, MAX_HEADER_SIZE + 5),
        Outcome::Rejected(MAX_HEADER_SIZE + 4)
    );
    // Bytes counted one at a time in the request line.
    let mut line = b"GET /".to_vec();
    line.resize(MAX_HEADER_SIZE + 10, b'a');
    assert_eq!(offset(&line), Some(MAX_HEADER_SIZE));
}

/// Visible ASCII as is, any other byte (and `%`, `,`) as `%HH`.
fn unescape(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    bytes
}

/// Rebuilds an input of tests/data/http_parser_heads.txt.
fn corpus_input(bases: &[Vec<u8>], source: &str) -> Vec<u8> {
    let mut parts = source.split(',');
    let first = parts.next().unwrap();
    let mut bytes = match first.strip_prefix('b') {
        Some(index) => bases[index.parse::<usize>().unwrap()].clone(),
        None => unescape(first.strip_prefix('x').unwrap()),
    };
    for edit in parts {
        let (kind, args) = edit.split_at(1);
        match kind {
            "r" => {
                let (range, with) = args.split_once('=').unwrap();
                let (pos, len) = range.split_once('+').unwrap();
                let pos: usize = pos.parse().unwrap();
                let len: usize = len.parse().unwrap();
                bytes.splice(pos..pos + len, unescape(with));
            }
            "t" => bytes.truncate(args.parse().unwrap()),
            "p" => {
                let (pos, fill) = args.split_once('=').unwrap();
                let (byte, count) = fill.split_once('*').unwrap();
                let pos: usize = pos.parse().unwrap();
                let fill = vec![u8::from_str_radix(byte, 16).unwrap(); count.parse().unwrap()];
                bytes.splice(pos..pos, fill);
            }
            _ => panic!("unknown edit {edit}"),
        }
    }
    bytes
}

struct Case {
    source: String,
    input: Vec<u8>,
    /// Where the second read begins (0: one read).
    split: usize,
    /// The real parser's answer.
    expected: Outcome,
}

/// The inputs of tests/data/http_parser_heads.txt (generated by
/// http_parser_heads.rb there), with the answers of the real parser:
/// Debian's ruby-http-parser.rb on libhttp_parser.so.2.9 (2.9.4-5).
fn corpus() -> Vec<Case> {
    let corpus = include_str!("../../../tests/data/http_parser_heads.txt");
    let mut bases = Vec::new();
    let mut cases = Vec::new();
    for line in corpus.lines() {
        if let Some(base) = line.strip_prefix("#base ") {
            bases.push(unescape(base));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let [source, split, answer] = fields[..] else {
            panic!("bad line {line:?}");
        };
        cases.push(Case {
            source: source.to_owned(),
            input: corpus_input(&bases, source),
            split: if split == "-" {
                0
            } else {
                split.parse().unwrap()
            },
            expected: match answer.split_at(1) {
                ("E", at) => Outcome::Rejected(at.parse().unwrap()),
                ("C", len) => Outcome::Complete(len.parse().unwrap()),
                ("I", "") => Outcome::Incomplete,
                _ => panic!("bad answer {answer:?}"),
            },
        });
    }
    assert!(cases.len() > 20_000, "{} cases", cases.len());
    cases
}

fn show(input: &[u8]) -> String {
    format!(
        "{:?}",
        String::from_utf8_lossy(&input[..input.len().min(300)])
    )
}

fn assert_none(disagreements: Vec<String>, cases: usize) {
    assert!(
        disagreements.is_empty(),
        "{} of {cases} disagree:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(30)].join("\n")
    );
}

#[test]
fn agrees_with_http_parser_rb() {
    let cases = corpus();
    let disagreements: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let actual = outcome(&case.input, case.split);
            (actual != case.expected).then(|| {
                format!(
                    "{} {}: http-parser {:?}, emulation {actual:?}: {}",
                    case.source,
                    case.split,
                    case.expected,
                    show(&case.input)
                )
            })
        })
        .collect();
    assert_none(disagreements, cases.len());
}

/// What spec/integration/http_parser_errors_spec.rb checks through the
/// Ruby binding: a head (cut where the real parser ends it) read in one
/// go fails with em-websocket's message exactly when its parser rejects
/// a byte.
#[test]
fn read_preface_reports_what_http_parser_rb_rejects() {
    const POLICY: &[u8] = b"<policy-file-request";
    let cases = corpus();
    let mut disagreements = Vec::new();
    for case in cases.iter().filter(|case| case.split == 0) {
        let input = &case.input;
        let head = match case.expected {
            Outcome::Complete(len) => &input[..len],
            Outcome::Rejected(at) => &input[..at + 1],
            Outcome::Incomplete => input,
        };
        if head.starts_with(POLICY) || POLICY.starts_with(head) {
            continue; // a Flash policy request, told before parsing
        }
        let expected = match case.expected {
            Outcome::Rejected(at) => Some(format!(
                "Invalid HTTP header: Could not parse data entirely ({at} != {})",
                head.len()
            )),
            Outcome::Complete(_) | Outcome::Incomplete => None,
        };
        let actual = crate::handshake::read_preface(head, 0, 1024 * 1024)
            .err()
            .map(|e| e.message);
        let agree = match &expected {
            Some(message) => actual.as_ref() == Some(message),
            None => !actual
                .as_deref()
                .is_some_and(|m| m.contains("Could not parse")),
        };
        if !agree {
            disagreements.push(format!(
                "{}: expected {expected:?}, got {actual:?}: {}",
                case.source,
                show(head)
            ));
        }
    }
    assert_none(disagreements, cases.len());
}
