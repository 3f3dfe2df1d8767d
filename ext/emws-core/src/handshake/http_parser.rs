//! Where em-websocket's HTTP parser rejects a request head.
//!
//! em-websocket reads the opening request with http_parser.rb
//! (`Http::Parser.new`), a wrapper of nodejs http-parser; Debian's build
//! links libhttp_parser.so.2.9: v2.9.4 with Debian's patches (2.9.4-5),
//! built without `HTTP_PARSER_STRICT` (as its behaviour shows).
//! For each chunk it is fed, `http_parser_execute` returns how many bytes it
//! took, which on an error is the offset of the offending byte in that
//! chunk, and http_parser.rb raises "Could not parse data entirely
//! (offset != chunk length)".
//!
//! This module tells which byte that is, by following the parser's states
//! from the first byte to the blank line that ends the headers, as
//! `Http::Parser.new` sets it up:
//!
//! * either a request or a response: a first line starting `HT` is a status
//!   line, and a status line is accepted;
//! * the non-strict build: the letters of `HTTP/` after its `H` are not
//!   checked, a CR need not be followed by LF at the blank line or in an
//!   empty header value, spaces are allowed in header names, tab and form
//!   feed in the target;
//! * header values strict (no control bytes): http_parser.rb does not ask
//!   for lenient headers;
//! * at most 80 KiB of request line and headers (`HTTP_MAX_HEADER_SIZE`);
//! * Debian's fix for CVE-2020-8287: a `Transfer-Encoding` header cancels
//!   the `chunked` of an earlier one.
//!
//! Bytes after the head (body, next message, frames) are not looked at.

/// `HTTP_MAX_HEADER_SIZE`
const MAX_HEADER_SIZE: usize = 80 * 1024;

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// "No Content-Length" (the parser's `ULLONG_MAX`).
const NO_LENGTH: u64 = u64::MAX;

/// What the parser makes of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It rejects the byte at this offset.
    Rejected(usize),
    /// It accepts the head, which is this many bytes long.
    Complete(usize),
    /// It accepts every byte and waits for more.
    Incomplete,
}

/// The offset of the first byte of `head` that http-parser 2.9.4 (as
/// em-websocket uses it) rejects, when `head` arrives in one read; `None`
/// when it rejects none of the bytes up to the end of the head (or of the
/// input, if that comes first).
pub fn error_offset(head: &[u8]) -> Option<usize> {
    match outcome(head, 0) {
        Outcome::Rejected(at) => Some(at),
        Outcome::Complete(_) | Outcome::Incomplete => None,
    }
}

/// The parser's verdict on `buf`, fed in two reads: `buf[..chunk_start]`,
/// then the rest. Where the reads split only matters to the header size
/// limit, which is checked at different bytes. Offsets are into `buf`.
pub(crate) fn outcome(buf: &[u8], chunk_start: usize) -> Outcome {
    let split = chunk_start.min(buf.len());
    let mut parser = Parser::new();
    for (start, end) in [(0, split), (split, buf.len())] {
        if let Some(outcome) = parser.execute(buf, start, end) {
            return outcome;
        }
    }
    Outcome::Incomplete
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first line: a request or a response?
    Start,
    /// Read `H`: `HEAD` or `HTTP`.
    StartH,

    // A status line
    /// Bytes of `HTTP/` still to skip, unchecked.
    ResProtocol(u8),
    ResMajor,
    ResDot,
    ResMinor,
    ResSpace,
    ResStatusStart,
    ResStatus,
    ResReasonStart,
    ResReason,
    ResLineCr,

    // A request line
    Method,
    SpacesBeforeTarget,
    Target(Url),
    VersionStart,
    /// Bytes of `HTTP/` (or `ICE/`) still to skip, unchecked.
    Protocol(u8),
    Major,
    Dot,
    Minor,
    VersionEnd,
    RequestLineCr,

    // Headers
    NameStart,
    Name,
    ValueLeadingSpace,
    ValueLeadingCr,
    ValueLeadingFold,
    ValueStart,
    Value,
    ValueCr,
    ValueFold,
    BlankLine,
}

