//! A minimal WebSocket client (RFC 6455): just what a load generator needs.
//!
//! Reads and writes go through plain buffers so that a connection can keep
//! many messages in flight while it reads echoes, without a task per direction.
//!
//! `wss://` runs the same protocol over rustls (ring provider); `--deflate`
//! negotiates permessage-deflate (RFC 7692) and compresses every data
//! message sent and inflates every compressed one received.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use bytes::{Buf, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest message accepted from the server; anything bigger is a protocol error here.
const MAX_MESSAGE: usize = 64 << 20;
const MAX_RESPONSE_HEAD: usize = 16 << 10;

/// A `ws://host:port/path` or `wss://host:port/path` target; the host must
/// be a loopback address.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub path: String,
    /// wss://: TLS (the certificate checked against `--ca`), for the host's name or IP.
    pub tls: Option<ServerName<'static>>,
}

/// How every connection is set up: TLS for wss:// targets, and whether to
/// offer permessage-deflate. Set once, by `configure`, before connecting.
struct Setup {
    tls: Option<TlsConnector>,
    deflate: bool,
}

static SETUP: OnceLock<Setup> = OnceLock::new();

/// TLS trusting only the certificates in `ca` (PEM), without session
/// resumption so that every handshake is a full one; and whether to offer
/// permessage-deflate. Call once, before the first `Conn::connect`.
pub fn configure(ca: Option<&std::path::Path>, deflate: bool) -> Result<()> {
    let tls = match ca {
        None => None,
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read {}", path.display()))?
            {
                roots
                    .add(cert.with_context(|| format!("bad PEM in {}", path.display()))?)
                    .with_context(|| format!("unusable certificate in {}", path.display()))?;
            }
            ensure!(!roots.is_empty(), "no certificate in {}", path.display());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.resumption = rustls::client::Resumption::disabled();
            Some(TlsConnector::from(Arc::new(config)))
        }
    };
    SETUP
        .set(Setup { tls, deflate })
        .map_err(|_| anyhow::anyhow!("ws::configure called twice"))
}

fn setup() -> &'static Setup {
    SETUP.get_or_init(|| Setup {
        tls: None,
        deflate: false,
    })
}

impl std::str::FromStr for Target {
    type Err = anyhow::Error;

    fn from_str(url: &str) -> Result<Self> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else {
            bail!("only ws:// and wss:// URLs are supported");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = authority
            .rsplit_once(':')
            .context("the URL needs an explicit port")?;
        let port: u16 = port.parse().context("bad port")?;
        let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
            "localhost" => Ipv4Addr::LOCALHOST.into(),
            literal => literal
                .parse()
                .context("host must be an IP literal or localhost")?,
        };
        ensure!(ip.is_loopback(), "refusing non-loopback target {ip}");
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let tls = match tls {
            false => None,
            true => Some(
                ServerName::try_from(name.to_string())
                    .with_context(|| format!("bad TLS server name {name:?}"))?,
            ),
        };
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host: authority.to_string(),
            path: path.to_string(),
            tls,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    Continuation = 0,
    Text = 1,
    Binary = 2,
    Close = 8,
    Ping = 9,
    Pong = 10,
}

impl Opcode {
    fn from_u8(op: u8) -> Result<Self> {
        Ok(match op {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            other => bail!("server sent reserved opcode {other}"),
        })
    }
}

/// A complete data message, or a close frame from the server.
pub struct Message {
    pub opcode: Opcode,
    pub data: Bytes,
}

/// Small xorshift generator: handshake keys and masking keys need variety, not secrecy.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

pub struct Conn {
    rd: Reader,
    wr: Writer,
    /// TLS keeps what was written in its own buffer until flushed.
    tls: bool,
    unflushed: bool,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Opcode, compression (RSV1) and data of a fragmented message being assembled.
    partial: Option<(Opcode, bool, BytesMut)>,
    rng: Rng,
    deflate: Option<Deflate>,
    /// wss://: the negotiated protocol version and cipher suite.
    pub tls_info: Option<String>,
}

