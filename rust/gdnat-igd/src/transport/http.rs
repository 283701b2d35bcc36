//! The HTTP client for description fetches and SOAP calls: ureq with no redirects, no TLS, no
//! keep-alive, a connect timeout, a total timeout and a body cap. Every failure becomes a
//! precise [`RequestError`]. Exchanges with one router take turns ([`super::gate`]), and a refused
//! or reset connection is retried after a short pause ([`RETRY_BACKOFF`]). The connection is ours (module `transport::cancellable`): cancelling the
//! request's [`CancelToken`] ends its connect, write or read at once (`RequestError::Cancelled`).

use std::cell::RefCell;
use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use gdnat_io::{WaitError, Waiter};

use super::cancellable::{with_cancel, CancellableConnector};
use super::gate::{self, GateError};
use super::resolver::LiteralResolver;
use crate::cancel::CancelToken;
use crate::types::HttpLimits;
use crate::error::RequestError;
use crate::proto::url::HttpUrl;

/// The User-Agent sent with every request.
pub const USER_AGENT: &str = concat!("gdnat/", env!("CARGO_PKG_VERSION"), " UPnP/1.1");

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
}

/// Parses and normalises a URL to `http://host:port/path`, or `InvalidUrl`.
pub fn checked_url(url: &str) -> Result<(HttpUrl, String), RequestError> {
    let parsed = HttpUrl::parse(url).map_err(|reason| RequestError::InvalidUrl { url: url.to_string(), reason })?;
    let normalised = format!("http://{}{}", parsed.authority(), parsed.path);
    Ok((parsed, normalised))
}

/// Largest response head (status line and headers) accepted; a router's is a few hundred bytes.
const MAX_RESPONSE_HEADER: usize = 8 * 1024;
/// ureq's per-connection buffers, allocated and zeroed for every connection. Its defaults
/// (128 KiB each way) were mmapped and unmapped again on every SOAP call, which cost about as
/// much as the exchange itself on a LAN. The input buffer holds the response head (and must be
/// larger than [`MAX_RESPONSE_HEADER`] for that limit to be reported as such) and lends 10 KiB
/// to the request body while it is sent; a SOAP request is at most `max_soap_request` (2 KiB)
/// plus headers.
const INPUT_BUFFER: usize = 12 * 1024;
const OUTPUT_BUFFER: usize = 4 * 1024;

/// Bytes reserved for a response body before reading it.
const INITIAL_BODY_CAPACITY: usize = 4 * 1024;

/// Longest timeout handed to ureq; larger values are clamped so deadlines cannot overflow.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The agent for `limits`, built once per thread and set of limits (building one per request
/// was about 8 % of the client's instructions for a SOAP call). Agents keep no connection
/// (`max_idle_*` 0), so reusing one changes nothing on the wire.
fn agent(limits: &HttpLimits) -> ureq::Agent {
    thread_local! {
        static AGENTS: RefCell<Vec<(HttpLimits, ureq::Agent)>> = const { RefCell::new(Vec::new()) };
    }
    AGENTS.with(|agents| {
        let mut agents = agents.borrow_mut();
        if let Some((_, agent)) = agents.iter().find(|(l, _)| l == limits) {
            return agent.clone();
        }
        let agent = new_agent(limits);
        if agents.len() >= 8 {
            agents.remove(0);
        }
        agents.push((*limits, agent.clone()));
        agent
    })
}

fn new_agent(limits: &HttpLimits) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .timeout_connect(Some(limits.connect_timeout.min(MAX_TIMEOUT)))
        .timeout_global(Some(limits.total_timeout.min(MAX_TIMEOUT)))
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .max_response_header_size(MAX_RESPONSE_HEADER)
        .input_buffer_size(INPUT_BUFFER)
        .output_buffer_size(OUTPUT_BUFFER)
        .user_agent(USER_AGENT)
        .build();
    ureq::Agent::with_parts(config, CancellableConnector, LiteralResolver::default())
}

