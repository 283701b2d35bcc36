//! Connections opened ahead of the exchange that will use them.
//!
//! A thread that knows its next exchange goes to a router (a worker with more jobs queued for
//! the same gateway) says so with [`expect_next`]. The exchange it makes now then opens that
//! next connection as soon as its own request is written, while the router works on the
//! answer ([`open_expected`]); the next exchange with that router on this thread takes it
//! ([`take`]) instead of connecting. Every router closes the connection after each answer
//! (`Connection: close`), so a queue of calls otherwise pays one connect, a round trip to the
//! router, per call; this way the connect overlaps the router's work on the call before.
//!
//! A spare connection is a connection to the router like any other: it holds a turn at the
//! router's gate ([`super::gate`]) and is opened only when a turn is free at once. It belongs
//! to one thread, carries at most one request, is used only within [`SPARE_LIFETIME`] of being
//! opened and only if the router has not dropped it meanwhile ([`tcp::is_still_open`]);
//! otherwise it is closed, which gives its turn back. [`release`] closes it and forgets the
//! expectation.

use std::cell::RefCell;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use gdnat_io::tcp;
use gdnat_io::Waiter;

use super::endpoint::{self, Endpoint};
use super::gate::{self, Turn};

/// How long a spare connection may wait for its request. The next job of a queue follows
/// within microseconds; a router may drop an idle connection (miniupnpd after 30 s), and one
/// older than this is closed rather than risked.
pub const SPARE_LIFETIME: Duration = Duration::from_secs(1);

/// An open connection waiting for the next exchange with its router on this thread.
struct Spare {
    endpoint: Rc<Endpoint>,
    stream: TcpStream,
    /// Given back when the spare is closed, or when the exchange that took it ends.
    turn: Turn,
    opened: Instant,
}

thread_local! {
    /// The URL of this thread's next exchange, as [`expect_next`] announced it (empty: none).
    static NEXT: RefCell<String> = const { RefCell::new(String::new()) };
    /// The connection opened for it.
    static SPARE: RefCell<Option<Spare>> = const { RefCell::new(None) };
}

/// Announces that this thread's next exchange will be with the router of `url` (`None`: no
/// exchange is known to follow). The exchange made next on this thread opens a connection to
/// that router once its own request is written. An announcement is used by one exchange.
pub fn expect_next(url: Option<&str>) {
    let _ = NEXT.try_with(|next| {
        let mut next = next.borrow_mut();
        next.clear();
        if let Some(url) = url {
            next.push_str(url);
        }
    });
}

/// Closes this thread's spare connection, if any, and forgets the announced next exchange. A
/// thread calls it when it stops making exchanges (a worker with no job left).
pub fn release() {
    expect_next(None);
    let _ = SPARE.try_with(|spare| spare.borrow_mut().take());
}

/// Whether this thread holds a spare connection (tests).
pub fn is_held() -> bool {
    SPARE.try_with(|spare| spare.borrow().is_some()).unwrap_or(false)
}

/// Opens the connection of the announced next exchange, if one was announced, its router's
/// address is an IP literal, no spare is held and its gate has a free turn now. Never waits:
/// the connect is only started. Consumes the announcement.
pub(crate) fn open_expected(waiter: &Waiter) {
    let next = NEXT.try_with(|next| {
        let mut next = next.borrow_mut();
        if next.is_empty() {
            return None;
        }
        let endpoint = endpoint::prepare(&next).ok();
        next.clear();
        endpoint
    });
    let Ok(Some(endpoint)) = next else { return };
    let Some(address) = endpoint.literal else { return };
    if is_held() {
        return;
    }
    let Some(turn) = gate::try_enter(&endpoint.gate_key) else { return };
    let Ok(stream) = tcp::begin_ahead(address, waiter) else { return };
    let spare = Spare { endpoint, stream, turn, opened: Instant::now() };
    let _ = SPARE.try_with(|slot| *slot.borrow_mut() = Some(spare));
}

