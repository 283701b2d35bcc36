//! The HTTP client for description fetches and SOAP calls, written on our own connection: one
//! request per connection (`Connection: close`), no redirects, no TLS, a connect timeout, a total
//! timeout, and caps on the answer's head and body. The bytes are built and read by the sans-I/O
//! [`crate::proto::http`]; the connection is a [`DeadlineStream`], so cancelling the request's
//! [`CancelToken`] ends its lookup, connect, write or read at once (`RequestError::Cancelled`).
//! Every failure becomes a precise [`RequestError`]. Exchanges with one router take turns
//! ([`super::gate`]), and a refused or reset connection is retried after a short pause
//! ([`RETRY_BACKOFF`]).
//!
//! Why not an HTTP crate: ureq did this job until issue 8 measured one SOAP call at about 93,000
//! instructions against miniupnpc's 21,000, half of them in ureq's generic machinery (request
//! builder, middleware, header maps, per-connection buffers). What routers need is one request
//! and one answer per connection; `httparse` (the parser under hyper and ureq) reads the head
//! (docs/dependencies.md).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gdnat_io::tcp::DeadlineStream;
use gdnat_io::wait::is_cancelled_io_error;
use gdnat_io::{WaitError, Waiter};

use super::endpoint::{self, Endpoint};
use super::gate::{self, GateError};
use super::resolver::{self, ResolveError};
use super::spare;
use crate::cancel::CancelToken;
use crate::error::RequestError;
use crate::proto::http::{self as wire, ResponseError, ResponseReader};
use crate::proto::soap;
use crate::types::HttpLimits;

/// The User-Agent sent with every request.
pub const USER_AGENT: &str = concat!("gdnat/", env!("CARGO_PKG_VERSION"), " UPnP/1.1");

/// Largest response head (status line and headers) accepted; a router's is a few hundred bytes.
pub const MAX_RESPONSE_HEAD: usize = wire::MAX_RESPONSE_HEAD;

/// A complete HTTP answer: the status and the whole body (at most `max_body` bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as text, invalid UTF-8 replaced; a valid body is taken over without a copy.
    pub fn into_text(self) -> String {
        String::from_utf8(self.body).unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
    }
}

/// The endpoint of a URL ([`endpoint::prepare`]), or `InvalidUrl`.
fn checked_url(url: &str) -> Result<std::rc::Rc<Endpoint>, RequestError> {
    endpoint::prepare(url).map_err(|reason| RequestError::InvalidUrl { url: url.to_string(), reason })
}

/// Longest timeout honoured; larger values are clamped so deadlines cannot overflow.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Bytes read from the socket at a time (a SOAP answer or a typical description in one read).
const READ_SIZE: usize = 4 * 1024;

/// `GET url` (a device description). Cancelling `cancel` ends it at once with `Cancelled`.
pub fn get(url: &str, limits: &HttpLimits, cancel: &CancelToken) -> Result<HttpResponse, RequestError> {
    let target = checked_url(url)?;
    exchange(&target, url, &wire::get_request(&target.url, USER_AGENT), limits, cancel)
}

/// `POST url` with a SOAP body, `SOAPAction: <soap_action>` (already quoted),
/// `Content-Type: text/xml; charset="utf-8"` and `Connection: close`. A body larger than
/// `limits.max_soap_request` is `RequestTooLarge` and nothing is sent. Cancelling `cancel`
/// ends it at once with `Cancelled`.
pub fn post_soap(
    url: &str,
    soap_action: &str,
    body: &str,
    limits: &HttpLimits,
    cancel: &CancelToken,
) -> Result<HttpResponse, RequestError> {
    let target = checked_url(url)?;
    if body.len() > limits.max_soap_request {
        return Err(RequestError::RequestTooLarge { size: body.len(), limit: limits.max_soap_request });
    }
    exchange(&target, url, &wire::soap_request(&target.url, USER_AGENT, soap_action, body), limits, cancel)
}