impl Conn {
    /// Connects (and, for wss://, completes the TLS handshake) and completes
    /// the opening handshake, checking Sec-WebSocket-Accept and, with
    /// `--deflate`, that permessage-deflate was accepted.
    pub async fn connect(target: &Target, seed: u64) -> Result<Conn> {
        let stream = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("connect to {}", target.addr))?;
        stream.set_nodelay(true)?;
        let setup = setup();
        let (mut rd, mut wr, tls_info): (Reader, Writer, _) = match &target.tls {
            None => {
                let (rd, wr) = stream.into_split();
                (Box::new(rd), Box::new(wr), None)
            }
            Some(name) => {
                let connector = setup
                    .tls
                    .as_ref()
                    .context("wss:// needs --ca (the server's certificate, PEM)")?;
                let tls = connector
                    .connect(name.clone(), stream)
                    .await
                    .context("TLS handshake")?;
                let session = tls.get_ref().1;
                let info = format!(
                    "{:?} {:?}",
                    session.protocol_version().context("no TLS version")?,
                    session
                        .negotiated_cipher_suite()
                        .context("no cipher suite")?
                        .suite()
                );
                let (rd, wr) = tokio::io::split(tls);
                (Box::new(rd), Box::new(wr), Some(info))
            }
        };
        let mut rng = Rng::new(seed);
        let key_bytes: Vec<u8> = (0..2).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
        let key = BASE64.encode(key_bytes);
        let offer = if setup.deflate {
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        } else {
            ""
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n",
            target.path, target.host
        );
        wr.write_all(request.as_bytes()).await?;
        wr.flush().await?;