/// This thread's spare connection, if it goes to `target`'s router, is young enough and still
/// open, with its turn at the gate. Any other spare is closed. Either way the thread holds no
/// spare afterwards.
pub(crate) fn take(target: &Endpoint) -> Option<(TcpStream, Turn)> {
    let spare = SPARE.try_with(|spare| spare.borrow_mut().take()).ok().flatten()?;
    let usable = spare.endpoint.gate_key == target.gate_key
        && spare.endpoint.literal == target.literal
        && spare.opened.elapsed() <= SPARE_LIFETIME
        && tcp::is_still_open(&spare.stream);
    usable.then_some((spare.stream, spare.turn))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::cancel::CancelToken;
    use crate::error::RequestError;
    use crate::transport::http::{self, HttpResponse};
    use crate::types::HttpLimits;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

    /// A router the test drives by hand: its URL and its listener.
    fn router() -> (String, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ctl/IPConn", listener.local_addr().unwrap());
        (url, listener)
    }

    /// The next connection, waiting at most `within`; `None` when none came.
    fn accept_within(listener: &TcpListener, within: Duration) -> Option<TcpStream> {
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + within;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    return Some(stream);
                }
                Err(_) if Instant::now() < until => thread::sleep(Duration::from_millis(1)),
                Err(_) => return None,
            }
        }
    }

    /// Reads one GET request (up to its blank line).
    fn read_request(stream: &mut TcpStream) -> String {
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let read = stream.read(&mut buf).unwrap();
            assert!(read > 0, "the client closed before its request was complete");
            request.extend_from_slice(&buf[..read]);
        }
        String::from_utf8_lossy(&request).into_owned()
    }

    /// Two GETs of `url` on one client thread, the first announcing the second when `announce`.
    /// Returns whether a spare was held between them, and both results.
    fn two_calls(url: &str, announce: bool) -> JoinHandle<(bool, Vec<Result<HttpResponse, RequestError>>)> {
        let url = url.to_string();
        thread::spawn(move || {
            let cancel = CancelToken::new();
            if announce {
                expect_next(Some(&url));
            }
            let first = http::get(&url, &HttpLimits::default(), &cancel);
            let held = is_held();
            let second = http::get(&url, &HttpLimits::default(), &cancel);
            assert!(!is_held(), "the second exchange took the spare");
            (held, vec![first, second])
        })
    }

    #[test]
    fn the_next_connection_is_open_before_the_first_answer_and_carries_the_next_request() {
        let (url, listener) = router();
        let client = two_calls(&url, true);
        let mut first = accept_within(&listener, Duration::from_secs(5)).expect("the first exchange connects");
        read_request(&mut first);
        let mut second = accept_within(&listener, Duration::from_secs(5)).expect("the next connection, opened before any answer");
        first.write_all(OK).unwrap();
        drop(first);
        assert!(read_request(&mut second).starts_with("GET /ctl/IPConn HTTP/1.1\r\n"));
        second.write_all(OK).unwrap();
        drop(second);
        let (held, results) = client.join().unwrap();
        assert!(held);
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|r| r.body == b"ok")), "{results:?}");
        assert!(accept_within(&listener, Duration::from_millis(50)).is_none(), "two connections for two exchanges");
        assert_eq!(gate::in_flight(&url[7..url.find("/ctl").unwrap()]), 0, "every turn given back");
    }

    #[test]
    fn without_an_announcement_no_connection_is_opened_ahead() {
        let (url, listener) = router();
        let client = two_calls(&url, false);
        let mut first = accept_within(&listener, Duration::from_secs(5)).unwrap();
        read_request(&mut first);
        assert!(accept_within(&listener, Duration::from_millis(100)).is_none(), "a connection before the first answer");
        first.write_all(OK).unwrap();
        drop(first);
        let mut second = accept_within(&listener, Duration::from_secs(5)).unwrap();
        read_request(&mut second);
        second.write_all(OK).unwrap();
        drop(second);
        let (held, results) = client.join().unwrap();
        assert!(!held);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }

    #[test]
    fn a_spare_the_router_closed_while_idle_is_replaced_by_a_new_connection() {
        let (url, listener) = router();
        let client = two_calls(&url, true);
        let mut first = accept_within(&listener, Duration::from_secs(5)).unwrap();
        read_request(&mut first);
        let idle = accept_within(&listener, Duration::from_secs(5)).expect("the spare");
        drop(idle); // an idle timeout on the router
        thread::sleep(Duration::from_millis(20)); // the close reaches the client before the answer
        first.write_all(OK).unwrap();
        drop(first);
        let mut fresh = accept_within(&listener, Duration::from_secs(5)).expect("a new connection for the second exchange");
        read_request(&mut fresh);
        fresh.write_all(OK).unwrap();
        drop(fresh);
        let (_, results) = client.join().unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }

    #[test]
    fn a_spare_dropped_as_the_request_went_out_is_replaced_at_once() {
        // The router closes the spare without an answer just as the request arrives: without
        // the immediate retry this is EmptyBody, which is never retried.
        let (url, listener) = router();
        let client = two_calls(&url, true);
        let mut first = accept_within(&listener, Duration::from_secs(5)).unwrap();
        read_request(&mut first);
        let mut spare = accept_within(&listener, Duration::from_secs(5)).expect("the spare");
        first.write_all(OK).unwrap();
        drop(first);
        read_request(&mut spare);
        drop(spare);
        let mut fresh = accept_within(&listener, Duration::from_secs(5)).expect("the request sent again on a new connection");
        read_request(&mut fresh);
        fresh.write_all(OK).unwrap();
        drop(fresh);
        let (_, results) = client.join().unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }

    #[test]
    fn a_spare_for_another_router_is_closed_and_its_turn_given_back() {
        let (url_a, listener_a) = router();
        let (url_b, listener_b) = router();
        let key_a = url_a[7..url_a.find("/ctl").unwrap()].to_string();
        let client = thread::spawn(move || {
            let cancel = CancelToken::new();
            expect_next(Some(&url_a));
            let first = http::get(&url_b, &HttpLimits::default(), &cancel);
            let held = is_held();
            let second = http::get(&url_b, &HttpLimits::default(), &cancel);
            (held, first, second, is_held())
        });
        for _ in 0..2 {
            let mut stream = accept_within(&listener_b, Duration::from_secs(5)).unwrap();
            read_request(&mut stream);
            stream.write_all(OK).unwrap();
        }
        let (held, first, second, held_after) = client.join().unwrap();
        assert!(held && !held_after, "a spare for A was held, then closed by the exchange with B");
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(gate::in_flight(&key_a), 0, "the spare's turn at A was given back");
        // Linux queues a connection reset before it was accepted and accept returns it;
        // Windows (and Wine) drops it from the queue, so there A never sees the spare.
        if cfg!(target_os = "linux") {
            let mut closed = accept_within(&listener_a, Duration::from_secs(5)).expect("the spare had reached A");
            let read = closed.read(&mut [0u8; 16]).map_err(|e| e.kind());
            assert_eq!(read, Err(std::io::ErrorKind::ConnectionReset), "A sees it reset");
        }
    }

    #[test]
    fn release_closes_the_spare_and_gives_its_turn_back() {
        let (url, listener) = router();
        let key = url[7..url.find("/ctl").unwrap()].to_string();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let client = thread::spawn(move || {
            expect_next(Some(&url));
            let result = http::get(&url, &HttpLimits::default(), &CancelToken::new());
            held_tx.send(is_held()).unwrap();
            go_rx.recv().unwrap();
            release();
            (result, is_held())
        });
        let mut first = accept_within(&listener, Duration::from_secs(5)).unwrap();
        read_request(&mut first);
        first.write_all(OK).unwrap();
        drop(first);
        assert!(held_rx.recv().unwrap());
        assert_eq!(gate::in_flight(&key), 1, "the spare holds a turn");
        go_tx.send(()).unwrap();
        let (result, held) = client.join().unwrap();
        assert!(result.is_ok() && !held);
        assert_eq!(gate::in_flight(&key), 0);
    }
}
