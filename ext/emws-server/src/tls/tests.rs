//! Loading TLS configurations, and handshakes with a rustls client over loopback.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

use super::*;

/// A CA and a certificate for "localhost" signed by it, in PEM.
struct Pki {
    ca: Certificate,
    ca_key: KeyPair,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        let (cert_pem, key_pem) = issue(&ca, &ca_key);
        Pki {
            ca,
            ca_key,
            cert_pem,
            key_pem,
        }
    }

    fn options(&self) -> TlsOptions {
        TlsOptions {
            cert_chain: Pem::Inline(self.cert_pem.clone().into_bytes()),
            private_key: Pem::Inline(self.key_pem.clone().into_bytes()),
            sni: Vec::new(),
            client_ca: None,
            require_client_cert: false,
            tls12: true,
            tls13: true,
        }
    }

    fn ca_pem(&self) -> Pem {
        Pem::Inline(self.ca.pem().into_bytes())
    }
}

/// A certificate for "localhost" and its key, signed by `ca`.
fn issue(ca: &Certificate, ca_key: &KeyPair) -> (String, String) {
    issue_for(ca, ca_key, &["localhost"])
}

/// A certificate for `names` and its key, signed by `ca`.
fn issue_for(ca: &Certificate, ca_key: &KeyPair, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let params = CertificateParams::new(names).unwrap();
    let cert = params.signed_by(&key, ca, ca_key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A file that removes itself.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &[u8]) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "emws-tls-test-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    fn pem(&self) -> Pem {
        Pem::File(self.0.clone())
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn load_error(options: &TlsOptions) -> String {
    TlsConfig::load(options).unwrap_err().to_string()
}

#[test]
fn loads_files_and_offers_http_1_1() {
    let pki = Pki::new();
    let cert = TempFile::new(pki.cert_pem.as_bytes());
    let key = TempFile::new(pki.key_pem.as_bytes());
    let options = TlsOptions {
        cert_chain: cert.pem(),
        private_key: key.pem(),
        ..pki.options()
    };
    let config = TlsConfig::load(&options).unwrap();
    assert_eq!(config.0.alpn_protocols, vec![b"http/1.1".to_vec()]);
}

#[test]
fn loads_a_chain_and_key_from_one_file() {
    let pki = Pki::new();
    let both = format!("{}{}{}", pki.key_pem, pki.cert_pem, pki.ca.pem());
    let file = TempFile::new(both.as_bytes());
    let options = TlsOptions {
        cert_chain: file.pem(),
        private_key: file.pem(),
        ..pki.options()
    };
    assert!(TlsConfig::load(&options).is_ok());
}

#[test]
fn names_a_missing_file() {
    let pki = Pki::new();
    let options = TlsOptions {
        cert_chain: Pem::File("/nonexistent/emws/cert.pem".into()),
        ..pki.options()
    };
    let error = load_error(&options);
    assert!(
        error.starts_with("cannot read the certificate chain file /nonexistent/emws/cert.pem: "),
        "{error}"
    );
    assert!(error.contains("No such file"), "{error}");
}

#[test]
fn names_a_key_that_does_not_match_the_certificate() {
    let pki = Pki::new();
    let other = KeyPair::generate().unwrap().serialize_pem();
    let key = TempFile::new(other.as_bytes());
    let options = TlsOptions {
        private_key: key.pem(),
        ..pki.options()
    };
    assert_eq!(
        load_error(&options),
        format!(
            "the private key file {} does not match the certificate in the certificate chain given inline",
            key.path().display()
        )
    );
}

#[test]
fn reports_malformed_pem() {
    let pki = Pki::new();
    let broken = "-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n";
    let options = TlsOptions {
        cert_chain: Pem::Inline(broken.into()),
        ..pki.options()
    };
    let error = load_error(&options);
    assert!(
        error.starts_with("the certificate chain given inline is not valid PEM: "),
        "{error}"
    );

    let cut = &pki.cert_pem[..pki.cert_pem.len() / 2];
    let options = TlsOptions {
        cert_chain: Pem::Inline(cut.into()),
        ..pki.options()
    };
    assert!(load_error(&options).contains("is not valid PEM"));
}

#[test]
fn reports_a_file_without_the_expected_block() {
    let pki = Pki::new();
    let options = TlsOptions {
        cert_chain: Pem::Inline(pki.key_pem.clone().into()),
        ..pki.options()
    };
    assert!(load_error(&options).contains("holds no certificate"));
    let options = TlsOptions {
        private_key: Pem::Inline(pki.cert_pem.clone().into()),
        ..pki.options()
    };
    assert!(load_error(&options).contains("holds no private key"));
    let options = TlsOptions {
        private_key: Pem::Inline(b"hello".to_vec()),
        ..pki.options()
    };
    assert!(load_error(&options).contains("holds no private key"));
}

#[test]
fn refuses_an_encrypted_key() {
    let pki = Pki::new();
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let options = TlsOptions {
        private_key: Pem::Inline(encrypted.into()),
        ..pki.options()
    };
    assert!(load_error(&options).contains("holds an encrypted private key"));
}

#[test]
fn reports_a_certificate_that_is_not_x509() {
    let pki = Pki::new();
    let junk = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    let options = TlsOptions {
        cert_chain: Pem::Inline(junk.into()),
        ..pki.options()
    };
    let error = load_error(&options);
    assert!(
        error.starts_with("the certificate chain given inline starts with an invalid certificate"),
        "{error}"
    );
}

#[test]
fn reports_an_unusable_client_ca() {
    let pki = Pki::new();
    let options = TlsOptions {
        client_ca: Some(Pem::Inline(pki.key_pem.clone().into())),
        ..pki.options()
    };
    assert!(load_error(&options)
        .starts_with("the client CA certificate given inline holds no certificate"));
}

#[test]
fn needs_a_tls_version() {
    let pki = Pki::new();
    let options = TlsOptions {
        tls12: false,
        tls13: false,
        ..pki.options()
    };
    assert_eq!(load_error(&options), "no TLS version is enabled");
}

/// Serves one TLS handshake on loopback, then echoes one line.
async fn serve_once(config: TlsConfig) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        if let TlsConn::Up(mut tls) = config.accept(tcp, Some(Duration::from_secs(5))).await {
            let mut buf = [0u8; 64];
            let n = tls.read(&mut buf).await.unwrap_or(0);
            let _ = tls.write_all(&buf[..n]).await;
            let _ = tls.shutdown().await;
        }
    });
    port
}

