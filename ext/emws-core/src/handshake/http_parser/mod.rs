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

mod headers;
mod request_line;
#[cfg(test)]
mod tests;
mod url;

use headers::{Header, Known};
use url::Url;

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

pub(super) fn is_alpha(ch: u8) -> bool {
    (ch | 0x20).is_ascii_lowercase()
}
