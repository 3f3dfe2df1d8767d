//! The request target, byte by byte, as http-parser's URL states take it.

use super::{is_alpha, CR, LF};

/// Where in the request target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Url {
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
    pub(super) fn before_host(self) -> bool {
        matches!(
            self,
            Url::Start | Url::Scheme | Url::SchemeSlash | Url::SchemeSlashSlash | Url::HostStart
        )
    }

    pub(super) fn next(self, ch: u8) -> Option<Url> {
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

/// The characters of a URL's path, query and fragment, besides `?` and `#`:
/// visible ASCII, tab, form feed, and any byte over 0x7f.
fn is_url(ch: u8) -> bool {
    matches!(ch, 0x21..=0x7e | 0x09 | 0x0c | 0x80..=0xff) && ch != b'#' && ch != b'?'
}

fn is_userinfo(ch: u8) -> bool {
    ch.is_ascii_alphanumeric() || b"-_.!~*'()%;:&=+$,".contains(&ch)
}