fn client_config(pki: &Pki, client_cert: Option<(String, String)>, tls13: bool) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let versions: &[_] = if tls13 { &[&TLS13] } else { &[&TLS12] };
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// Connects, sends a line and returns the echo, the ALPN protocol and the
/// TLS version; an error when the server refused the handshake.
async fn exchange(port: u16, config: ClientConfig) -> std::io::Result<(Vec<u8>, Vec<u8>, u16)> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    tls.write_all(b"ping\n").await?;
    let mut echo = Vec::new();
    tls.read_to_end(&mut echo).await?;
    let (_, session) = tls.get_ref();
    let alpn = session.alpn_protocol().unwrap_or_default().to_vec();
    let version = u16::from(session.protocol_version().unwrap());
    Ok((echo, alpn, version))
}

#[tokio::test]
async fn handshakes_with_alpn_and_the_chosen_version() {
    let pki = Pki::new();
    let port = serve_once(TlsConfig::load(&pki.options()).unwrap()).await;
    let (echo, alpn, version) = exchange(port, client_config(&pki, None, true))
        .await
        .unwrap();
    assert_eq!(
        (echo.as_slice(), alpn.as_slice(), version),
        (&b"ping\n"[..], &b"http/1.1"[..], 0x0304)
    );

    let only_12 = TlsOptions {
        tls13: false,
        ..pki.options()
    };
    let port = serve_once(TlsConfig::load(&only_12).unwrap()).await;
    assert!(exchange(port, client_config(&pki, None, true))
        .await
        .is_err());
    let port = serve_once(TlsConfig::load(&only_12).unwrap()).await;
    let (_, _, version) = exchange(port, client_config(&pki, None, false))
        .await
        .unwrap();
    assert_eq!(version, 0x0303);
}

