//! One SOAP exchange with a connection service, reduced to values or a fault.

use crate::cancel::CancelToken;
use crate::client::HttpLimits;
use crate::error::{Fault, RequestError};
use crate::proto::soap::{parse_answer, SoapAnswer};
use crate::transport::http;

/// Why a SOAP call gave no values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallError {
    /// The router answered with a UPnP fault (whatever the HTTP status).
    Fault(Fault),
    /// No usable answer.
    Request(RequestError),
}

impl CallError {
    /// Converts into an operation's error type.
    pub(crate) fn into_op<E: From<Fault> + From<RequestError>>(self) -> E {
        match self {
            Self::Fault(fault) => E::from(fault),
            Self::Request(error) => E::from(error),
        }
    }
}

/// Sends `action` with `args` to `control_url` and returns the answer's leaf values.
///
/// A fault anywhere in the body wins; otherwise a status other than 200 is `HttpStatus`, an
/// empty body `EmptyBody`, and broken XML `MalformedXml`.
pub(crate) fn call(
    control_url: &str,
    service_type: &str,
    action: &str,
    args: &[(&str, &str)],
    limits: &HttpLimits,
    cancel: &CancelToken,
) -> Result<Vec<(String, String)>, CallError> {
    let response = http::post_soap_call(control_url, service_type, action, args, limits, cancel).map_err(CallError::Request)?;
    let status = response.status;
    let text = response.into_text();
    let url = || control_url.to_string();
    let parsed = if text.trim().is_empty() { None } else { Some(parse_answer(&text)) };
    match parsed {
        Some(Ok(SoapAnswer::Fault(fault))) => Err(CallError::Fault(fault)),
        _ if status != 200 => Err(CallError::Request(RequestError::HttpStatus { url: url(), status })),
        None => Err(CallError::Request(RequestError::EmptyBody { url: url() })),
        Some(Err(detail)) => Err(CallError::Request(RequestError::MalformedXml { url: url(), detail })),
        Some(Ok(SoapAnswer::Values(values))) => Ok(values),
    }
}