/// Where in the request target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Url {
    Start,
    Scheme,
    SchemeSlash,
    SchemeSlashSlash,
    HostStart,
    Host,
    HostAfterAt,
    Path,
    QueryStart,
    Query,
    FragmentStart,
    Fragment,
}

impl Url {
    /// Before the host of an absolute URI: a space or line end is an error,
    /// not the end of the target.
    fn before_host(self) -> bool {
        matches!(
            self,
            Url::Start | Url::Scheme | Url::SchemeSlash | Url::SchemeSlashSlash | Url::HostStart
        )
    }

    fn next(self, ch: u8) -> Option<Url> {
        if matches!(ch, b' ' | CR | LF) {
            return None;
        }
        match self {
            Url::Start => match ch {
                b'/' | b'*' => Some(Url::Path),
                _ if is_alpha(ch) => Some(Url::Scheme),
                _ => None,
            },
            Url::Scheme => match ch {
                b':' => Some(Url::SchemeSlash),
                _ if is_alpha(ch) => Some(Url::Scheme),
                _ => None,
            },
            Url::SchemeSlash => (ch == b'/').then_some(Url::SchemeSlashSlash),
            Url::SchemeSlashSlash => (ch == b'/').then_some(Url::HostStart),
            Url::HostAfterAt if ch == b'@' => None,
            Url::HostStart | Url::Host | Url::HostAfterAt => match ch {
                b'/' => Some(Url::Path),
                b'?' => Some(Url::QueryStart),
                b'@' => Some(Url::HostAfterAt),
                b'[' | b']' => Some(Url::Host),
                _ if is_userinfo(ch) => Some(Url::Host),
                _ => None,
            },
            Url::Path => match ch {
                b'?' => Some(Url::QueryStart),
                b'#' => Some(Url::FragmentStart),
                _ if is_url(ch) => Some(Url::Path),
                _ => None,
            },
            Url::QueryStart | Url::Query => match ch {
                b'?' => Some(Url::Query),
                b'#' => Some(Url::FragmentStart),
                _ if is_url(ch) => Some(Url::Query),
                _ => None,
            },
            Url::FragmentStart => match ch {
                b'?' => Some(Url::Fragment),
                b'#' => Some(Url::FragmentStart),
                _ if is_url(ch) => Some(Url::Fragment),
                _ => None,
            },
            Url::Fragment => (ch == b'?' || ch == b'#' || is_url(ch)).then_some(Url::Fragment),
        }
    }
}

/// Header names the parser looks out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Connection,
    ProxyConnection,
    ContentLength,
    TransferEncoding,
    Upgrade,
}

impl Known {
    fn name(self) -> &'static [u8] {
        match self {
            Known::Connection => b"connection",
            Known::ProxyConnection => b"proxy-connection",
            Known::ContentLength => b"content-length",
            Known::TransferEncoding => b"transfer-encoding",
            Known::Upgrade => b"upgrade",
        }
    }
}

/// `Connection` tokens the parser looks out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    KeepAlive,
    Close,
    Upgrade,
}

impl Token {
    fn name(self) -> &'static [u8] {
        match self {
            Token::KeepAlive => b"keep-alive",
            Token::Close => b"close",
            Token::Upgrade => b"upgrade",
        }
    }
}

/// What the current header is, as far as the parser has read it: while in
/// the name, how much of which known name matched; while in the value, how
/// much of which token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Other,
    /// `c`, `co`, `con`: `connection` or `content-length`.
    C,
    Co,
    Con,
    /// Part of a known name, up to `index`.
    Matching(Known),
    /// A whole known name (`proxy-connection` counts as `connection`),
    /// maybe followed by spaces.
    Is(Known),
    LengthDigits,
    LengthSpaces,
    EncodingListStart,
    MatchingChunked,
    EncodingToken,
    Chunked,
    ConnectionListStart,
    MatchingToken(Token),
    ConnectionToken,
    IsToken(Token),
}

enum Step {
    /// On to the next byte.
    Next,
    /// The same byte again, in the new state.
    Again,
    Reject,
    /// This byte ends the head.
    Done,
}