#[tokio::test]
async fn checks_client_certificates_against_the_ca() {
    let pki = Pki::new();
    let required = TlsOptions {
        client_ca: Some(pki.ca_pem()),
        require_client_cert: true,
        ..pki.options()
    };
    let good = issue(&pki.ca, &pki.ca_key);
    let port = serve_once(TlsConfig::load(&required).unwrap()).await;
    let (echo, _, _) = exchange(port, client_config(&pki, Some(good), true))
        .await
        .unwrap();
    assert_eq!(echo, b"ping\n");

    // A certificate from another CA, and none at all, are refused.
    let other = Pki::new();
    let stranger = issue(&other.ca, &other.ca_key);
    let port = serve_once(TlsConfig::load(&required).unwrap()).await;
    assert!(exchange(port, client_config(&pki, Some(stranger), true))
        .await
        .is_err());
    let port = serve_once(TlsConfig::load(&required).unwrap()).await;
    assert!(exchange(port, client_config(&pki, None, true))
        .await
        .is_err());

    // Optional: no certificate is fine, a bad one is not.
    let optional = TlsOptions {
        require_client_cert: false,
        ..required
    };
    let port = serve_once(TlsConfig::load(&optional).unwrap()).await;
    assert!(exchange(port, client_config(&pki, None, true))
        .await
        .is_ok());
    let stranger = issue(&other.ca, &other.ca_key);
    let port = serve_once(TlsConfig::load(&optional).unwrap()).await;
    assert!(exchange(port, client_config(&pki, Some(stranger), true))
        .await
        .is_err());
}

#[tokio::test]
async fn drops_a_client_that_speaks_plain_http() {
    let pki = Pki::new();
    let config = TlsConfig::load(&pki.options()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        matches!(
            config.accept(tcp, Some(Duration::from_secs(5))).await,
            TlsConn::Down
        )
    });
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    assert!(server.await.unwrap(), "the handshake should have failed");
    assert!(!answer.starts_with(b"HTTP/"));
}

#[tokio::test]
async fn gives_up_on_a_silent_client_after_the_timeout() {
    let pki = Pki::new();
    let config = TlsConfig::load(&pki.options()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    let started = std::time::Instant::now();
    let conn = config.accept(tcp, Some(Duration::from_millis(200))).await;
    assert!(matches!(conn, TlsConn::Down));
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// An SNI entry for `name` with a certificate `ca` issued for `names`.
fn sni_entry(pki: &Pki, name: &str, names: &[&str]) -> SniCertificate {
    let (cert, key) = issue_for(&pki.ca, &pki.ca_key, names);
    SniCertificate {
        server_name: name.to_string(),
        cert_chain: Pem::Inline(cert.into_bytes()),
        private_key: Pem::Inline(key.into_bytes()),
    }
}

fn leaf_der(pem: &Pem) -> CertificateDer<'static> {
    let Pem::Inline(pem) = pem else {
        unreachable!("the tests' certificates are inline")
    };
    CertificateDer::from_pem_slice(pem).unwrap()
}

/// Handshakes asking for `server_name` (none: SNI off) and returns the
/// certificate the server answered with; the client checks it is valid for
/// the name, as a browser would.
async fn served_certificate(
    config: &TlsConfig,
    pki: &Pki,
    server_name: &str,
    send_sni: bool,
) -> CertificateDer<'static> {
    let port = serve_once(config.clone()).await;
    let mut client = client_config(pki, None, true);
    client.enable_sni = send_sni;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let tls = TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("{server_name}: {e}"));
    let (_, session) = tls.get_ref();
    session.peer_certificates().unwrap()[0].clone()
}

