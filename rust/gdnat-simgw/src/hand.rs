//! A router a test drives by hand, one step at a time: the test decides when a connection is
//! accepted (and sees whether one came within a bound), reads its request, and writes the
//! answer itself. For tests about what happens between the client's connections, which the
//! scripted [`crate::SimGateway`] answers on its own threads and cannot show.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::{Duration, Instant};

pub use crate::http::HttpRequest;

/// How often [`HandRouter::accept_within`] looks for a connection.
const ACCEPT_POLL: Duration = Duration::from_millis(1);
/// The read timeout of an accepted connection: a test's reads never hang.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A listening socket on loopback that accepts only when asked.
pub struct HandRouter {
    listener: TcpListener,
    addr: SocketAddr,
}

impl HandRouter {
    /// Listens on a free port of 127.0.0.1.
    pub fn bind_loopback() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(HandRouter { listener, addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>`, for example a control URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next connection, if one arrives within `within` (blocking, with a 5 s read
    /// timeout); `None` when none came.
    pub fn accept_within(&self, within: Duration) -> Option<TcpStream> {
        let until = Instant::now() + within;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).ok()?;
                    stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
                    return Some(stream);
                }
                Err(_) if Instant::now() < until => thread::sleep(ACCEPT_POLL),
                Err(_) => return None,
            }
        }
    }
}

/// Reads one whole HTTP request (head and `Content-Length` body) from `stream`, within 5 s;
/// `None` when the client closed first, it timed out, or it was not an HTTP request.
pub fn read_request(stream: &mut TcpStream) -> Option<HttpRequest> {
    crate::http::read_request(stream, &AtomicBool::new(false)).ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_connection_is_accepted_only_when_one_came_and_its_request_is_read_whole() {
        let router = HandRouter::bind_loopback().unwrap();
        assert!(router.accept_within(Duration::from_millis(20)).is_none());
        let mut client = TcpStream::connect(router.addr()).unwrap();
        client
            .write_all(b"POST /ctl HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap();
        let mut stream = router
            .accept_within(Duration::from_secs(5))
            .expect("the client's connection");
        let request = read_request(&mut stream).expect("a whole request");
        assert_eq!(
            (
                request.method.as_str(),
                request.path.as_str(),
                request.body.as_slice()
            ),
            ("POST", "/ctl", b"abc".as_slice())
        );
        drop(client);
        assert!(
            read_request(&mut stream).is_none(),
            "closed before a request"
        );
        assert_eq!(router.url("/x"), format!("http://{}/x", router.addr()));
    }
}
