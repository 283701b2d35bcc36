//! The HTTP client's size bound on a router's response head, over HTTP on 127.0.0.1 with a
//! scripted responder: a head a little under the limit is read, one over it is an error (not
//! a hang and not a success), each within the call's time bound.

mod common;

use std::time::{Duration, Instant};

use common::{Reply, Responder};
use gdnat_igd::client::HttpLimits;
use gdnat_igd::transport::http;

const LIMITS: HttpLimits = HttpLimits {
    connect_timeout: Duration::from_millis(500),
    total_timeout: Duration::from_millis(1000),
    max_body: 256 * 1024,
    max_soap_request: 2048,
};

/// An HTTP answer whose head carries `padding` bytes of extra headers (in 512-byte headers,
/// so the header count stays far below any parser's limit).
fn answer_with_head_padding(padding: usize) -> Reply {
    let body = "<root/>";
    let filler: String = (0..padding / 512).map(|i| format!("X-Filler-{i:04}: {}\r\n", "a".repeat(495))).collect();
    Reply::Bytes(format!("HTTP/1.1 200 OK\r\n{filler}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes())
}

fn get(reply: Reply) -> Result<http::HttpResponse, gdnat_igd::RequestError> {
    let responder = Responder::start(vec![reply]);
    let start = Instant::now();
    let result = http::get(&responder.url("/rootDesc.xml"), &LIMITS, &gdnat_igd::CancelToken::new());
    let elapsed = start.elapsed();
    assert!(elapsed < LIMITS.total_timeout + Duration::from_millis(700), "bound: took {elapsed:?}");
    result
}

#[test]
fn a_response_head_under_8_kib_is_read() {
    let response = get(answer_with_head_padding(6 * 1024)).expect("a 6 KiB head is accepted");
    assert_eq!((response.status, response.text().as_str()), (200, "<root/>"));
}

#[test]
fn a_response_head_over_8_kib_is_an_error() {
    let error = get(answer_with_head_padding(12 * 1024)).expect_err("a 12 KiB head is refused");
    assert!(matches!(error, gdnat_igd::RequestError::HeadTooLarge { limit: 8192, .. }), "{error:?}");
}
