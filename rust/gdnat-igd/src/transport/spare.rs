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
    use std::net::TcpStream;
    use std::thread::{self, JoinHandle};
    use std::time::Duration;

    use gdnat_simgw::hand::{read_request, HandRouter};

    use super::*;
    use crate::cancel::CancelToken;
    use crate::error::RequestError;
    use crate::transport::http::{self, HttpResponse};
    use crate::types::HttpLimits;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    const WAIT: Duration = Duration::from_secs(5);

    /// A router the test drives by hand, and the control URL the client calls.
    fn router() -> (HandRouter, String) {
        let router = HandRouter::bind_loopback().unwrap();
        let url = router.url("/ctl/IPConn");
        (router, url)
    }

    /// The next connection, which must come within 5 s.
    fn accept(router: &HandRouter, what: &str) -> TcpStream {
        router.accept_within(WAIT).unwrap_or_else(|| panic!("no connection: {what}"))
    }

    /// Reads the GET request on `stream`, which must come whole.
    fn read_get(stream: &mut TcpStream) {
        let request = read_request(stream).expect("a whole request");
        assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/ctl/IPConn"));
    }

    /// Reads the request on `stream` and answers `200 ok`, then closes, as a router does.
    fn answer(mut stream: TcpStream) {
        read_get(&mut stream);
        stream.write_all(OK).unwrap();
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

    /// Both exchanges of [`two_calls`] answered `ok`.
    fn both_answered(client: JoinHandle<(bool, Vec<Result<HttpResponse, RequestError>>)>) -> bool {
        let (held, results) = client.join().unwrap();
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|r| r.body == b"ok")), "{results:?}");
        held
    }

    #[test]
    fn the_next_connection_is_open_before_the_first_answer_and_carries_the_next_request() {
        let (router, url) = router();
        let client = two_calls(&url, true);
        let mut first = accept(&router, "the first exchange");
        read_get(&mut first);
        let second = accept(&router, "the next connection, opened before any answer");
        first.write_all(OK).unwrap();
        drop(first);
        answer(second);
        assert!(both_answered(client), "a spare was held between the exchanges");
        assert!(router.accept_within(Duration::from_millis(50)).is_none(), "two connections for two exchanges");
        assert_eq!(gate::in_flight(&router.addr().to_string()), 0, "every turn given back");
    }

    #[test]
    fn without_an_announcement_no_connection_is_opened_ahead() {
        let (router, url) = router();
        let client = two_calls(&url, false);
        let mut first = accept(&router, "the first exchange");
        read_get(&mut first);
        assert!(router.accept_within(Duration::from_millis(100)).is_none(), "a connection before the first answer");
        first.write_all(OK).unwrap();
        drop(first);
        answer(accept(&router, "the second exchange"));
        assert!(!both_answered(client), "no spare was held");
    }

    #[test]
    fn a_spare_the_router_closed_while_idle_is_replaced_by_a_new_connection() {
        let (router, url) = router();
        let client = two_calls(&url, true);
        let mut first = accept(&router, "the first exchange");
        read_get(&mut first);
        drop(accept(&router, "the spare")); // an idle timeout on the router
        thread::sleep(Duration::from_millis(20)); // the close reaches the client before the answer
        first.write_all(OK).unwrap();
        drop(first);
        answer(accept(&router, "a new connection for the second exchange"));
        both_answered(client);
    }

    #[test]
    fn a_spare_dropped_as_the_request_went_out_is_replaced_at_once() {
        // The router closes the spare without an answer just as the request arrives: without
        // the immediate retry this is EmptyBody, which is never retried.
        let (router, url) = router();
        let client = two_calls(&url, true);
        let mut first = accept(&router, "the first exchange");
        read_get(&mut first);
        let mut spare = accept(&router, "the spare");
        first.write_all(OK).unwrap();
        drop(first);
        read_get(&mut spare);
        drop(spare);
        answer(accept(&router, "the request sent again on a new connection"));
        both_answered(client);
    }

    #[test]
    fn a_spare_for_another_router_is_closed_and_its_turn_given_back() {
        let (router_a, url_a) = router();
        let (router_b, url_b) = router();
        let client = thread::spawn(move || {
            let cancel = CancelToken::new();
            expect_next(Some(&url_a));
            let first = http::get(&url_b, &HttpLimits::default(), &cancel);
            let held = is_held();
            let second = http::get(&url_b, &HttpLimits::default(), &cancel);
            (held, first, second, is_held())
        });
        for exchange in ["the first exchange with B", "the second exchange with B"] {
            answer(accept(&router_b, exchange));
        }
        let (held, first, second, held_after) = client.join().unwrap();
        assert!(held && !held_after, "a spare for A was held, then closed by the exchange with B");
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(gate::in_flight(&router_a.addr().to_string()), 0, "the spare's turn at A was given back");
        // Linux queues a connection reset before it was accepted and accept returns it;
        // Windows (and Wine) drops it from the queue, so there A never sees the spare.
        if cfg!(target_os = "linux") {
            let mut closed = accept(&router_a, "the spare had reached A");
            let read = closed.read(&mut [0u8; 16]).map_err(|e| e.kind());
            assert_eq!(read, Err(std::io::ErrorKind::ConnectionReset), "A sees it reset");
        }
    }

    #[test]
    fn release_closes_the_spare_and_gives_its_turn_back() {
        let (router, url) = router();
        let key = router.addr().to_string();
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
        answer(accept(&router, "the exchange"));
        assert!(held_rx.recv().unwrap());
        assert_eq!(gate::in_flight(&key), 1, "the spare holds a turn");
        go_tx.send(()).unwrap();
        let (result, held) = client.join().unwrap();
        assert!(result.is_ok() && !held);
        assert_eq!(gate::in_flight(&key), 0);
    }
}
