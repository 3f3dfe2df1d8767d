//! Accepting a permessage-deflate offer (RFC 7692 §5 and §7.1).

use super::header::{self, Extension};
use super::{DeflateConfig, DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS};

const NAME: &str = "permessage-deflate";

/// One permessage-deflate offer, as the client made it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// The largest window the client lets us use.
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the client can limit its window, and has not; `Some(n)`:
    /// it will use at most `n` bits.
    client_max_window_bits: Option<Option<u8>>,
}

/// Chooses the first of the client's permessage-deflate offers that is valid
/// (the client lists them in its order of preference) and returns what was
/// agreed with the `Sec-WebSocket-Extensions` value that answers it.
///
/// `None` when there is no valid offer, or when the header cannot be parsed
/// at all: the connection then goes on uncompressed, as with a client that
/// offered nothing (em-websocket ignores the header).
pub fn negotiate<'a>(
    header_values: impl IntoIterator<Item = &'a str>,
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    header::parse(header_values)
        .ok()?
        .iter()
        .filter(|extension| extension.name.eq_ignore_ascii_case(NAME))
        .find_map(parse_offer)
        .map(|offer| accept(&offer, config))
}

/// §7.1: an offer with an unknown parameter, a repeated one or a bad value
/// is declined (and the next one considered).
fn parse_offer(extension: &Extension) -> Option<Offer> {
    let mut offer = Offer::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &extension.params {
        let name = name.to_ascii_lowercase();
        let name = match name.as_str() {
            "server_no_context_takeover" if value.is_none() => {
                offer.server_no_context_takeover = true;
                "server_no_context_takeover"
            }
            "client_no_context_takeover" if value.is_none() => {
                offer.client_no_context_takeover = true;
                "client_no_context_takeover"
            }
            "server_max_window_bits" => {
                offer.server_max_window_bits = Some(window_bits(value.as_deref()?)?);
                "server_max_window_bits"
            }
            "client_max_window_bits" => {
                offer.client_max_window_bits = Some(match value {
                    Some(value) => Some(window_bits(value)?),
                    None => None,
                });
                "client_max_window_bits"
            }
            _ => return None,
        };
        if seen.contains(&name) {
            return None;
        }
        seen.push(name);
    }
    Some(offer)
}

/// A window size: a decimal integer from 8 to 15, without leading zeros
/// (§7.1.2.1's ABNF: `%x31-39 *DIGIT`).
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) || value.len() > 2 {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (MIN_WINDOW_BITS..=MAX_WINDOW_BITS)
        .contains(&bits)
        .then_some(bits)
}

