//! Which certificate a TLS handshake is answered with: the one configured for
//! the server name the client asked for (SNI), else the default one.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::DnsName;

use super::TlsError;

/// A server's certificates by server name, with the default for clients
/// that ask for a name it has none for, or for none at all.
#[derive(Debug)]
pub(super) struct SniResolver {
    default: Arc<CertifiedKey>,
    /// Keyed by the lowercase name.
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    pub(super) fn new(default: CertifiedKey) -> SniResolver {
        SniResolver {
            default: Arc::new(default),
            by_name: HashMap::new(),
        }
    }

    /// Answers clients that ask for `server_name` (in any case) with `key`.
    pub(super) fn add(
        &mut self,
        server_name: &DnsName<'_>,
        key: CertifiedKey,
    ) -> Result<(), TlsError> {
        let name = server_name.as_ref().to_ascii_lowercase();
        if self.by_name.contains_key(&name) {
            return Err(TlsError(format!(
                "{name} is given more than once (server names are matched regardless of case)"
            )));
        }
        self.by_name.insert(name, Arc::new(key));
        Ok(())
    }

    /// The certificate for a client that asked for `server_name`.
    fn certified_key(&self, server_name: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = server_name else {
            return &self.default;
        };
        // rustls lowercases the name before it asks; not counting on that
        // costs a copy only for a name with capitals.
        let found = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_name.get(&name.to_ascii_lowercase())
        } else {
            self.by_name.get(name)
        };
        found.unwrap_or(&self.default)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certified_key(client_hello.server_name()).clone())
    }
}

/// `server_name` checked to be one a client can ask for: SNI carries DNS
/// names only, without the trailing dot, so an address, a wildcard or a
/// fully qualified name is refused rather than never matched.
pub(super) fn server_name(server_name: &str) -> Result<DnsName<'_>, TlsError> {
    let refused = || {
        TlsError(format!(
            "{server_name:?} is not a DNS name a client can ask for \
             (no addresses, wildcards or trailing dot: names are matched exactly)"
        ))
    };
    if server_name.ends_with('.') {
        return Err(refused());
    }
    DnsName::try_from(server_name).map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::ring;
    use rustls_pki_types::PrivatePkcs8KeyDer;

    fn certified_key() -> CertifiedKey {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = PrivatePkcs8KeyDer::from(key.serialize_der()).into();
        CertifiedKey::from_der(vec![cert.der().clone()], der, &ring::default_provider()).unwrap()
    }

    #[test]
    fn picks_by_name_regardless_of_case_and_falls_back_to_the_default() {
        let mut resolver = SniResolver::new(certified_key());
        let a = certified_key();
        let a_cert = a.cert.clone();
        resolver.add(&server_name("A.Example").unwrap(), a).unwrap();
        let chosen = |name| resolver.certified_key(name).cert.clone();
        assert_eq!(chosen(Some("a.example")), a_cert);
        assert_eq!(chosen(Some("A.EXAMPLE")), a_cert);
        assert_ne!(chosen(Some("b.example")), a_cert);
        assert_eq!(chosen(Some("b.example")), resolver.default.cert);
        assert_eq!(chosen(None), resolver.default.cert);
    }

    #[test]
    fn refuses_names_no_client_sends_and_a_name_given_twice() {
        for name in ["*.example", "127.0.0.1", "a.example.", "", "a b"] {
            let error = server_name(name).unwrap_err().to_string();
            assert!(error.contains("is not a DNS name"), "{name}: {error}");
        }
        let mut resolver = SniResolver::new(certified_key());
        resolver
            .add(&server_name("a.example").unwrap(), certified_key())
            .unwrap();
        let error = resolver
            .add(&server_name("A.EXAMPLE").unwrap(), certified_key())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("a.example is given more than once"),
            "{error}"
        );
    }
}