struct Parser {
    state: State,
    response: bool,
    method: &'static [u8],
    /// How much of the method, or of the header name or token being
    /// matched, has been read.
    index: usize,
    header: Header,
    status: u32,
    /// An `Upgrade` header with a value.
    upgrade: bool,
    /// `upgrade` among the `Connection` tokens.
    connection_upgrade: bool,
    chunked: bool,
    has_length: bool,
    content_length: u64,
    transfer_encoding: bool,
    /// Bytes of the head read so far, as the parser counts them.
    size: usize,
}

impl Parser {
    fn new() -> Self {
        Parser {
            state: State::Start,
            response: false,
            method: b"",
            index: 0,
            header: Header::Other,
            status: 0,
            upgrade: false,
            connection_upgrade: false,
            chunked: false,
            has_length: false,
            content_length: NO_LENGTH,
            transfer_encoding: false,
            size: 0,
        }
    }

    /// One read: `buf[start..end]`. `None` when every byte was accepted and
    /// the head goes on.
    fn execute(&mut self, buf: &[u8], start: usize, end: usize) -> Option<Outcome> {
        let mut p = start;
        while p < end {
            if !self.count(1) {
                return Some(Outcome::Rejected(p));
            }
            loop {
                match self.step(buf, &mut p, end) {
                    Step::Next => break,
                    Step::Again => {}
                    Step::Reject => return Some(Outcome::Rejected(p)),
                    Step::Done => return Some(Outcome::Complete(p + 1)),
                }
            }
            p += 1;
        }
        None
    }

    /// Counts `n` more bytes against the header size limit: false when over.
    fn count(&mut self, n: usize) -> bool {
        self.size += n;
        self.size <= MAX_HEADER_SIZE
    }

