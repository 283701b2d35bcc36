//! HTTP answers as a router sends them, read by `proto::http::ResponseReader` (the HTTP client's
//! parser). The first input byte picks how the rest is cut into reads; the answer must read the
//! same whole and cut (a trickled answer is no different), the body stays within its cap, and
//! a body we frame ourselves (Content-Length, chunked, close-delimited) reads back unchanged.
#![no_main]

use gdnat_igd::proto::http::{Response, ResponseError, ResponseReader};
use libfuzzer_sys::fuzz_target;

/// The body cap of these runs (small, so the cap is reached often).
const MAX_BODY: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&step, answer)) = data.split_first() else { return };
    let whole = read(answer, answer.len().max(1));
    let cut = read(answer, usize::from(step % 16) + 1);
    assert_eq!(whole, cut, "the answer reads differently when cut into {}-byte reads", step % 16 + 1);
    if let Ok(response) = &whole {
        assert!(response.body.len() <= MAX_BODY, "a body of {} bytes passed the cap", response.body.len());
        assert!((100..=999).contains(&response.status), "status {}", response.status);
    }
    check_framings(answer, usize::from(step % 7) + 1);
});

/// Feeds `answer` in reads of `step` bytes, then the close.
fn read(answer: &[u8], step: usize) -> Result<Response, ResponseError> {
    let mut reader = ResponseReader::new(MAX_BODY);
    for piece in answer.chunks(step) {
        if reader.feed(piece)? {
            break;
        }
    }
    if !reader.is_done() {
        reader.connection_closed()?;
    }
    Ok(reader.into_response().expect("a reader that said done has an answer"))
}

/// `body` framed three ways (chunks of `chunk` bytes for the chunked one) reads back as itself.
fn check_framings(body: &[u8], chunk: usize) {
    if body.len() > MAX_BODY {
        return;
    }
    let mut length = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    length.extend_from_slice(body);
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.chunks(chunk) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let mut close = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    close.extend_from_slice(body);
    for (name, answer) in [("Content-Length", length), ("chunked", chunked), ("close-delimited", close)] {
        let expected = Ok(Response { status: 200, body: body.to_vec() });
        assert_eq!(read(&answer, chunk), expected, "a {name} body did not read back");
    }
}
