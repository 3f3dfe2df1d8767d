//! Reading PEM documents, with errors that name the file and what is wrong.

use std::fs::File;
use std::io::Read;

use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{Pem, TlsError};

/// Larger than any certificate bundle: a path naming something else (a log,
/// `/dev/zero`) fails quickly instead of being read to its end.
const MAX_PEM_SIZE: u64 = 16 * 1024 * 1024;

/// A PEM document read into memory, with the words that name it in errors.
pub(super) struct Source {
    name: String,
    bytes: Vec<u8>,
}

impl Source {
    /// Reads `pem`; `what` says what it should hold ("certificate chain").
    pub(super) fn read(pem: &Pem, what: &str) -> Result<Source, TlsError> {
        match pem {
            Pem::Inline(bytes) => Ok(Source {
                name: format!("the {what} given inline"),
                bytes: bytes.clone(),
            }),
            Pem::File(path) => {
                let name = format!("the {what} file {}", path.display());
                let mut bytes = Vec::new();
                File::open(path)
                    .and_then(|file| file.take(MAX_PEM_SIZE + 1).read_to_end(&mut bytes))
                    .map_err(|e| TlsError(format!("cannot read {name}: {e}")))?;
                if bytes.len() as u64 > MAX_PEM_SIZE {
                    return Err(TlsError(format!(
                        "{name} is larger than {} MiB: it is not a PEM file",
                        MAX_PEM_SIZE >> 20
                    )));
                }
                Ok(Source { name, bytes })
            }
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn error(&self, problem: impl std::fmt::Display) -> TlsError {
        TlsError(format!("{} {problem}", self.name))
    }

    /// Every `CERTIFICATE` block, in order; at least one.
    pub(super) fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let certs: Vec<_> = self
            .sections()?
            .into_iter()
            .filter(|(kind, _)| *kind == SectionKind::Certificate)
            .map(|(_, der)| CertificateDer::from(der))
            .collect();
        if certs.is_empty() {
            return Err(self.error(
                "holds no certificate (no \"-----BEGIN CERTIFICATE-----\" block in PEM format)",
            ));
        }
        Ok(certs)
    }

    /// The first private key (PKCS#8, PKCS#1 RSA or SEC1 EC), as OpenSSL takes it.
    pub(super) fn private_key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        // An encrypted key is not a PEM syntax error: say what it is, since
        // rustls has no way to decrypt it.
        if contains(&self.bytes, b"ENCRYPTED PRIVATE KEY") || contains(&self.bytes, b"4,ENCRYPTED")
        {
            return Err(self.error(
                "holds an encrypted private key, which em-websocket-rs cannot decrypt \
                 (write it out unencrypted with `openssl pkey -in KEY -out PLAIN_KEY`)",
            ));
        }
        self.sections()?
            .into_iter()
            .find_map(|(kind, der)| PrivateKeyDer::from_pem(kind, der))
            .ok_or_else(|| {
                self.error("holds no private key (no \"-----BEGIN ... PRIVATE KEY-----\" block in PEM format)")
            })
    }

    fn sections(&self) -> Result<Vec<(SectionKind, Vec<u8>)>, TlsError> {
        // Stops at the first malformed block: the parser does not skip past it.
        <(SectionKind, Vec<u8>)>::pem_slice_iter(&self.bytes)
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(format_args!("is not valid PEM: {e}")))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