    /// Reads `buf[*p]` (the name and value states read on while they can,
    /// leaving `*p` at the last byte they took).
    fn step(&mut self, buf: &[u8], p: &mut usize, end: usize) -> Step {
        let ch = buf[*p];
        match self.state {
            State::Start => match ch {
                CR | LF => {}
                b'H' => self.state = State::StartH,
                _ => return self.method_start(ch),
            },
            State::StartH => match ch {
                b'T' => {
                    self.response = true;
                    self.state = State::ResProtocol(3);
                }
                b'E' => {
                    self.method = b"HEAD";
                    self.index = 2;
                    self.state = State::Method;
                }
                _ => return Step::Reject,
            },

            State::ResProtocol(left) => {
                self.state = match left {
                    1 => State::ResMajor,
                    _ => State::ResProtocol(left - 1),
                }
            }
            State::ResMajor => return self.expect(ch.is_ascii_digit(), State::ResDot),
            State::ResDot => return self.expect(ch == b'.', State::ResMinor),
            State::ResMinor => return self.expect(ch.is_ascii_digit(), State::ResSpace),
            State::ResSpace => return self.expect(ch == b' ', State::ResStatusStart),
            State::ResStatusStart => match ch {
                b' ' => {}
                b'0'..=b'9' => {
                    self.status = u32::from(ch - b'0');
                    self.state = State::ResStatus;
                }
                _ => return Step::Reject,
            },
            State::ResStatus => match ch {
                b'0'..=b'9' => {
                    self.status = self.status * 10 + u32::from(ch - b'0');
                    if self.status > 999 {
                        return Step::Reject;
                    }
                }
                b' ' => self.state = State::ResReasonStart,
                CR | LF => {
                    self.state = State::ResReasonStart;
                    return Step::Again;
                }
                _ => return Step::Reject,
            },
            State::ResReasonStart => {
                self.state = State::ResReason;
                if ch == CR || ch == LF {
                    return Step::Again;
                }
            }
            State::ResReason => match ch {
                CR => self.state = State::ResLineCr,
                LF => self.state = State::NameStart,
                _ => {}
            },
            State::ResLineCr => self.state = State::NameStart,

            State::Method => return self.method_byte(ch),
            State::SpacesBeforeTarget => {
                if ch != b' ' {
                    let url = if self.method == b"CONNECT" {
                        Url::HostStart
                    } else {
                        Url::Start
                    };
                    return self.target_byte(url, ch);
                }
            }
            State::Target(url) => {
                if !url.before_host() {
                    match ch {
                        b' ' => {
                            self.state = State::VersionStart;
                            return Step::Next;
                        }
                        // HTTP/0.9: no version
                        CR => {
                            self.state = State::RequestLineCr;
                            return Step::Next;
                        }
                        LF => {
                            self.state = State::NameStart;
                            return Step::Next;
                        }
                        _ => {}
                    }
                }
                return self.target_byte(url, ch);
            }
            State::VersionStart => match ch {
                b' ' => {}
                b'H' => self.state = State::Protocol(4),
                // Icecast's "SOURCE / ICE/1.0"
                b'I' if self.method == b"SOURCE" => self.state = State::Protocol(3),
                _ => return Step::Reject,
            },
            State::Protocol(left) => {
                self.state = match left {
                    1 => State::Major,
                    _ => State::Protocol(left - 1),
                }
            }
            State::Major => return self.expect(ch.is_ascii_digit(), State::Dot),
            State::Dot => return self.expect(ch == b'.', State::Minor),
            State::Minor => return self.expect(ch.is_ascii_digit(), State::VersionEnd),
            State::VersionEnd => match ch {
                CR => self.state = State::RequestLineCr,
                LF => self.state = State::NameStart,
                _ => return Step::Reject,
            },
            State::RequestLineCr => return self.expect(ch == LF, State::NameStart),

            State::NameStart => return self.name_start(ch),
            State::Name => return self.name(buf, p, end),
            State::ValueLeadingSpace => match ch {
                b' ' | b'\t' => {}
                CR => self.state = State::ValueLeadingCr,
                LF => self.state = State::ValueLeadingFold,
                _ => {
                    self.state = State::ValueStart;
                    return Step::Again;
                }
            },
            // Strict builds want LF; this one takes any byte.
            State::ValueLeadingCr => self.state = State::ValueLeadingFold,
            State::ValueLeadingFold => {
                if ch == b' ' || ch == b'\t' {
                    self.state = State::ValueLeadingSpace;
                } else {
                    // The value is empty.
                    if self.header == Header::Is(Known::ContentLength) {
                        return Step::Reject;
                    }
                    self.end_of_value();
                    self.state = State::NameStart;
                    return Step::Again;
                }
            }
            State::ValueStart => return self.value_start(ch),
            State::Value => return self.value(buf, p, end),
            State::ValueCr => return self.expect(ch == LF, State::ValueFold),
            State::ValueFold => {
                if ch == b' ' || ch == b'\t' {
                    // Obsolete line folding: the value goes on.
                    if self.header == Header::LengthDigits {
                        self.header = Header::LengthSpaces;
                    }
                    self.state = State::ValueStart;
                } else {
                    self.end_of_value();
                    self.state = State::NameStart;
                }
                return Step::Again;
            }
            // After the CR of the blank line (or on its LF): strict builds
            // want LF; this one takes any byte.
            State::BlankLine => return self.end_of_head(),
        }
        Step::Next
    }

    fn expect(&mut self, ok: bool, next: State) -> Step {
        if !ok {
            return Step::Reject;
        }
        self.state = next;
        Step::Next
    }

    fn method_start(&mut self, ch: u8) -> Step {
        self.method = match ch {
            b'A' => b"ACL",
            b'B' => b"BIND",
            b'C' => b"CONNECT",
            b'D' => b"DELETE",
            b'G' => b"GET",
            b'H' => b"HEAD",
            b'L' => b"LOCK",
            b'M' => b"MKCOL",
            b'N' => b"NOTIFY",
            b'O' => b"OPTIONS",
            b'P' => b"POST",
            b'R' => b"REPORT",
            b'S' => b"SUBSCRIBE",
            b'T' => b"TRACE",
            b'U' => b"UNLOCK",
            // Other letters, lowercase ones included, and anything else.
            _ => return Step::Reject,
        };
        self.index = 1;
        self.state = State::Method;
        Step::Next
    }

