//! A minimal WebSocket client (RFC 6455): just what a load generator needs.
//!
//! Reads and writes go through plain buffers so that a connection can keep
//! many messages in flight while it reads echoes, without a task per direction.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use bytes::{Buf, Bytes, BytesMut};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest message accepted from the server; anything bigger is a protocol error here.
const MAX_MESSAGE: usize = 64 << 20;
const MAX_RESPONSE_HEAD: usize = 16 << 10;

/// A `ws://host:port/path` target; the host must be a loopback address.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub path: String,
}

impl std::str::FromStr for Target {
    type Err = anyhow::Error;

    fn from_str(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("ws://")
            .context("only ws:// URLs are supported")?;
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
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host: authority.to_string(),
            path: path.to_string(),
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

pub struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Opcode and data of a fragmented message being assembled.
    partial: Option<(Opcode, BytesMut)>,
    rng: Rng,
}

impl Conn {
    /// Connects and completes the opening handshake, checking Sec-WebSocket-Accept.
    pub async fn connect(target: &Target, seed: u64) -> Result<Conn> {
        let stream = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("connect to {}", target.addr))?;
        stream.set_nodelay(true)?;
        let (mut rd, mut wr) = stream.into_split();
        let mut rng = Rng::new(seed);
        let key_bytes: Vec<u8> = (0..2).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
        let key = BASE64.encode(key_bytes);
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            target.path, target.host
        );
        wr.write_all(request.as_bytes()).await?;

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
        check_handshake(&String::from_utf8_lossy(&head), &key)?;
        Ok(Conn {
            rd,
            wr,
            rbuf,
            wbuf: Vec::new(),
            wpos: 0,
            partial: None,
            rng,
        })
    }

    /// Queues one masked frame whose payload is the concatenation of `parts`.
    pub fn send(&mut self, opcode: Opcode, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.wbuf.push(0x80 | opcode as u8);
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
        self.wpos < self.wbuf.len()
    }

    /// Waits until some bytes were read or written. A closed socket is an error.
    pub async fn io(&mut self) -> Result<()> {
        if self.rbuf.capacity() - self.rbuf.len() < 16 << 10 {
            self.rbuf.reserve(64 << 10);
        }
        if self.has_pending_writes() {
            tokio::select! {
                read = self.rd.read_buf(&mut self.rbuf) => check_read(read?),
                written = self.wr.write(&self.wbuf[self.wpos..]) => {
                    self.wpos += written?;
                    if !self.has_pending_writes() {
                        self.wbuf.clear();
                        self.wpos = 0;
                    }
                    Ok(())
                }
            }
        } else {
            check_read(self.rd.read_buf(&mut self.rbuf).await?)
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
    pub fn next_message(&mut self) -> Result<Option<Message>> {
        loop {
            let Some((header_len, fin, opcode, len)) = parse_header(&self.rbuf)? else {
                return Ok(None);
            };
            if self.rbuf.len() < header_len + len {
                self.rbuf.reserve(header_len + len - self.rbuf.len());
                return Ok(None);
            }
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
                        data: payload.freeze(),
                    }));
                }
                Opcode::Text | Opcode::Binary => {
                    ensure!(
                        self.partial.is_none(),
                        "new message inside a fragmented one"
                    );
                    self.partial = Some((opcode, payload));
                }
                Opcode::Continuation => {
                    let Some((first, mut data)) = self.partial.take() else {
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
                            data: data.freeze(),
                        }));
                    }
                    self.partial = Some((first, data));
                }
            }
        }
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
    pub async fn close(mut self, limit: Duration) -> Result<()> {
        self.send(Opcode::Close, &[&1000u16.to_be_bytes()]);
        let handshake = async {
            self.flush().await?;
            loop {
                match self.recv().await {
                    Ok(msg) if msg.opcode == Opcode::Close => return Ok(()),
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

fn check_read(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Eof.into());
    }
    Ok(())
}

fn check_handshake(head: &str, key: &str) -> Result<()> {
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    ensure!(
        status.starts_with("HTTP/1.1 101"),
        "handshake refused: {status:?}"
    );
    let expected = BASE64.encode(Sha1::digest(format!("{key}{GUID}").as_bytes()));
    let accept = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim())
        .context("handshake response lacks Sec-WebSocket-Accept")?;
    ensure!(accept == expected, "wrong Sec-WebSocket-Accept {accept:?}");
    Ok(())
}

/// Parses a server frame header: (header length, FIN, opcode, payload length).
fn parse_header(buf: &[u8]) -> Result<Option<(usize, bool, Opcode, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    ensure!(
        buf[0] & 0x70 == 0,
        "server set RSV bits without an extension"
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
    Ok(Some((header_len, fin, opcode, len)))
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
    fn handshake_accept_is_checked() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(check_handshake(good, key).is_ok());
        assert!(check_handshake(&good.replace("s3p", "xxx"), key).is_err());
    }
}