#[tokio::test]
async fn answers_each_server_name_with_its_certificate_and_others_with_the_default() {
    let pki = Pki::new();
    // The default certificate also covers a name that has no entry, so that
    // the client accepts it there.
    let (cert, key) = issue_for(&pki.ca, &pki.ca_key, &["localhost", "other.example"]);
    let a = sni_entry(&pki, "a.example", &["a.example"]);
    let b = sni_entry(&pki, "B.Example", &["b.example"]);
    let options = TlsOptions {
        cert_chain: Pem::Inline(cert.into_bytes()),
        private_key: Pem::Inline(key.into_bytes()),
        sni: vec![a.clone(), b.clone()],
        ..pki.options()
    };
    let default = leaf_der(&options.cert_chain);
    let config = TlsConfig::load(&options).unwrap();
    let served = |name, sni| served_certificate(&config, &pki, name, sni);
    assert_eq!(served("a.example", true).await, leaf_der(&a.cert_chain));
    assert_eq!(served("A.EXAMPLE", true).await, leaf_der(&a.cert_chain));
    assert_eq!(served("b.example", true).await, leaf_der(&b.cert_chain));
    assert_eq!(served("other.example", true).await, default);
    assert_eq!(served("localhost", false).await, default);
    assert_ne!(leaf_der(&a.cert_chain), default);
}

#[test]
fn names_the_sni_entry_that_does_not_load() {
    let pki = Pki::new();
    let with_entry = |entry: SniCertificate| {
        load_error(&TlsOptions {
            sni: vec![sni_entry(&pki, "good.example", &["good.example"]), entry],
            ..pki.options()
        })
    };

    let missing = SniCertificate {
        cert_chain: Pem::File("/nonexistent/emws/a.pem".into()),
        ..sni_entry(&pki, "a.example", &["a.example"])
    };
    let error = with_entry(missing);
    assert!(
        error.starts_with(
            "sni \"a.example\": cannot read the certificate chain file /nonexistent/emws/a.pem: "
        ),
        "{error}"
    );

    let other_key = KeyPair::generate().unwrap().serialize_pem();
    let key = TempFile::new(other_key.as_bytes());
    let mismatched = SniCertificate {
        private_key: key.pem(),
        ..sni_entry(&pki, "a.example", &["a.example"])
    };
    assert_eq!(
        with_entry(mismatched),
        format!(
            "sni \"a.example\": the private key file {} does not match the certificate in the \
             certificate chain given inline",
            key.path().display()
        )
    );

    // A file swapped with another entry's.
    let (cert_pem, key_pem) = issue_for(&pki.ca, &pki.ca_key, &["b.example"]);
    let cert = TempFile::new(cert_pem.as_bytes());
    let swapped = SniCertificate {
        server_name: "a.example".to_string(),
        cert_chain: cert.pem(),
        private_key: Pem::Inline(key_pem.into_bytes()),
    };
    let error = with_entry(swapped);
    assert!(
        error.starts_with(&format!(
            "sni \"a.example\": the certificate chain file {} starts with a certificate that is \
             not valid for a.example: ",
            cert.path().display()
        )),
        "{error}"
    );

    let wildcard = sni_entry(&pki, "*.example", &["*.example"]);
    assert!(with_entry(wildcard).starts_with("sni \"*.example\": \"*.example\" is not a DNS name"));
    let twice = sni_entry(&pki, "GOOD.example", &["good.example"]);
    assert_eq!(
        with_entry(twice),
        "sni \"GOOD.example\": good.example is given more than once \
         (server names are matched regardless of case)"
    );
}
