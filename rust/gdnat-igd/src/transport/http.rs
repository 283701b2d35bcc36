//! The HTTP client for description fetches and SOAP calls: ureq with no redirects, no TLS, no
//! keep-alive, a connect timeout, a total timeout and a body cap. Every failure becomes a
//! precise [`RequestError`]. The connection is ours (module `transport::cancellable`): cancelling the
//! request's [`CancelToken`] ends its connect, write or read at once (`RequestError::Cancelled`).

use std::cell::RefCell;
use std::io::{ErrorKind, Read};
use std::time::Duration;

use super::cancellable::{with_cancel, CancellableConnector};
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
    let (_, normalised) = checked_url(url)?;
    with_cancel(cancel, || {
        let result = agent(limits).get(&normalised).header("Connection", "close").call();
        finish(result, url, limits)
    })
    .map_err(|error| if cancel.is_cancelled() { RequestError::Cancelled } else { error })
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
    let (_, normalised) = checked_url(url)?;
    if body.len() > limits.max_soap_request {
        return Err(RequestError::RequestTooLarge { size: body.len(), limit: limits.max_soap_request });
    }
    with_cancel(cancel, || {
        let result = agent(limits)
            .post(&normalised)
            .header("Content-Type", "text/xml; charset=\"utf-8\"")
            .header("SOAPAction", soap_action)
            .header("Connection", "close")
            .send(body.as_bytes());
        finish(result, url, limits)
    })
    .map_err(|error| if cancel.is_cancelled() { RequestError::Cancelled } else { error })
}

fn finish(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
    limits: &HttpLimits,
) -> Result<HttpResponse, RequestError> {
    let mut response = result.map_err(|e| map_request_error(e, url, limits))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
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
