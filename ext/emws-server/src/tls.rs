//! TLS for `wss://`, terminated here with rustls (ring provider) on the tokio
//! threads. [`TlsConfig::load`] reads and checks everything when the server
//! starts (or when `Server::reload_tls` is given a new one), so that a broken
//! configuration is reported to the caller and never meets a client; each
//! connection's task then runs its own TLS handshake.

mod pem;
mod sni;
mod stream;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::verify_server_name;
use rustls::crypto::{ring, CryptoProvider};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::version::{TLS12, TLS13};
use rustls::{Error as RustlsError, InconsistentKeys, RootCertStore, ServerConfig};
use rustls_pki_types::{DnsName, ServerName};

use self::pem::Source;
use self::sni::SniResolver;
pub(crate) use self::stream::TlsConn;

/// Where a PEM document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file read when the server starts.
    File(PathBuf),
    /// The PEM text itself.
    Inline(Vec<u8>),
}

/// A server's TLS settings, as the application gives them.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// The server's certificate, then its intermediates: the default one,
    /// for clients that ask for no server name or one `sni` does not name.
    pub cert_chain: Pem,
    pub private_key: Pem,
    /// Certificates for the server names clients ask for (SNI).
    pub sni: Vec<SniCertificate>,
    /// CA certificates that client certificates must chain to; `None` asks
    /// clients for no certificate.
    pub client_ca: Option<Pem>,
    /// With `client_ca`: refuse a client that presents no certificate
    /// (otherwise one is optional, but checked when presented).
    pub require_client_cert: bool,
    pub tls12: bool,
    pub tls13: bool,
}

/// The certificate served to clients that ask for one server name (SNI).
#[derive(Debug, Clone)]
pub struct SniCertificate {
    /// A DNS name, matched regardless of case.
    pub server_name: String,
    /// The certificate (valid for `server_name`), then its intermediates.
    pub cert_chain: Pem,
    pub private_key: Pem,
}

/// The loaded configuration, shared by every connection of a server.
#[derive(Clone)]
pub struct TlsConfig(Arc<ServerConfig>);

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &self.0.alpn_protocols)
            .finish_non_exhaustive()
    }
}

/// Why a TLS configuration cannot be used; the message names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Reads the certificate chains, the keys and the client CA, and checks
    /// that they make a working configuration.
    pub fn load(options: &TlsOptions) -> Result<TlsConfig, TlsError> {
        let provider = Arc::new(ring::default_provider());
        let default = certified_key(&options.cert_chain, &options.private_key, &provider, None)?;
        let mut resolver = SniResolver::new(default);
        for entry in &options.sni {
            let in_entry = |e: TlsError| TlsError(format!("sni {:?}: {e}", entry.server_name));
            let name = sni::server_name(&entry.server_name).map_err(in_entry)?;
            let key = certified_key(
                &entry.cert_chain,
                &entry.private_key,
                &provider,
                Some(&name),
            )
            .map_err(in_entry)?;
            resolver.add(&name, key).map_err(in_entry)?;
        }

        let versions = match (options.tls12, options.tls13) {
            (true, true) => vec![&TLS12, &TLS13],
            (true, false) => vec![&TLS12],
            (false, true) => vec![&TLS13],
            (false, false) => return Err(TlsError("no TLS version is enabled".into())),
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| TlsError(format!("unusable TLS versions: {e}")))?;
        let builder = match &options.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => builder.with_client_cert_verifier(client_verifier(
                ca,
                options.require_client_cert,
                provider,
            )?),
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        // wss:// is HTTP/1.1; a client that offers ALPN is told so.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig(Arc::new(config)))
    }
}

/// Reads a certificate chain and its key, and checks that they belong
/// together and, for an SNI entry, that the certificate is valid for its
/// name: a file swapped with another entry's would otherwise fail only in
/// the clients.
fn certified_key(
    cert_chain: &Pem,
    private_key: &Pem,
    provider: &CryptoProvider,
    server_name: Option<&DnsName<'_>>,
) -> Result<CertifiedKey, TlsError> {
    let cert_source = Source::read(cert_chain, "certificate chain")?;
    let certs = cert_source.certificates()?;
    let key_source = Source::read(private_key, "private key")?;
    let key = key_source.private_key()?;
    let certified = CertifiedKey::from_der(certs, key, provider).map_err(|e| match e {
        RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError(format!(
            "{} does not match the certificate in {}",
            key_source.name(),
            cert_source.name()
        )),
        RustlsError::InvalidCertificate(e) => {
            cert_source.error(format_args!("starts with an invalid certificate: {e}"))
        }
        e => key_source.error(format_args!("cannot be used: {e}")),
    })?;
    if let Some(name) = server_name {
        // `from_der` has parsed the certificate already: only the name can fail.
        ParsedCertificate::try_from(&certified.cert[0])
            .and_then(|cert| verify_server_name(&cert, &ServerName::DnsName(name.clone())))
            .map_err(|e| {
                // Without rustls' "invalid peer certificate": here the
                // certificate is ours.
                let detail = match e {
                    RustlsError::InvalidCertificate(e) => e.to_string(),
                    e => e.to_string(),
                };
                cert_source.error(format_args!(
                    "starts with a certificate that is not valid for {}: {detail}",
                    name.as_ref()
                ))
            })?;
    }
    Ok(certified)
}

fn client_verifier(
    ca: &Pem,
    required: bool,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let source = Source::read(ca, "client CA certificate")?;
    let mut roots = RootCertStore::empty();
    for cert in source.certificates()? {
        roots
            .add(cert)
            .map_err(|e| source.error(format_args!("holds an unusable CA certificate: {e}")))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder
        .build()
        .map_err(|e| source.error(format_args!("cannot verify clients: {e}")))
}

#[cfg(test)]
mod tests;