/// Every valid offer can be accepted: our window can always be made as small
/// as the client asks, and inflating copes with any client window.
fn accept(offer: &Offer, config: &DeflateConfig) -> (DeflateParams, String) {
    let params = DeflateParams {
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
        // The client's hint that it will not take over its context lets our
        // inflater forget the window between messages: take it.
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: config
            .server_max_window_bits
            .min(offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS)),
        // We may only ask a client that offered to limit its window.
        client_max_window_bits: match offer.client_max_window_bits {
            Some(offered) => config
                .client_max_window_bits
                .min(offered.unwrap_or(MAX_WINDOW_BITS)),
            None => MAX_WINDOW_BITS,
        },
        min_size: config.min_size,
        level: config.level,
    };
    let mut response = String::from(NAME);
    if params.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    // §7.1.2.1: an offer naming server_max_window_bits is accepted only by
    // answering with it.
    if offer.server_max_window_bits.is_some() || params.server_max_window_bits < MAX_WINDOW_BITS {
        response.push_str(&format!(
            "; server_max_window_bits={}",
            params.server_max_window_bits
        ));
    }
    if offer.client_max_window_bits.is_some() && params.client_max_window_bits < MAX_WINDOW_BITS {
        response.push_str(&format!(
            "; client_max_window_bits={}",
            params.client_max_window_bits
        ));
    }
    (params, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_negotiation(header: &str) -> Option<(DeflateParams, String)> {
        negotiate([header], &DeflateConfig::default())
    }

    fn response(header: &str, config: &DeflateConfig) -> Option<String> {
        negotiate([header], config).map(|(_, response)| response)
    }

    fn params(
        server_no_context_takeover: bool,
        client_no_context_takeover: bool,
        server_max_window_bits: u8,
        client_max_window_bits: u8,
    ) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            min_size: DeflateConfig::default().min_size,
            level: DeflateConfig::default().level,
        }
    }

    #[test]
    fn a_bare_offer_is_accepted_bare() {
        assert_eq!(
            default_negotiation("permessage-deflate"),
            Some((params(false, false, 15, 15), "permessage-deflate".into()))
        );
    }

    #[test]
    fn no_offer_or_other_extensions_only() {
        assert_eq!(negotiate([], &DeflateConfig::default()), None);
        assert_eq!(default_negotiation("x-webkit-deflate-frame"), None);
        assert_eq!(default_negotiation(""), None);
    }

    #[test]
    fn browsers_offer_client_max_window_bits_without_a_value() {
        // What Chrome and Firefox send.
        assert_eq!(
            default_negotiation("permessage-deflate; client_max_window_bits"),
            Some((params(false, false, 15, 15), "permessage-deflate".into()))
        );
    }

    #[test]
    fn server_no_context_takeover_offered_or_configured() {
        assert_eq!(
            default_negotiation("permessage-deflate; server_no_context_takeover"),
            Some((
                params(true, false, 15, 15),
                "permessage-deflate; server_no_context_takeover".into()
            ))
        );
        let config = DeflateConfig {
            server_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        assert_eq!(
            response("permessage-deflate", &config).unwrap(),
            "permessage-deflate; server_no_context_takeover"
        );
    }

    #[test]
    fn client_no_context_takeover_hinted_or_requested() {
        assert_eq!(
            default_negotiation("permessage-deflate; client_no_context_takeover"),
            Some((
                params(false, true, 15, 15),
                "permessage-deflate; client_no_context_takeover".into()
            ))
        );
        // The server may ask it of any client (every client must support it).
        let config = DeflateConfig {
            client_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        assert_eq!(
            response("permessage-deflate", &config).unwrap(),
            "permessage-deflate; client_no_context_takeover"
        );
    }

    #[test]
    fn server_max_window_bits_requested_by_the_client() {
        for bits in 8..=15 {
            let header = format!("permessage-deflate; server_max_window_bits={bits}");
            let (agreed, response) = default_negotiation(&header).unwrap();
            assert_eq!(agreed.server_max_window_bits, bits);
            // Always answered, 15 included: that is how it is accepted.
            assert_eq!(
                response,
                format!("permessage-deflate; server_max_window_bits={bits}")
            );
        }
        // Our own limit applies when smaller than the client's.
        let config = DeflateConfig {
            server_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        assert_eq!(
            response("permessage-deflate; server_max_window_bits=12", &config).unwrap(),
            "permessage-deflate; server_max_window_bits=10"
        );
        assert_eq!(
            response("permessage-deflate; server_max_window_bits=9", &config).unwrap(),
            "permessage-deflate; server_max_window_bits=9"
        );
        // ... and is announced when the client did not ask.
        assert_eq!(
            response("permessage-deflate", &config).unwrap(),
            "permessage-deflate; server_max_window_bits=10"
        );
    }

    #[test]
    fn client_max_window_bits_only_asked_of_clients_that_offer_it() {
        let config = DeflateConfig {
            client_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        let (agreed, response) =
            negotiate(["permessage-deflate; client_max_window_bits"], &config).unwrap();
        assert_eq!(agreed.client_max_window_bits, 10);
        assert_eq!(response, "permessage-deflate; client_max_window_bits=10");
        // The client's own smaller limit stands.
        let (agreed, response) =
            negotiate(["permessage-deflate; client_max_window_bits=9"], &config).unwrap();
        assert_eq!(agreed.client_max_window_bits, 9);
        assert_eq!(response, "permessage-deflate; client_max_window_bits=9");
        // A client that cannot limit its window is still accepted, with 15.
        let (agreed, response) = negotiate(["permessage-deflate"], &config).unwrap();
        assert_eq!(agreed.client_max_window_bits, 15);
        assert_eq!(response, "permessage-deflate");
        // A limit the client set itself needs no answer.
        let (agreed, response) =
            default_negotiation("permessage-deflate; client_max_window_bits=12").unwrap();
        assert_eq!(agreed.client_max_window_bits, 12);
        assert_eq!(response, "permessage-deflate; client_max_window_bits=12");
    }

    #[test]
    fn everything_at_once() {
        let header = "permessage-deflate; client_no_context_takeover; client_max_window_bits; \
                      server_no_context_takeover; server_max_window_bits=9";
        let config = DeflateConfig {
            client_max_window_bits: 11,
            min_size: 0,
            ..DeflateConfig::default()
        };
        let (agreed, response) = negotiate([header], &config).unwrap();
        assert_eq!(
            agreed,
            DeflateParams {
                min_size: 0,
                ..params(true, true, 9, 11)
            }
        );
        assert_eq!(
            response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=11"
        );
    }

    #[test]
    fn quoted_values_mean_the_same() {
        assert_eq!(
            default_negotiation("permessage-deflate; server_max_window_bits=\"10\"")
                .unwrap()
                .0
                .server_max_window_bits,
            10
        );
    }

    #[test]
    fn invalid_offers_are_declined() {
        for offer in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; server_max_window_bits=+9",
            "permessage-deflate; server_max_window_bits=9a",
            "permessage-deflate; server_max_window_bits=255",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; client_max_window_bits=x",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=true",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; unknown_parameter",
            "permessage-deflate; mem_level=8",
        ] {
            assert_eq!(default_negotiation(offer), None, "{offer}");
        }
    }

    #[test]
    fn a_malformed_header_declines_everything() {
        assert_eq!(default_negotiation("permessage-deflate; ="), None);
        assert_eq!(default_negotiation("permessage-deflate, ;"), None);
    }

    #[test]
    fn the_first_valid_offer_wins() {
        // Autobahn 13.7's offers: the client's first choice is taken.
        let header = "permessage-deflate; client_no_context_takeover; client_max_window_bits; \
                      server_no_context_takeover; server_max_window_bits=9, \
                      permessage-deflate; client_no_context_takeover; client_max_window_bits; \
                      server_no_context_takeover, permessage-deflate";
        let (agreed, _) = default_negotiation(header).unwrap();
        assert_eq!(agreed, params(true, true, 9, 15));
        // An invalid first offer falls through to the next.
        let (agreed, response) = negotiate(
            [
                "x-foo, permessage-deflate; bogus",
                "permessage-deflate; server_max_window_bits=12",
            ],
            &DeflateConfig::default(),
        )
        .unwrap();
        assert_eq!(agreed.server_max_window_bits, 12);
        assert_eq!(response, "permessage-deflate; server_max_window_bits=12");
    }
}