/// A SOAP call: `action` of `service_type` with `args`, posted to `url` as [`post_soap`]
/// posts the envelope of [`soap::build_request`] with the `SOAPAction` of
/// [`soap::soap_action_header`], but with the request's head and envelope written straight
/// into the bytes that are sent. An envelope larger than `limits.max_soap_request` is
/// `RequestTooLarge` and nothing is sent.
pub fn post_soap_call(
    url: &str,
    service_type: &str,
    action: &str,
    args: &[(&str, &str)],
    limits: &HttpLimits,
    cancel: &CancelToken,
) -> Result<HttpResponse, RequestError> {
    let target = checked_url(url)?;
    let body_len = soap::envelope_len(service_type, action, args);
    if body_len > limits.max_soap_request {
        return Err(RequestError::RequestTooLarge { size: body_len, limit: limits.max_soap_request });
    }
    let mut request = Vec::with_capacity(256 + target.url.path.len() + target.url.host.len() + service_type.len() + body_len);
    wire::push_soap_head(&mut request, &target.url, USER_AGENT, &soap::soap_action_pieces(service_type, action), body_len);
    soap::write_envelope_bytes(&mut request, service_type, action, args);
    exchange(&target, url, &request, limits, cancel)
}

/// Pauses before the retries of an exchange whose connection was refused or reset before any
/// answer (see [`exchange`]): 3 retries, 175 ms of pauses in all.
pub const RETRY_BACKOFF: [Duration; 3] = [Duration::from_millis(25), Duration::from_millis(50), Duration::from_millis(100)];

/// Whether `error` means the router dropped the connection before it read the request, so
/// that sending it again cannot do anything twice: a refused connect (nothing was sent), or a
/// reset before any answer byte (a router whose backlog overflowed drops the connection that
/// way; a router that had read the request answers before it closes).
fn is_retryable(error: &RequestError) -> bool {
    matches!(error, RequestError::ConnectionRefused { .. } | RequestError::ConnectionReset { .. })
}

/// One exchange with the router at `target`: waits for a turn at its gate ([`gate`], so a
/// burst never overwhelms the router), sends `request` and reads the answer ([`attempt`]), and
/// retries a refused or reset connection after the pauses of [`RETRY_BACKOFF`], as long as the
/// first attempt started less than `limits.total_timeout` ago. The turn is held through the
/// pauses, so a retry does not queue behind the burst again. Waiting for the turn is bounded by
/// `limits.total_timeout` (`Timeout`); cancelling ends the wait, a pause or the exchange at once
/// (`Cancelled`).
fn exchange(
    target: &Endpoint,
    url: &str,
    request: &[u8],
    limits: &HttpLimits,
    cancel: &CancelToken,
) -> Result<HttpResponse, RequestError> {
    let total = limits.total_timeout.min(MAX_TIMEOUT);
    let (_turn, mut ahead) = match spare::take(target) {
        Some((stream, turn)) => (turn, Some(stream)),
        None => {
            let turn = gate::enter(&target.gate_key, Instant::now() + total, cancel).map_err(|error| match error {
                GateError::Cancelled => RequestError::Cancelled,
                GateError::TimedOut => RequestError::Timeout { url: url.to_string(), millis: millis(total) },
            })?;
            (turn, None)
        }
    };
    let io_error = |e: io::Error| RequestError::Io { url: url.to_string(), detail: e.to_string() };
    let first = Instant::now();
    let mut pauses = RETRY_BACKOFF.iter();
    loop {
        let waiter = Waiter::new(cancel).map_err(io_error)?;
        let opened_ahead = ahead.is_some();
        let result = attempt(target, url, request, limits, waiter, ahead.take()).map_err(|error| {
            if cancel.is_cancelled() {
                RequestError::Cancelled
            } else {
                error
            }
        });
        if opened_ahead && result.as_ref().is_err_and(is_dropped_before_reading) {
            continue; // the router dropped the idle spare connection: connect anew, at once
        }
        let pause = match &result {
            Err(error) if is_retryable(error) && first.elapsed() < total => pauses.next(),
            _ => None,
        };
        let Some(pause) = pause else { return result };
        match Waiter::new(cancel).map_err(io_error)?.sleep_until(Instant::now() + *pause) {
            Ok(_) => {}
            Err(WaitError::Cancelled) => return Err(RequestError::Cancelled),
            Err(WaitError::Io(_)) => return result,
        }
    }
}