        let mut rbuf = BytesMut::with_capacity(4096);
        let head_len = loop {
            if let Some(i) = rbuf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            ensure!(
                rbuf.len() < MAX_RESPONSE_HEAD,
                "handshake response too long"
            );
            if rd.read_buf(&mut rbuf).await? == 0 {
                bail!("server closed the connection during the handshake");
            }
        };
        let head = rbuf.split_to(head_len);
        let extensions = check_handshake(&String::from_utf8_lossy(&head), &key)?;
        let deflate = match (setup.deflate, extensions) {
            (false, None) => None,
            (false, Some(ext)) => bail!("server answered extensions {ext:?} to no offer"),
            (true, None) => bail!("the server did not accept permessage-deflate"),
            (true, Some(ext)) => Some(Deflate::negotiated(&ext)?),
        };
        Ok(Conn {
            rd,
            wr,
            tls: target.tls.is_some(),
            unflushed: false,
            rbuf,
            wbuf: Vec::new(),
            wpos: 0,
            partial: None,
            rng,
            deflate,
            tls_info,
        })
    }

    /// The permessage-deflate parameters the server answered, if negotiated.
    pub fn deflate_params(&self) -> Option<&str> {
        self.deflate.as_ref().map(|d| d.params.as_str())
    }

    /// Queues one masked frame whose payload is the concatenation of `parts`;
    /// with permessage-deflate, data messages are compressed (RSV1 set).
    pub fn send(&mut self, opcode: Opcode, parts: &[&[u8]]) {
        match (&mut self.deflate, opcode) {
            (Some(deflate), Opcode::Text | Opcode::Binary) => {
                let compressed = deflate.compress(parts);
                deflate.bytes.sent_raw += deflate.input.len() as u64;
                deflate.bytes.sent_wire += compressed.len() as u64;
                self.frame(0x80 | 0x40 | opcode as u8, &[&compressed]);
            }
            _ => self.frame(0x80 | opcode as u8, parts),
        }
    }

    fn frame(&mut self, first: u8, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.wbuf.push(first);
        match len {
            0..=125 => self.wbuf.push(0x80 | len as u8),
            126..=0xFFFF => {
                self.wbuf.push(0x80 | 126);
                self.wbuf.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                self.wbuf.push(0x80 | 127);
                self.wbuf.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        let key = (self.rng.next_u64() as u32).to_be_bytes();
        self.wbuf.extend_from_slice(&key);
        let start = self.wbuf.len();
        for part in parts {
            self.wbuf.extend_from_slice(part);
        }
        apply_mask(&mut self.wbuf[start..], key);
    }

    pub fn has_pending_writes(&self) -> bool {
        self.wpos < self.wbuf.len() || self.unflushed
    }

    /// Waits until some bytes were read or written. A closed socket is an error.
    pub async fn io(&mut self) -> Result<()> {
        if self.rbuf.capacity() - self.rbuf.len() < 16 << 10 {
            self.rbuf.reserve(64 << 10);
        }
        if self.wpos < self.wbuf.len() {
            tokio::select! {
                read = self.rd.read_buf(&mut self.rbuf) => check_read(read),
                written = self.wr.write(&self.wbuf[self.wpos..]) => {
                    self.wpos += written?;
                    if self.wpos == self.wbuf.len() {
                        self.wbuf.clear();
                        self.wpos = 0;
                        self.unflushed = self.tls;
                    }
                    Ok(())
                }
            }
        } else if self.unflushed {
            tokio::select! {
                read = self.rd.read_buf(&mut self.rbuf) => check_read(read),
                flushed = self.wr.flush() => {
                    flushed?;
                    self.unflushed = false;
                    Ok(())
                }
            }
        } else {
            check_read(self.rd.read_buf(&mut self.rbuf).await)
        }
    }

    /// Writes everything queued, still reading meanwhile so neither side can stall.
    pub async fn flush(&mut self) -> Result<()> {
        while self.has_pending_writes() {
            self.io().await?;
        }
        Ok(())
    }

    /// The next complete message already buffered, if any. Pings are answered
    /// and pongs dropped here; a close frame is handed to the caller.
    /// Compressed messages are inflated.
    pub fn next_message(&mut self) -> Result<Option<Message>> {
        loop {
            let Some((header_len, fin, rsv1, opcode, len)) = parse_header(&self.rbuf)? else {
                return Ok(None);
            };
            if self.rbuf.len() < header_len + len {
                self.rbuf.reserve(header_len + len - self.rbuf.len());
                return Ok(None);
            }
            ensure!(
                !rsv1
                    || (self.deflate.is_some() && matches!(opcode, Opcode::Text | Opcode::Binary)),
                "server set RSV1 on a {opcode:?} frame without permessage-deflate for it"
            );
            self.rbuf.advance(header_len);
            let payload = self.rbuf.split_to(len);
            match opcode {
                Opcode::Ping => self.send(Opcode::Pong, &[&payload]),
                Opcode::Pong => {}
                Opcode::Close => {
                    return Ok(Some(Message {
                        opcode,
                        data: payload.freeze(),
                    }))
                }
                Opcode::Text | Opcode::Binary if fin => {
                    ensure!(
                        self.partial.is_none(),
                        "new message inside a fragmented one"
                    );
                    return Ok(Some(Message {
                        opcode,
                        data: self.complete(rsv1, payload)?,
                    }));
                }
                Opcode::Text | Opcode::Binary => {
                    ensure!(
                        self.partial.is_none(),
                        "new message inside a fragmented one"
                    );
                    self.partial = Some((opcode, rsv1, payload));
                }
                Opcode::Continuation => {
                    let Some((first, compressed, mut data)) = self.partial.take() else {
                        bail!("continuation frame without a message to continue");
                    };
                    data.extend_from_slice(&payload);
                    ensure!(
                        data.len() <= MAX_MESSAGE,
                        "message over {MAX_MESSAGE} bytes"
                    );
                    if fin {
                        return Ok(Some(Message {
                            opcode: first,
                            data: self.complete(compressed, data)?,
                        }));
                    }
                    self.partial = Some((first, compressed, data));
                }
            }
        }
    }

    fn complete(&mut self, compressed: bool, payload: BytesMut) -> Result<Bytes> {
        match (compressed, &mut self.deflate) {
            (true, Some(deflate)) => {
                let data = deflate.inflate(&payload)?;
                deflate.bytes.received_wire += payload.len() as u64;
                deflate.bytes.received_raw += data.len() as u64;
                Ok(Bytes::from(data))
            }
            (false, Some(deflate)) => {
                deflate.bytes.received_wire += payload.len() as u64;
                deflate.bytes.received_raw += payload.len() as u64;
                deflate.bytes.received_uncompressed += 1;
                Ok(payload.freeze())
            }
            _ => Ok(payload.freeze()),
        }
    }

    /// Payload bytes before and after compression so far (--deflate).
    pub fn deflate_bytes(&self) -> Option<DeflateBytes> {
        self.deflate.as_ref().map(|d| d.bytes)
    }

    /// Waits for the next data message (answering pings meanwhile).
    pub async fn recv(&mut self) -> Result<Message> {
        loop {
            if let Some(msg) = self.next_message()? {
                return Ok(msg);
            }
            self.io().await?;
        }
    }

    /// Closing handshake: send close 1000 and wait for the server's close frame
    /// (or its end of stream), bounded by `limit`.
    pub async fn close(self, limit: Duration) -> Result<()> {
        self.close_with(limit, false).await
    }

    /// The closing handshake, then wait for the server to end the TCP
    /// connection (so that the server, closing first, keeps the TIME_WAIT).
    pub async fn close_until_eof(self, limit: Duration) -> Result<()> {
        self.close_with(limit, true).await
    }

    async fn close_with(mut self, limit: Duration, until_eof: bool) -> Result<()> {
        self.send(Opcode::Close, &[&1000u16.to_be_bytes()]);
        let handshake = async {
            self.flush().await?;
            let mut closed = false;
            loop {
                if closed {
                    // Anything after the close frame is ignored; only the end counts.
                    self.rbuf.clear();
                    match self.io().await {
                        Ok(()) => continue,
                        Err(e) if is_eof(&e) => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
                match self.recv().await {
                    Ok(msg) if msg.opcode == Opcode::Close && !until_eof => return Ok(()),
                    Ok(msg) if msg.opcode == Opcode::Close => closed = true,
                    Ok(_) => {}
                    Err(e) if is_eof(&e) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        };
        tokio::time::timeout(limit, handshake)
            .await
            .context("no close frame from the server in time")?
    }
}

#[derive(Debug)]
struct Eof;

impl std::fmt::Display for Eof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("server closed the connection")
    }
}

impl std::error::Error for Eof {}

fn is_eof(e: &anyhow::Error) -> bool {
    e.is::<Eof>()
}

/// A read of nothing is the end of the stream; so is a TLS peer closing the
/// TCP connection without close_notify (EventMachine does, after the
/// closing handshake).
fn check_read(read: std::io::Result<usize>) -> Result<()> {
    match read {
        Ok(0) => Err(Eof.into()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Eof.into()),
        Err(e) => Err(e.into()),
    }
}

/// Checks the 101 response; returns its Sec-WebSocket-Extensions, if any.
fn check_handshake(head: &str, key: &str) -> Result<Option<String>> {
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    ensure!(
        status.starts_with("HTTP/1.1 101"),
        "handshake refused: {status:?}"
    );
    let expected = BASE64.encode(Sha1::digest(format!("{key}{GUID}").as_bytes()));
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect();
    let header = |wanted: &str| {
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|&(_, value)| value)
            .collect::<Vec<_>>()
    };
    let accept = *header("sec-websocket-accept")
        .first()
        .context("handshake response lacks Sec-WebSocket-Accept")?;
    ensure!(accept == expected, "wrong Sec-WebSocket-Accept {accept:?}");
    let extensions = header("sec-websocket-extensions");
    Ok((!extensions.is_empty()).then(|| extensions.join(", ")))
}

/// permessage-deflate as the server accepted it: a compressor for what we
/// send (its window as the server allowed, reset after each message if it
/// asked for client_no_context_takeover) and a decompressor for what it sends.
struct Deflate {
    compress: Compress,
    decompress: Decompress,
    reset_compress: bool,
    reset_decompress: bool,
    input: Vec<u8>,
    params: String,
    bytes: DeflateBytes,
}

/// Data message payload bytes with permessage-deflate: before and after
/// compression, both ways (what the server sent uncompressed counts the same
/// on both sides of its ratio).
#[derive(Clone, Copy, Debug, Default)]
pub struct DeflateBytes {
    pub sent_raw: u64,
    pub sent_wire: u64,
    pub received_raw: u64,
    pub received_wire: u64,
    /// Data messages the server sent without RSV1.
    pub received_uncompressed: u64,
}

impl DeflateBytes {
    pub fn add(&mut self, other: &DeflateBytes) {
        self.sent_raw += other.sent_raw;
        self.sent_wire += other.sent_wire;
        self.received_raw += other.received_raw;
        self.received_wire += other.received_wire;
        self.received_uncompressed += other.received_uncompressed;
    }
}

impl Deflate {
    fn negotiated(response: &str) -> Result<Deflate> {
        ensure!(
            !response.contains(','),
            "server accepted more than one extension: {response:?}"
        );
        let mut params = response.split(';').map(str::trim);
        ensure!(
            params.next() == Some("permessage-deflate"),
            "server answered {response:?}, not permessage-deflate"
        );
        let (mut client_bits, mut reset_compress, mut reset_decompress) = (15u8, false, false);
        for param in params {
            let (name, value) = match param.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
                None => (param, None),
            };
            match (name, value) {
                ("client_no_context_takeover", None) => reset_compress = true,
                ("server_no_context_takeover", None) => reset_decompress = true,
                ("client_max_window_bits", Some(bits)) => {
                    client_bits = bits.parse().context("bad client_max_window_bits")?;
                    // zlib cannot make raw deflate with an 8-bit window.
                    ensure!(
                        (9..=15).contains(&client_bits),
                        "client_max_window_bits={client_bits} is not supported here"
                    );
                }
                ("server_max_window_bits", Some(bits)) => {
                    let bits: u8 = bits.parse().context("bad server_max_window_bits")?;
                    ensure!(
                        (8..=15).contains(&bits),
                        "bad server_max_window_bits {bits}"
                    );
                }
                _ => bail!("unexpected permessage-deflate parameter {param:?}"),
            }
        }
        Ok(Deflate {
            compress: Compress::new_with_window_bits(Compression::default(), false, client_bits),
            // A 15-bit window inflates what any smaller window made.
            decompress: Decompress::new_with_window_bits(false, 15),
            reset_compress,
            reset_decompress,
            input: Vec::new(),
            params: response.to_string(),
            bytes: DeflateBytes::default(),
        })
    }

    /// One message's payload, compressed, without the 00 00 ff ff tail.
    fn compress(&mut self, parts: &[&[u8]]) -> Vec<u8> {
        self.input.clear();
        for part in parts {
            self.input.extend_from_slice(part);
        }
        let mut out = Vec::with_capacity(self.input.len() / 2 + 64);
        let start = self.compress.total_in();
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(256));
            }
            let consumed = (self.compress.total_in() - start) as usize;
            self.compress
                .compress_vec(&self.input[consumed..], &mut out, FlushCompress::Sync)
                .expect("deflate cannot fail on its own stream");
            let consumed = (self.compress.total_in() - start) as usize;
            if consumed == self.input.len() && out.len() < out.capacity() {
                break;
            }
        }
        assert!(
            out.ends_with(&[0, 0, 0xff, 0xff]),
            "a sync flush ends with 00 00 ff ff"
        );
        out.truncate(out.len() - 4);
        if self.reset_compress {
            self.compress.reset();
        }
        out
    }

    /// A compressed message's payload, inflated (at most MAX_MESSAGE bytes).
    fn inflate(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.input.clear();
        self.input.extend_from_slice(data);
        self.input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(data.len() * 4 + 64);
        let start = self.decompress.total_in();
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let (in_before, out_before) = (self.decompress.total_in(), out.len());
            let consumed = (in_before - start) as usize;
            let status = self
                .decompress
                .decompress_vec(&self.input[consumed..], &mut out, FlushDecompress::Sync)
                .context("server sent a bad deflate stream")?;
            ensure!(
                out.len() <= MAX_MESSAGE,
                "inflated message over {MAX_MESSAGE} bytes"
            );
            let consumed = (self.decompress.total_in() - start) as usize;
            if status == Status::StreamEnd {
                // A final block: the server starts a new stream next message.
                self.decompress.reset(false);
                break;
            }
            if consumed == self.input.len() && out.len() < out.capacity() {
                break;
            }
            ensure!(
                self.decompress.total_in() > in_before || out.len() > out_before,
                "inflating stalled"
            );
        }
        if self.reset_decompress {
            self.decompress.reset(false);
        }
        Ok(out)
    }
}

