//! Header lines: names, the values the parser looks into
//! (`Content-Length`, `Transfer-Encoding`, `Connection`, `Upgrade`), and
//! folded lines.

use super::{Parser, State, Step, CR, LF, MAX_HEADER_SIZE};

/// Header names the parser looks out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Known {
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
pub(super) enum Token {
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
pub(super) enum Header {
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

impl Parser {
    pub(super) fn name_start(&mut self, ch: u8) -> Step {
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
    pub(super) fn name(&mut self, buf: &[u8], p: &mut usize, end: usize) -> Step {
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
    pub(super) fn value_start(&mut self, ch: u8) -> Step {
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
    pub(super) fn value(&mut self, buf: &[u8], p: &mut usize, end: usize) -> Step {
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
    pub(super) fn end_of_value(&mut self) {
        match self.header {
            Header::Chunked => self.chunked = true,
            Header::IsToken(Token::Upgrade) => self.connection_upgrade = true,
            _ => {}
        }
    }
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