/// Whether a connection opened ahead ([`spare`]) failed the way a connection fails that the
/// router dropped before reading anything on it (an idle connection closed or reset just as
/// the request went out): refused, reset or closed before any answer byte. A router that read
/// a request answers before it closes, so the request is sent again at once on a new
/// connection.
fn is_dropped_before_reading(error: &RequestError) -> bool {
    matches!(
        error,
        RequestError::ConnectionRefused { .. } | RequestError::ConnectionReset { .. } | RequestError::EmptyBody { .. }
    )
}

/// One try: resolve the host, connect (or take `ahead`, a connection opened ahead of need by
/// [`spare`]) and send `request` in one write by the connect timeout, and read the answer by
/// the total timeout, both counted from here. Once the request is written, the connection of
/// the exchange announced next on this thread is opened ([`spare::open_expected`]).
fn attempt(
    target: &Endpoint,
    url: &str,
    request: &[u8],
    limits: &HttpLimits,
    waiter: Waiter,
    ahead: Option<TcpStream>,
) -> Result<HttpResponse, RequestError> {
    let started = Instant::now();
    let total = limits.total_timeout.min(MAX_TIMEOUT);
    let connect_timeout = limits.connect_timeout.min(total);
    let connect_deadline = started + connect_timeout;
    let connect_error = |error: io::Error| match error.kind() {
        ErrorKind::TimedOut if !is_cancelled_io_error(&error) => {
            RequestError::Timeout { url: url.to_string(), millis: millis(connect_timeout) }
        }
        _ => transfer_error(error, url, total, false),
    };
    let stream = match ahead {
        Some(stream) => gdnat_io::tcp::ready_for_first_write(stream, connect_deadline, &waiter).map_err(connect_error)?,
        None => connect_new(target, url, connect_deadline, connect_timeout, &waiter, &connect_error)?,
    };
    let mut stream = DeadlineStream::from_connected(stream, waiter, connect_deadline);
    stream.write_all(request).map_err(connect_error)?;
    spare::open_expected(stream.waiter());
    stream.set_deadline(started + total);
    let answer = read_answer(&mut stream, limits.max_body).map_err(|failure| match failure {
        Failure::Io { error, answered } => transfer_error(error, url, total, answered),
        Failure::Answer(error) => answer_error(error, url, limits.max_body),
    })?;
    Ok(HttpResponse { status: answer.status, body: answer.body })
}

/// Resolves `target`'s host (unless it is an IP literal) and starts connecting to it, by
/// `connect_deadline`; a failed connect is mapped by `connect_error`.
fn connect_new(
    target: &Endpoint,
    url: &str,
    connect_deadline: Instant,
    connect_timeout: Duration,
    waiter: &Waiter,
    connect_error: &dyn Fn(io::Error) -> RequestError,
) -> Result<TcpStream, RequestError> {
    let resolved;
    let addresses = match &target.literal {
        Some(address) => std::slice::from_ref(address),
        None => {
            resolved = resolver::resolve(&target.url, connect_deadline, waiter).map_err(|error| match error {
                ResolveError::Cancelled => RequestError::Cancelled,
                ResolveError::TimedOut => RequestError::Timeout { url: url.to_string(), millis: millis(connect_timeout) },
                ResolveError::NotFound(detail) => {
                    RequestError::Io { url: url.to_string(), detail: format!("host not found: {detail}") }
                }
            })?;
            resolved.as_slice()
        }
    };
    // One address (every router URL in practice): the request's write waits for the handshake
    // (`tcp::start_connect`), two system calls fewer per exchange. Both by the connect deadline.
    match addresses {
        [address] => gdnat_io::tcp::start_connect(*address, connect_deadline, waiter),
        _ => connect_any(addresses, connect_deadline, waiter),
    }
    .map_err(connect_error)
}

