//! Shared test helpers. This file: a tiny scripted HTTP responder on 127.0.0.1 for
//! transport-level tests (each accepted connection gets the next canned answer; requests are
//! recorded) and the network-namespace guard. [`sim`]: helpers for the simulated gateway.

#![allow(dead_code)]

pub mod sim;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the responder does with one connection.
#[derive(Clone)]
pub enum Reply {
    /// Write these bytes, then close.
    Bytes(Vec<u8>),
    /// Read the request, then keep the connection open and silent for this long.
    Hang(Duration),
    /// Close right after reading the request, writing nothing.
    Close,
}

/// A raw HTTP answer with a Content-Length.
pub fn http(status: &str, body: &str) -> Reply {
    Reply::Bytes(format!("HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
}

/// A raw HTTP answer file from the fixtures, replayed as is.
pub fn fixture(raw: &str) -> Reply {
    Reply::Bytes(raw.as_bytes().to_vec())
}

/// One recorded request: the head (request line and headers) and the body.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub head: String,
    pub body: String,
}

/// The responder.
pub struct Responder {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Responder {
    /// Serves `replies` in order, one per connection, then stops accepting.
    pub fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        thread::spawn(move || {
            for reply in replies {
                let Ok((stream, _)) = listener.accept() else { return };
                let recorded = Arc::clone(&recorded);
                thread::spawn(move || serve(stream, reply, &recorded));
            }
        });
        Self { addr, requests }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests seen so far.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn serve(mut stream: TcpStream, reply: Reply, recorded: &Mutex<Vec<Recorded>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse::<usize>().unwrap_or(0)))
                .unwrap_or(0);
            if data.len() >= end + 4 + length || Instant::now() > deadline {
                let body = String::from_utf8_lossy(&data[end + 4..]).to_string();
                recorded.lock().expect("lock").push(Recorded { head, body });
                break;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    match reply {
        Reply::Bytes(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Reply::Hang(time) => thread::sleep(time),
        Reply::Close => {}
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

