//! The request line: the method, the target and the version.

use super::url::Url;
use super::{Parser, State, Step};

impl Parser {
    pub(super) fn method_start(&mut self, ch: u8) -> Step {
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
    pub(super) fn method_byte(&mut self, ch: u8) -> Step {
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

    pub(super) fn target_byte(&mut self, url: Url, ch: u8) -> Step {
        match url.next(ch) {
            Some(next) => {
                self.state = State::Target(next);
                Step::Next
            }
            None => Step::Reject,
        }
    }
}
