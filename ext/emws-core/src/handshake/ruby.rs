//! The bits of Ruby that shape em-websocket's handshake: `String#to_i` decides
//! the protocol version, and `#inspect` appears in error messages.

use std::fmt;

/// An integer as Ruby's `String#to_i` reads it, kept as decimal digits: a
/// version header can hold any number, and the error message repeats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RubyInteger {
    negative: bool,
    /// Without leading zeros; "0" for zero.
    digits: String,
}

impl RubyInteger {
    /// `String#to_i`: leading whitespace, an optional sign, then digits, with
    /// single underscores allowed between digits; anything else ends the
    /// number, and no digits at all is 0.
    pub fn parse(s: &str) -> RubyInteger {
        let s = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let bytes = s.as_bytes();
        let mut digits = String::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b @ b'0'..=b'9' => digits.push(char::from(b)),
                b'_' if i > 0
                    && bytes[i - 1].is_ascii_digit()
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
                _ => break,
            }
            i += 1;
        }
        let digits = digits.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        RubyInteger {
            negative: negative && digits != "0",
            digits: digits.to_owned(),
        }
    }

    /// The value, if it fits a `u32`.
    pub fn to_u32(&self) -> Option<u32> {
        if self.negative {
            return None;
        }
        self.digits.parse().ok()
    }
}

impl fmt::Display for RubyInteger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str(&self.digits)
    }
}

/// `String#inspect` of a UTF-8 string.
pub fn inspect(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            '\x08' => out.push_str("\\b"),
            '\x07' => out.push_str("\\a"),
            '\x1b' => out.push_str("\\e"),
            // Escaped so the result does not interpolate when read back.
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `Array#inspect` of strings.
pub fn inspect_all<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(inspect).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_i(s: &str) -> String {
        RubyInteger::parse(s).to_string()
    }

    #[test]
    fn to_i_reads_like_ruby() {
        assert_eq!(to_i("13"), "13");
        assert_eq!(to_i(" 8"), "8");
        assert_eq!(to_i("13, 8"), "13");
        assert_eq!(to_i("abc"), "0");
        assert_eq!(to_i(""), "0");
        assert_eq!(to_i("-1"), "-1");
        assert_eq!(to_i("-0"), "0");
        assert_eq!(to_i("+7"), "7");
        assert_eq!(to_i("007"), "7");
        assert_eq!(to_i("1_3"), "13");
        assert_eq!(to_i("1__3"), "1");
        assert_eq!(to_i("_13"), "0");
        assert_eq!(to_i("99999999999999999999"), "99999999999999999999");
    }

    #[test]
    fn to_u32_only_when_it_fits() {
        assert_eq!(RubyInteger::parse("13").to_u32(), Some(13));
        assert_eq!(RubyInteger::parse("-1").to_u32(), None);
        assert_eq!(RubyInteger::parse("4294967295").to_u32(), Some(u32::MAX));
        assert_eq!(RubyInteger::parse("4294967296").to_u32(), None);
    }

    #[test]
    fn inspect_quotes_and_escapes() {
        assert_eq!(inspect("h2c"), "\"h2c\"");
        assert_eq!(inspect("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(inspect("\t\u{0}"), "\"\\t\\u0000\"");
        assert_eq!(inspect("#{x} #y"), "\"\\#{x} #y\"");
        assert_eq!(inspect("é"), "\"é\"");
        assert_eq!(inspect_all(["a", "b"]), "[\"a\", \"b\"]");
    }
}
