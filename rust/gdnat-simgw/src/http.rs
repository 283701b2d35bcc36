//! A deliberately tiny HTTP/1.1 server side: read one bounded request, write one answer,
//! close. Every read and write is bounded in size and time and notices shutdown.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Largest accepted request head (request line + headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;
/// How long a client may take to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Granularity at which blocking reads/writes/sleeps check for shutdown.
pub const POLL: Duration = Duration::from_millis(50);

/// A parsed HTTP request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Method, e.g. "GET".
    pub method: String,
    /// Request target, e.g. "/rootDesc.xml".
    pub path: String,
    /// Headers in order (names as sent).
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// First header with this name (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed, timed out, or shutdown began: just close.
    Gone,
    /// The head or body exceeds the caps: answer 413.
    TooLarge,
    /// Not an HTTP request (or unsupported framing): answer 400.
    Malformed,
}

/// Reads into `buf` until `done(buf)` says how many bytes make a whole unit, bounded by
/// `cap`, `deadline` and `stop`.
fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<(), ReadError> {
    let mut chunk = [0u8; 4096];
    loop {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return Err(ReadError::Gone);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ReadError::Gone),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return Err(ReadError::Gone),
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads one request from `stream` (which this sets to short read timeouts).
pub fn read_request(stream: &mut TcpStream, stop: &AtomicBool) -> Result<HttpRequest, ReadError> {
    let _ = stream.set_read_timeout(Some(POLL));
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut buf = Vec::with_capacity(2048);
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::TooLarge);
        }
        read_more(stream, &mut buf, stop, deadline)?;
    };
    if head_end > MAX_HEAD {
        return Err(ReadError::TooLarge);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, path, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v), None) if !m.is_empty() && !p.is_empty() => (m, p, v),
        _ => return Err(ReadError::Malformed),
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed);
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(ReadError::Malformed)?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut req = HttpRequest {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body: Vec::new(),
    };
    if req
        .header("Transfer-Encoding")
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"))
    {
        return Err(ReadError::Malformed);
    }
    let length = match req.header("Content-Length") {
        None => 0,
        Some(v) => v.parse::<usize>().map_err(|_| ReadError::Malformed)?,
    };
    if length > MAX_BODY {
        return Err(ReadError::TooLarge);
    }
    if length > 0
        && req
            .header("Expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let mut body = buf.split_off(head_end);
    while body.len() < length {
        read_more(stream, &mut body, stop, deadline)?;
    }
    body.truncate(length);
    req.body = body;
    Ok(req)
}

/// One answer to write.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body bytes actually sent.
    pub body: Vec<u8>,
    /// Content-Length announced (normally `body.len()`; larger for a truncated answer).
    pub declared_len: usize,
    /// Send a `Content-Type: text/xml` header.
    pub xml: bool,
}

impl HttpResponse {
    /// An XML answer with the given status.
    pub fn xml(status: u16, body: String) -> Self {
        let body = body.into_bytes();
        HttpResponse {
            status,
            declared_len: body.len(),
            body,
            xml: true,
        }
    }

    /// A bodiless answer (`Content-Length: 0`).
    pub fn empty(status: u16) -> Self {
        HttpResponse {
            status,
            body: Vec::new(),
            declared_len: 0,
            xml: false,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Writes the answer with miniupnpd-like headers, in chunks, giving up on stop or when the
/// peer stops reading for too long. Errors are ignored: the connection is closed anyway.
pub fn write_response(
    stream: &mut TcpStream,
    resp: &HttpResponse,
    server: &str,
    stop: &AtomicBool,
) {
    let data = response_bytes(resp, server);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = 0;
    while sent < data.len() {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return;
        }
        let end = (sent + 16 * 1024).min(data.len());
        match stream.write(&data[sent..end]) {
            Ok(0) => return,
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
    let _ = stream.flush();
}

/// Writes the answer one byte every `interval` (head included), stopping at `stop`, after
/// `limit`, or when the client goes away.
pub fn write_response_trickled(
    stream: &mut TcpStream,
    resp: &HttpResponse,
    server: &str,
    interval: Duration,
    limit: Duration,
    stop: &AtomicBool,
) {
    let data = response_bytes(resp, server);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    let end = Instant::now() + limit;
    for byte in data.chunks(1) {
        if stream.write_all(byte).is_err() {
            return;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() || !sleep_unless_stopped(interval.min(left), stop) {
            return;
        }
    }
}

/// The answer's bytes on the wire: status line, headers, body.
fn response_bytes(resp: &HttpResponse, server: &str) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    if resp.xml {
        head.push_str("Content-Type: text/xml; charset=\"utf-8\"\r\n");
    }
    head.push_str(&format!(
        "Connection: close\r\nContent-Length: {}\r\nServer: {server}\r\nExt:\r\n\r\n",
        resp.declared_len
    ));
    let mut data: Vec<u8> = head.into_bytes();
    data.extend_from_slice(&resp.body);
    data
}

/// Sleeps `d`, waking early when `stop` is set. Returns false if stopped.
pub fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(POLL));
    }
}