    /// The method is guessed from its first letter and corrected as later
    /// letters tell methods that share a prefix apart.
    fn method_byte(&mut self, ch: u8) -> Step {
        let expected = self.method.get(self.index).copied();
        if ch == b' ' && expected.is_none() {
            self.state = State::SpacesBeforeTarget;
            return Step::Next;
        }
        if Some(ch) != expected {
            if !(ch.is_ascii_uppercase() || ch == b'-') {
                return Step::Reject;
            }
            self.method = match (self.method, self.index, ch) {
                (b"POST", 1, b'U') => b"PUT",
                (b"POST", 1, b'A') => b"PATCH",
                (b"POST", 1, b'R') => b"PROPFIND",
                (b"PUT", 2, b'R') => b"PURGE",
                (b"CONNECT", 1, b'H') => b"CHECKOUT",
                (b"CONNECT", 2, b'P') => b"COPY",
                (b"MKCOL", 1, b'O') => b"MOVE",
                (b"MKCOL", 1, b'E') => b"MERGE",
                (b"MKCOL", 1, b'-') => b"M-SEARCH",
                (b"MKCOL", 2, b'A') => b"MKACTIVITY",
                (b"MKCOL", 3, b'A') => b"MKCALENDAR",
                (b"SUBSCRIBE", 1, b'E') => b"SEARCH",
                (b"SUBSCRIBE", 1, b'O') => b"SOURCE",
                (b"REPORT", 2, b'B') => b"REBIND",
                (b"PROPFIND", 4, b'P') => b"PROPPATCH",
                (b"LOCK", 1, b'I') => b"LINK",
                (b"UNLOCK", 2, b'S') => b"UNSUBSCRIBE",
                (b"UNLOCK", 2, b'B') => b"UNBIND",
                (b"UNLOCK", 3, b'I') => b"UNLINK",
                _ => return Step::Reject,
            };
        }
        self.index += 1;
        Step::Next
    }

    fn target_byte(&mut self, url: Url, ch: u8) -> Step {
        match url.next(ch) {
            Some(next) => {
                self.state = State::Target(next);
                Step::Next
            }
            None => Step::Reject,
        }
    }

    fn name_start(&mut self, ch: u8) -> Step {
        match ch {
            CR => {
                self.state = State::BlankLine;
                return Step::Next;
            }
            LF => {
                self.state = State::BlankLine;
                return Step::Again;
            }
            _ => {}
        }
        let c = token(ch);
        if c == 0 {
            return Step::Reject;
        }
        self.index = 0;
        self.header = match c {
            b'c' => Header::C,
            b'p' => Header::Matching(Known::ProxyConnection),
            b't' => Header::Matching(Known::TransferEncoding),
            b'u' => Header::Matching(Known::Upgrade),
            _ => Header::Other,
        };
        self.state = State::Name;
        Step::Next
    }

    /// The rest of a header name, up to the colon.
    fn name(&mut self, buf: &[u8], p: &mut usize, end: usize) -> Step {
        let start = *p;
        while *p < end {
            let ch = buf[*p];
            let c = token(ch);
            if c == 0 {
                break;
            }
            self.name_char(ch, c);
            *p += 1;
        }
        if *p == end {
            *p -= 1;
            return if self.count(*p - start) {
                Step::Next
            } else {
                Step::Reject
            };
        }
        if !self.count(*p - start) || buf[*p] != b':' {
            return Step::Reject;
        }
        self.state = State::ValueLeadingSpace;
        Step::Next
    }

    /// `c`: `ch` lowercased.
    fn name_char(&mut self, ch: u8, c: u8) {
        self.header = match self.header {
            Header::C | Header::Co | Header::Con => {
                self.index += 1;
                match (self.header, c) {
                    (Header::C, b'o') => Header::Co,
                    (Header::Co, b'n') => Header::Con,
                    (Header::Con, b'n') => Header::Matching(Known::Connection),
                    (Header::Con, b't') => Header::Matching(Known::ContentLength),
                    _ => Header::Other,
                }
            }
            Header::Matching(known) => {
                self.index += 1;
                let name = known.name();
                if name.get(self.index) != Some(&c) {
                    Header::Other
                } else if self.index == name.len() - 1 {
                    match known {
                        Known::ProxyConnection => Header::Is(Known::Connection),
                        Known::TransferEncoding => {
                            // Noted now, even if more of the name follows.
                            // Debian's patch for CVE-2020-8287 (2.9.4-5):
                            // only the last Transfer-Encoding can say chunked.
                            self.transfer_encoding = true;
                            self.chunked = false;
                            Header::Is(known)
                        }
                        _ => Header::Is(known),
                    }
                } else {
                    Header::Matching(known)
                }
            }
            Header::Is(_) if ch != b' ' => Header::Other,
            header => header,
        };
    }

