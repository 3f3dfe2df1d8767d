//! Parsing `Sec-WebSocket-Extensions` (RFC 6455 §9.1):
//!
//! ```text
//! extension-list = 1#extension
//! extension      = extension-token *( ";" extension-param )
//! extension-param = token [ "=" ( token / quoted-string ) ]
//! ```
//!
//! Values are unquoted here (RFC 7692 §7.1: a quoted value must mean the same
//! as the bare token), so the negotiation sees only their content.

/// One extension of an offer, in the order the client listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub name: String,
    /// Parameters as sent: `None` for a parameter without a value.
    pub params: Vec<(String, Option<String>)>,
}

/// The header is not a valid extension list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Parses the values of every `Sec-WebSocket-Extensions` header, in order.
/// Empty list elements (`a, , b`) are allowed, as the `#` rule allows them.
pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<Extension>, Malformed> {
    let mut extensions = Vec::new();
    for value in values {
        let mut cursor = Cursor {
            bytes: value.as_bytes(),
            pos: 0,
        };
        loop {
            cursor.skip_spaces();
            match cursor.peek() {
                None => break,
                Some(b',') => {
                    cursor.pos += 1;
                    continue;
                }
                Some(_) => extensions.push(cursor.extension()?),
            }
            cursor.skip_spaces();
            match cursor.peek() {
                None => break,
                Some(b',') => cursor.pos += 1,
                Some(_) => return Err(Malformed),
            }
        }
    }
    Ok(extensions)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn extension(&mut self) -> Result<Extension, Malformed> {
        let name = self.token()?;
        let mut params = Vec::new();
        loop {
            self.skip_spaces();
            if self.peek() != Some(b';') {
                return Ok(Extension { name, params });
            }
            self.pos += 1;
            self.skip_spaces();
            let param = self.token()?;
            self.skip_spaces();
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.skip_spaces();
                Some(if self.peek() == Some(b'"') {
                    self.quoted()?
                } else {
                    self.token()?
                })
            } else {
                None
            };
            params.push((param, value));
        }
    }

    fn token(&mut self) -> Result<String, Malformed> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(Malformed);
        }
        // tchars are ASCII.
        Ok(String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned())
    }

    /// A quoted-string, its escapes resolved. Only tchars may be inside: RFC
    /// 7692 wants a quoted value to be a valid token once unquoted, and no
    /// parameter of any extension we know takes anything else.
    fn quoted(&mut self) -> Result<String, Malformed> {
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => self.pos += 1,
                _ => {}
            }
            match self.peek() {
                Some(b) if is_tchar(b) => value.push(char::from(b)),
                _ => return Err(Malformed),
            }
            self.pos += 1;
        }
        if value.is_empty() {
            return Err(Malformed);
        }
        Ok(value)
    }
}

/// RFC 7230 §3.2.6 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        Extension {
            name: name.into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).into(), v.map(Into::into)))
                .collect(),
        }
    }

    #[test]
    fn parses_lists_parameters_and_values() {
        let parsed = parse([
            "permessage-deflate; client_max_window_bits, permessage-deflate;server_max_window_bits=10",
            "x-foo ; a = \"1\" ;b",
        ])
        .unwrap();
        assert_eq!(
            parsed,
            [
                ext("permessage-deflate", &[("client_max_window_bits", None)]),
                ext(
                    "permessage-deflate",
                    &[("server_max_window_bits", Some("10"))]
                ),
                ext("x-foo", &[("a", Some("1")), ("b", None)]),
            ]
        );
    }

    #[test]
    fn empty_elements_and_values_are_allowed() {
        assert_eq!(parse([""]).unwrap(), []);
        assert_eq!(parse([" , a ,, "]).unwrap(), [ext("a", &[])]);
        assert_eq!(
            parse(["a; b=\"\\9\""]).unwrap(),
            [ext("a", &[("b", Some("9"))])]
        );
    }

    #[test]
    fn malformed_lists() {
        for bad in [
            "a;",
            "a; =1",
            "a; b=",
            "a b",
            "a; b=\"1",
            "a; b=\"\"",
            "a; b=\"1 2\"",
            "a; b=1 2",
            ";a",
            "a; b=\"1\"x",
            "é",
        ] {
            assert_eq!(parse([bad]), Err(Malformed), "{bad:?}");
        }
    }
}