/// Parses a server frame header: (header length, FIN, RSV1, opcode, payload length).
type FrameHeader = (usize, bool, bool, Opcode, usize);

fn parse_header(buf: &[u8]) -> Result<Option<FrameHeader>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    let rsv1 = buf[0] & 0x40 != 0;
    ensure!(
        buf[0] & 0x30 == 0,
        "server set RSV2/RSV3 without an extension"
    );
    let opcode = Opcode::from_u8(buf[0] & 0x0F)?;
    ensure!(buf[1] & 0x80 == 0, "server sent a masked frame");
    let (header_len, len) = match buf[1] & 0x7F {
        126 if buf.len() < 4 => return Ok(None),
        126 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
        127 if buf.len() < 10 => return Ok(None),
        127 => (10, u64::from_be_bytes(buf[2..10].try_into()?) as usize),
        n => (2, n as usize),
    };
    ensure!(len <= MAX_MESSAGE, "frame of {len} bytes is over the limit");
    Ok(Some((header_len, fin, rsv1, opcode, len)))
}

/// XORs `data` with the masking key, eight bytes at a time.
fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().unwrap()) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_matches_bytewise_definition() {
        let key = [1, 2, 3, 4];
        let original: Vec<u8> = (0..37).collect();
        let mut masked = original.clone();
        apply_mask(&mut masked, key);
        for (i, (m, o)) in masked.iter().zip(&original).enumerate() {
            assert_eq!(*m, o ^ key[i % 4]);
        }
    }

    #[test]
    fn targets_must_be_loopback() {
        assert!("ws://127.0.0.1:8080/".parse::<Target>().is_ok());
        assert!("ws://localhost:8080".parse::<Target>().is_ok());
        assert!("ws://[::1]:8080/x".parse::<Target>().is_ok());
        assert!("ws://10.0.0.1:8080/".parse::<Target>().is_err());
        assert!("ws://127.0.0.1/".parse::<Target>().is_err());
    }

    #[test]
    fn wss_targets_carry_a_server_name() {
        let ip: Target = "wss://127.0.0.1:8443/".parse().unwrap();
        assert!(matches!(ip.tls, Some(ServerName::IpAddress(_))));
        let name: Target = "wss://localhost:8443/".parse().unwrap();
        assert!(matches!(name.tls, Some(ServerName::DnsName(_))));
        assert!("ws://127.0.0.1:8080/"
            .parse::<Target>()
            .unwrap()
            .tls
            .is_none());
        assert!("http://127.0.0.1:8080/".parse::<Target>().is_err());
    }

    #[test]
    fn deflated_messages_inflate_with_and_without_context_takeover() {
        for answer in [
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12",
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
        ] {
            let mut ours = Deflate::negotiated(answer).unwrap();
            let mut theirs = Deflate::negotiated(answer).unwrap();
            let message: Vec<u8> = (0..5000u32).map(|i| b"abcab"[(i % 5) as usize]).collect();
            for round in 0..3 {
                let wire = ours.compress(&[&message[..100], &message[100..]]);
                assert!(wire.len() < message.len() / 10, "{answer}: compressed");
                assert!(
                    !wire.ends_with(&[0, 0, 0xff, 0xff]),
                    "{answer}: tail stripped"
                );
                assert_eq!(
                    theirs.inflate(&wire).unwrap(),
                    message,
                    "{answer} round {round}"
                );
            }
        }
        assert!(Deflate::negotiated("x-webkit-deflate-frame").is_err());
        assert!(Deflate::negotiated("permessage-deflate; client_max_window_bits=8").is_err());
    }

    #[test]
    fn handshake_accept_is_checked() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(check_handshake(good, key).is_ok());
        assert!(check_handshake(&good.replace("s3p", "xxx"), key).is_err());
    }
}