    /// The first byte of a value, or of a folded line's continuation.
    fn value_start(&mut self, ch: u8) -> Step {
        self.state = State::Value;
        self.index = 0;
        let c = ch | 0x20;
        self.header = match self.header {
            Header::Is(Known::Upgrade) => {
                self.upgrade = true;
                Header::Other
            }
            Header::Is(Known::TransferEncoding) if c == b'c' => Header::MatchingChunked,
            Header::Is(Known::TransferEncoding) => Header::EncodingToken,
            Header::Is(Known::ContentLength) => {
                if !ch.is_ascii_digit() || self.has_length {
                    return Step::Reject;
                }
                self.has_length = true;
                self.content_length = u64::from(ch - b'0');
                Header::LengthDigits
            }
            Header::Is(Known::Connection) => match c {
                b'k' => Header::MatchingToken(Token::KeepAlive),
                b'c' => Header::MatchingToken(Token::Close),
                b'u' => Header::MatchingToken(Token::Upgrade),
                _ => Header::ConnectionToken,
            },
            header @ (Header::EncodingListStart
            | Header::LengthSpaces
            | Header::ConnectionListStart) => header,
            _ => Header::Other,
        };
        Step::Next
    }

    /// The rest of a value line, up to its CR or LF.
    fn value(&mut self, buf: &[u8], p: &mut usize, end: usize) -> Step {
        let start = *p;
        while *p < end {
            let ch = buf[*p];
            if ch == CR {
                self.state = State::ValueCr;
                break;
            }
            if ch == LF {
                self.state = State::ValueCr;
                return if self.count(*p - start) {
                    Step::Again
                } else {
                    Step::Reject
                };
            }
            if !is_header_char(ch) {
                return Step::Reject;
            }
            if self.header == Header::Other {
                // The parser scans a plain value at most 80 KiB at a time,
                // and steps over the byte after each such stretch unread.
                let limit = *p + (end - *p).min(MAX_HEADER_SIZE);
                while *p < limit {
                    let ch = buf[*p];
                    if ch == CR || ch == LF {
                        break;
                    }
                    if !is_header_char(ch) {
                        return Step::Reject;
                    }
                    *p += 1;
                }
                if *p < limit || *p == end {
                    // At the line end (or the end of the read): read it next.
                    continue;
                }
            } else if !self.value_char(ch) {
                return Step::Reject;
            }
            *p += 1;
        }
        if *p == end {
            *p -= 1;
        }
        if self.count(*p - start) {
            Step::Next
        } else {
            Step::Reject
        }
    }