/// Connects to the first of `addresses` that takes the connection; a refused or unreachable
/// address passes to the next, and the last one's error is returned.
fn connect_any(addresses: &[SocketAddr], deadline: Instant, waiter: &Waiter) -> io::Result<TcpStream> {
    let mut last_error = io::Error::new(ErrorKind::ConnectionRefused, "no address to connect to");
    for address in addresses {
        match gdnat_io::tcp::connect(*address, deadline, waiter) {
            Ok(stream) => return Ok(stream),
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionRefused
                        | ErrorKind::HostUnreachable
                        | ErrorKind::NetworkUnreachable
                        | ErrorKind::AddrNotAvailable
                ) =>
            {
                last_error = error;
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// Why [`read_answer`] got no answer.
enum Failure {
    /// The connection failed; `answered` when some of the answer had come.
    Io { error: io::Error, answered: bool },
    /// The answer is unreadable or too large.
    Answer(ResponseError),
}

/// Reads the answer to the request just sent, until it is complete (the rest of the
/// connection is not read).
fn read_answer(stream: &mut DeadlineStream, max_body: usize) -> Result<wire::Response, Failure> {
    // The request went out this instant; its answer cannot be there yet (on a LAN it comes a
    // fraction of a millisecond later), so wait before the first read.
    stream.wait_readable().map_err(|error| Failure::Io { error, answered: false })?;
    let mut reader = ResponseReader::new(max_body);
    READ_BUFFER.with_borrow_mut(|buffer| {
        buffer.resize(READ_SIZE, 0);
        let buffer = &mut buffer[..];
        loop {
            match stream.read(buffer) {
                Ok(0) => return reader.connection_closed().map_err(Failure::Answer),
                Ok(read) => {
                    if reader.feed(&buffer[..read]).map_err(Failure::Answer)? {
                        return Ok(());
                    }
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(Failure::Io { error, answered: reader.received_anything() }),
            }
        }
    })?;
    reader.into_response().ok_or(Failure::Answer(ResponseError::Truncated("the answer did not end".into())))
}

thread_local! {
    /// The buffer each thread reads answers into, zeroed once (a fresh one per exchange was
    /// a tenth of a SOAP call's instructions, in `memset`).
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// A failed connect, write or read: a passed deadline is `Timeout` (the total bound), a reset
/// is `ConnectionReset` before any answer byte and `Truncated` after one.
fn transfer_error(error: io::Error, url: &str, total: Duration, answered: bool) -> RequestError {
    let url = url.to_string();
    if is_cancelled_io_error(&error) {
        return RequestError::Cancelled;
    }
    match error.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => RequestError::Timeout { url, millis: millis(total) },
        ErrorKind::ConnectionRefused => RequestError::ConnectionRefused { url },
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof
            if answered =>
        {
            RequestError::Truncated { url, detail: error.to_string() }
        }
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            RequestError::ConnectionReset { url }
        }
        _ => RequestError::Io { url, detail: error.to_string() },
    }
}

/// An answer that could not be read.
fn answer_error(error: ResponseError, url: &str, max_body: usize) -> RequestError {
    let url = url.to_string();
    match error {
        ResponseError::NothingReceived => RequestError::EmptyBody { url },
        ResponseError::HeadTooLarge => RequestError::HeadTooLarge { url, limit: MAX_RESPONSE_HEAD },
        ResponseError::MalformedHead(detail) => RequestError::MalformedHead { url, detail },
        ResponseError::BodyTooLarge => RequestError::BodyTooLarge { url, limit: max_body },
        ResponseError::Truncated(detail) => RequestError::Truncated { url, detail },
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Resets a connection at once (SO_LINGER 0, then close): the client sees ECONNRESET.
    fn reset(stream: TcpStream) {
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        drop(stream);
    }

    /// A server whose first `resets` connections are reset before any answer; later ones get
    /// `200 OK` with a body. Returns the URL and the count of connections.
    fn resetting_server(resets: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/desc.xml", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(32) {
                let Ok(mut stream) = stream else { continue };
                if seen.fetch_add(1, Ordering::SeqCst) < resets {
                    reset(stream);
                    continue;
                }
                let mut buf = [0u8; 4096];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        (url, count)
    }

    #[test]
    fn a_soap_request_reaches_the_router_in_one_read() {
        // A single-threaded router reads what has arrived when the connection becomes
        // readable; the whole request (head and body) must be there in that first read.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ctl/IPConn", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 65536];
            let first = std::io::Read::read(&mut stream, &mut buf).unwrap();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            String::from_utf8_lossy(&buf[..first]).into_owned()
        });
        let body = format!("<s:Envelope>{}</s:Envelope>", "x".repeat(600));
        let response = post_soap(&url, "\"urn:x#Y\"", &body, &HttpLimits::default(), &CancelToken::new()).unwrap();
        assert_eq!(response.status, 200);
        let first_read = server.join().unwrap();
        assert!(first_read.starts_with("POST /ctl/IPConn HTTP/1.1\r\n"), "{first_read:?}");
        assert!(first_read.ends_with(&body), "the first read holds the head only: {} bytes", first_read.len());
    }

    #[test]
    fn a_reset_connection_is_retried_and_then_answered() {
        let (url, count) = resetting_server(2);
        let response = get(&url, &HttpLimits::default(), &CancelToken::new()).expect("answered on the third try");
        assert_eq!((response.status, response.body.as_slice()), (200, b"ok".as_slice()));
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_router_that_keeps_resetting_gives_connection_reset_after_the_retries() {
        let (url, count) = resetting_server(usize::MAX);
        let error = get(&url, &HttpLimits::default(), &CancelToken::new()).unwrap_err();
        assert!(matches!(error, RequestError::ConnectionReset { .. }), "{error:?}");
        assert_eq!(count.load(Ordering::SeqCst), 1 + RETRY_BACKOFF.len(), "the first try and each retry");
    }

    /// A server that answers `count` requests with `200 OK` and returns each request's bytes.
    fn recording_server(count: usize) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ctl/IPConn", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for stream in listener.incoming().take(count) {
                let mut stream = stream.unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The head, then the body its Content-Length announces.
                loop {
                    let read = std::io::Read::read(&mut stream, &mut buf).unwrap();
                    request.extend_from_slice(&buf[..read]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    let Some(head_end) = text.find("\r\n\r\n") else { continue };
                    let length: usize = text
                        .lines()
                        .find_map(|line| line.strip_prefix("Content-Length: "))
                        .map_or(0, |value| value.trim().parse().unwrap());
                    if read == 0 || request.len() >= head_end + 4 + length {
                        break;
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                requests.push(request);
            }
            requests
        });
        (url, server)
    }

    #[test]
    fn a_soap_call_sends_the_bytes_of_its_envelope_and_action_header() {
        let (url, server) = recording_server(2);
        let service = "urn:schemas-upnp-org:service:WANIPConnection:2";
        let args = [("NewRemoteHost", ""), ("NewExternalPort", "7777"), ("NewPortMappingDescription", "a <b> & 'c'")];
        let body = soap::build_request(service, "AddPortMapping", &args);
        let header = soap::soap_action_header(service, "AddPortMapping");
        let cancel = CancelToken::new();
        let separate = post_soap(&url, &header, &body, &HttpLimits::default(), &cancel).unwrap();
        let written = post_soap_call(&url, service, "AddPortMapping", &args, &HttpLimits::default(), &cancel).unwrap();
        assert_eq!((separate.status, written.status), (200, 200));
        let requests = server.join().unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(String::from_utf8_lossy(&requests[1]), String::from_utf8_lossy(&requests[0]));
        assert!(requests[0].ends_with(body.as_bytes()));
    }

    #[test]
    fn a_soap_call_larger_than_the_limit_sends_nothing() {
        let limits = HttpLimits { max_soap_request: 100, ..HttpLimits::default() };
        let error = post_soap_call(
            "http://127.0.0.1:9/x",
            "urn:x",
            "AddPortMapping",
            &[("NewPortMappingDescription", &"x".repeat(200))],
            &limits,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert!(matches!(error, RequestError::RequestTooLarge { limit: 100, .. }), "{error:?}");
    }

    #[test]
    fn a_refused_connection_is_retried_with_the_backoff() {
        // Bind, learn the port, close: nothing listens there, each connect is refused.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/x");
        let started = std::time::Instant::now();
        let error = get(&url, &HttpLimits::default(), &CancelToken::new()).unwrap_err();
        assert!(matches!(error, RequestError::ConnectionRefused { .. }), "{error:?}");
        let pauses: Duration = RETRY_BACKOFF.iter().sum();
        assert!(started.elapsed() >= pauses, "the retries paused {:?} in all, less than {pauses:?}", started.elapsed());
    }

    #[test]
    fn cancelling_ends_the_pause_before_a_retry_at_once() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/x");
        let limits = HttpLimits { total_timeout: Duration::from_secs(30), ..HttpLimits::default() };
        let cancel = CancelToken::new();
        let canceller = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            canceller.cancel();
        });
        let error = get(&url, &limits, &cancel).unwrap_err();
        assert_eq!(error, RequestError::Cancelled);
    }
}