/// `GET url` (a device description). Cancelling `cancel` ends it at once with `Cancelled`.
pub fn get(url: &str, limits: &HttpLimits, cancel: &CancelToken) -> Result<HttpResponse, RequestError> {
    let (parsed, normalised) = checked_url(url)?;
    exchange(&parsed.authority(), url, limits, cancel, || {
        let result = agent(limits).get(&normalised).header("Connection", "close").call();
        finish(result, url, limits)
    })
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
    let (parsed, normalised) = checked_url(url)?;
    if body.len() > limits.max_soap_request {
        return Err(RequestError::RequestTooLarge { size: body.len(), limit: limits.max_soap_request });
    }
    exchange(&parsed.authority(), url, limits, cancel, || {
        let result = agent(limits)
            .post(&normalised)
            .header("Content-Type", "text/xml; charset=\"utf-8\"")
            .header("SOAPAction", soap_action)
            .header("Connection", "close")
            .send(body.as_bytes());
        finish(result, url, limits)
    })
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

/// One exchange with the router at `authority` (`host:port`): waits for a turn at its gate
/// ([`gate`], so a burst never overwhelms the router), runs `attempt` with `cancel` as the
/// token of its connection, and retries a refused or reset connection after the pauses of
/// [`RETRY_BACKOFF`], as long as the first attempt started less than `limits.total_timeout`
/// ago. The turn is held through the pauses, so a retry does not queue behind the burst
/// again. Waiting for the turn is bounded by `limits.total_timeout`
/// (`Timeout`); cancelling ends the wait, a pause or the exchange at once (`Cancelled`).
fn exchange(
    authority: &str,
    url: &str,
    limits: &HttpLimits,
    cancel: &CancelToken,
    mut attempt: impl FnMut() -> Result<HttpResponse, RequestError>,
) -> Result<HttpResponse, RequestError> {
    let total = limits.total_timeout.min(MAX_TIMEOUT);
    let _turn = gate::enter(authority, Instant::now() + total, cancel).map_err(|error| match error {
        GateError::Cancelled => RequestError::Cancelled,
        GateError::TimedOut => RequestError::Timeout { url: url.to_string(), millis: millis(total) },
    })?;
    let first = Instant::now();
    let mut pauses = RETRY_BACKOFF.iter();
    loop {
        let result = with_cancel(cancel, &mut attempt)
            .map_err(|error| if cancel.is_cancelled() { RequestError::Cancelled } else { error });
        let pause = match &result {
            Err(error) if is_retryable(error) && first.elapsed() < total => pauses.next(),
            _ => None,
        };
        let Some(pause) = pause else { return result };
        let waiter = Waiter::new(cancel).map_err(|e| RequestError::Io { url: url.to_string(), detail: e.to_string() })?;
        match waiter.sleep_until(Instant::now() + *pause) {
            Ok(_) => {}
            Err(WaitError::Cancelled) => return Err(RequestError::Cancelled),
            Err(WaitError::Io(_)) => return result,
        }
    }
}

fn finish(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
    limits: &HttpLimits,
) -> Result<HttpResponse, RequestError> {
    let mut response = result.map_err(|e| map_request_error(e, url, limits))?;
    let status = response.status().as_u16();
    // Room for a typical SOAP answer or description at once (growing from empty cost about
    // as much as the read itself); larger bodies still grow up to the cap.
    let mut body = Vec::with_capacity(limits.max_body.min(INITIAL_BODY_CAPACITY));
    let read = response
        .body_mut()
        .with_config()
        .limit((limits.max_body as u64).saturating_add(1))
        .reader()
        .take((limits.max_body as u64).saturating_add(1))
        .read_to_end(&mut body);
    match read {
        Ok(_) if body.len() > limits.max_body => Err(RequestError::BodyTooLarge { url: url.to_string(), limit: limits.max_body }),
        Ok(_) => Ok(HttpResponse { status, body }),
        Err(e) => Err(map_body_error(ureq::Error::from(e), url, limits)),
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// Errors before a status line arrived.
fn map_request_error(error: ureq::Error, url: &str, limits: &HttpLimits) -> RequestError {
    let url = url.to_string();
    match error {
        ureq::Error::Timeout(ureq::Timeout::Connect) => RequestError::Timeout { url, millis: millis(limits.connect_timeout) },
        ureq::Error::Timeout(_) => RequestError::Timeout { url, millis: millis(limits.total_timeout) },
        ureq::Error::BadUri(reason) => RequestError::InvalidUrl { url, reason },
        ureq::Error::Http(e) => RequestError::InvalidUrl { url, reason: e.to_string() },
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused => RequestError::ConnectionRefused { url },
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                RequestError::ConnectionReset { url }
            }
            ErrorKind::TimedOut | ErrorKind::WouldBlock => RequestError::Timeout { url, millis: millis(limits.total_timeout) },
            ErrorKind::UnexpectedEof => RequestError::EmptyBody { url },
            _ => RequestError::Io { url, detail: e.to_string() },
        },
        ureq::Error::HostNotFound => RequestError::Io { url, detail: "host not found".into() },
        ureq::Error::LargeResponseHeader(..) => RequestError::HeadTooLarge { url, limit: MAX_RESPONSE_HEADER },
        other => RequestError::Io { url, detail: other.to_string() },
    }
}

/// Errors while reading the body.
fn map_body_error(error: ureq::Error, url: &str, limits: &HttpLimits) -> RequestError {
    let url = url.to_string();
    match error {
        ureq::Error::BodyExceedsLimit(_) => RequestError::BodyTooLarge { url, limit: limits.max_body },
        ureq::Error::Timeout(_) => RequestError::Timeout { url, millis: millis(limits.total_timeout) },
        ureq::Error::Protocol(e) => RequestError::Truncated { url, detail: e.to_string() },
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => RequestError::Timeout { url, millis: millis(limits.total_timeout) },
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                RequestError::Truncated { url, detail: e.to_string() }
            }
            _ => RequestError::Io { url, detail: e.to_string() },
        },
        other => RequestError::Io { url, detail: other.to_string() },
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