    /// One byte of a value the parser looks into: false to reject it.
    fn value_char(&mut self, ch: u8) -> bool {
        let c = ch | 0x20;
        self.header = match self.header {
            Header::Is(Known::ContentLength) if ch == b' ' => Header::Is(Known::ContentLength),
            Header::Is(Known::ContentLength) | Header::LengthDigits => {
                if ch == b' ' {
                    Header::LengthSpaces
                } else if !ch.is_ascii_digit() || self.content_length > (u64::MAX - 10) / 10 {
                    return false;
                } else {
                    self.content_length = self.content_length * 10 + u64::from(ch - b'0');
                    Header::LengthDigits
                }
            }
            Header::LengthSpaces if ch == b' ' => Header::LengthSpaces,
            Header::LengthSpaces => return false,
            Header::EncodingListStart => {
                if c == b'c' {
                    Header::MatchingChunked
                } else if is_strict_token(c) {
                    Header::EncodingToken
                } else if c == b' ' || c == b'\t' {
                    Header::EncodingListStart
                } else {
                    Header::Other
                }
            }
            Header::MatchingChunked => {
                self.index += 1;
                let name = b"chunked";
                if name.get(self.index) != Some(&c) {
                    Header::EncodingToken
                } else if self.index == name.len() - 1 {
                    Header::Chunked
                } else {
                    Header::MatchingChunked
                }
            }
            Header::EncodingToken if ch == b',' => {
                self.index = 0;
                Header::EncodingListStart
            }
            Header::EncodingToken => Header::EncodingToken,
            Header::Chunked if ch == b' ' => Header::Chunked,
            Header::Chunked => Header::EncodingToken,
            Header::ConnectionListStart => match c {
                b'k' => Header::MatchingToken(Token::KeepAlive),
                b'c' => Header::MatchingToken(Token::Close),
                b'u' => Header::MatchingToken(Token::Upgrade),
                _ if is_strict_token(c) => Header::ConnectionToken,
                b' ' | b'\t' => Header::ConnectionListStart,
                _ => Header::Other,
            },
            Header::MatchingToken(token) => {
                self.index += 1;
                let name = token.name();
                if name.get(self.index) != Some(&c) {
                    Header::ConnectionToken
                } else if self.index == name.len() - 1 {
                    Header::IsToken(token)
                } else {
                    Header::MatchingToken(token)
                }
            }
            Header::ConnectionToken if ch == b',' => {
                self.index = 0;
                Header::ConnectionListStart
            }
            Header::ConnectionToken => Header::ConnectionToken,
            Header::IsToken(token) if ch == b',' => {
                if token == Token::Upgrade {
                    self.connection_upgrade = true;
                }
                self.index = 0;
                Header::ConnectionListStart
            }
            Header::IsToken(_) if ch == b' ' => self.header,
            Header::IsToken(_) => Header::ConnectionToken,
            _ => Header::Other,
        };
        true
    }

    /// A header line ended (and no folded line follows).
    fn end_of_value(&mut self) {
        match self.header {
            Header::Chunked => self.chunked = true,
            Header::IsToken(Token::Upgrade) => self.connection_upgrade = true,
            _ => {}
        }
    }

    fn end_of_head(&mut self) -> Step {
        if self.transfer_encoding && self.has_length {
            return Step::Reject;
        }
        let connect = !self.response && self.method == b"CONNECT";
        let upgrade = if self.upgrade && self.connection_upgrade {
            !self.response || self.status == 101
        } else {
            connect
        };
        let has_body =
            self.chunked || (self.content_length > 0 && self.content_length != NO_LENGTH);
        if (upgrade && (connect || !has_body)) || self.chunked {
            return Step::Done;
        }
        // A request whose Transfer-Encoding does not end in chunked has no
        // length that can be trusted.
        if self.transfer_encoding && !self.response {
            return Step::Reject;
        }
        Step::Done
    }
}

fn is_alpha(ch: u8) -> bool {
    (ch | 0x20).is_ascii_lowercase()
}

/// The characters of a URL's path, query and fragment, besides `?` and `#`:
/// visible ASCII, tab, form feed, and any byte over 0x7f.
fn is_url(ch: u8) -> bool {
    matches!(ch, 0x21..=0x7e | 0x09 | 0x0c | 0x80..=0xff) && ch != b'#' && ch != b'?'
}

fn is_userinfo(ch: u8) -> bool {
    ch.is_ascii_alphanumeric() || b"-_.!~*'()%;:&=+$,".contains(&ch)
}

/// A header name character, lowercased, or 0. The non-strict build lets a
/// space in.
fn token(ch: u8) -> u8 {
    match ch {
        b'A'..=b'Z' => ch.to_ascii_lowercase(),
        b' ' | b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'0'..=b'9' => ch,
        b'^'..=b'z' | b'|' | b'~' => ch,
        _ => 0,
    }
}

fn is_strict_token(c: u8) -> bool {
    c != b' ' && token(c) != 0
}

/// Bytes allowed in a header value: tab, CR, LF, and all but the other
/// control characters.
fn is_header_char(ch: u8) -> bool {
    matches!(ch, b'\t' | CR | LF) || (ch > 31 && ch != 127)
}

#[cfg(test)]
mod tests {
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
        let corpus = include_str!("../../tests/data/http_parser_heads.txt");
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
}
