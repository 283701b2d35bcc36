//! The gateway remembered across runs: which gateway, which protocol worked, its UPnP URL, and
//! when it was probed. The binding keeps it in `user://` and starts the next session with it
//! (the UPnP URL skips SSDP discovery); the record is a hint, never trusted without a probe.
//!
//! The file is a few `key=value` lines under a version line, at most [`MAX_RECORD_BYTES`]:
//!
//! ```text
//! gdnat-gateway-record 1
//! gateway=192.168.1.1
//! pmp_port=5351
//! method=PCP
//! upnp_url=http://192.168.1.1:5000/rootDesc.xml
//! probed_unix=1796256000
//! ```

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::Method;
use crate::probe::{ProbeOptions, ProbeReport};

/// The first line of a record file.
pub const RECORD_HEADER: &str = "gdnat-gateway-record 1";
/// A record file larger than this is refused unread.
pub const MAX_RECORD_BYTES: u64 = 4096;

/// What was learned about the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRecord {
    /// The gateway's address.
    pub gateway: IpAddr,
    /// Its NAT-PMP/PCP port.
    pub pmp_port: u16,
    /// The protocol the probe preferred.
    pub method: Method,
    /// The UPnP description URL, when UPnP answered.
    pub upnp_url: Option<String>,
    /// When it was probed, in seconds since 1970.
    pub probed_unix: u64,
}

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be read or written.
    #[error("gateway record {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The system's error.
        source: io::Error,
    },
    /// The file is larger than [`MAX_RECORD_BYTES`].
    #[error("gateway record {path}: larger than {MAX_RECORD_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The file is not a record (header, a missing or bad field); the message says which.
    #[error("gateway record {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl GatewayRecord {
    /// The record of a probe that found a protocol (`None` when it found none).
    pub fn from_probe(options: &ProbeOptions, report: &ProbeReport) -> Option<Self> {
        let method = report.preferred()?;
        let upnp_url = report.upnp.available.then(|| report.upnp.detail.clone());
        let probed_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Some(Self { gateway: options.gateway, pmp_port: options.pmp_port, method, upnp_url, probed_unix })
    }

    /// Probe options for this gateway (its address, port and UPnP URL; default timeout).
    pub fn probe_options(&self) -> ProbeOptions {
        let mut options = ProbeOptions::new(self.gateway);
        options.pmp_port = self.pmp_port;
        options.upnp_url = self.upnp_url.clone();
        options
    }

    /// Parses the text of a record file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(RECORD_HEADER) {
            return Err(format!("the first line is not {RECORD_HEADER:?}"));
        }
        let (mut gateway, mut pmp_port, mut method, mut upnp_url, mut probed_unix) = (None, None, None, None, None);
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once('=').ok_or_else(|| format!("line {line:?} is not key=value"))?;
            let bad = |what: &str| format!("{key}: {value:?} is not {what}");
            match key {
                "gateway" => gateway = Some(value.parse::<IpAddr>().map_err(|_| bad("an IP address"))?),
                "pmp_port" => pmp_port = Some(value.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("a port"))?),
                "method" => method = Some(Method::parse(value).ok_or_else(|| bad("PCP, NAT-PMP or UPnP"))?),
                "upnp_url" if value.starts_with("http://") => upnp_url = Some(value.to_string()),
                "upnp_url" => return Err(bad("an http:// URL")),
                "probed_unix" => probed_unix = Some(value.parse::<u64>().map_err(|_| bad("a number"))?),
                _ => {} // a newer writer's field: ignored
            }
        }
        let missing = |name: &str| format!("{name} is missing");
        Ok(Self {
            gateway: gateway.ok_or_else(|| missing("gateway"))?,
            pmp_port: pmp_port.ok_or_else(|| missing("pmp_port"))?,
            method: method.ok_or_else(|| missing("method"))?,
            upnp_url,
            probed_unix: probed_unix.ok_or_else(|| missing("probed_unix"))?,
        })
    }

    /// Loads the record at `path`; `Ok(None)` when there is no file.
    pub fn load(path: &Path) -> Result<Option<Self>, RecordError> {
        let name = path.display().to_string();
        let file = match fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(RecordError::Io { path: name, source }),
        };
        let mut bytes = Vec::new();
        file.take(MAX_RECORD_BYTES + 1).read_to_end(&mut bytes).map_err(|source| RecordError::Io { path: name.clone(), source })?;
        if bytes.len() as u64 > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge { path: name });
        }
        let text = String::from_utf8(bytes).map_err(|_| RecordError::Invalid { path: name.clone(), reason: "not UTF-8".into() })?;
        Self::parse(&text).map(Some).map_err(|reason| RecordError::Invalid { path: name, reason })
    }

    /// Writes the record to `path` (a temporary file next to it, then renamed over it, so a
    /// crash never leaves half a record).
    pub fn save(&self, path: &Path) -> Result<(), RecordError> {
        let name = path.display().to_string();
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        fs::write(&temporary, self.to_string()).and_then(|()| fs::rename(&temporary, path)).map_err(|source| RecordError::Io { path: name, source })
    }
}

impl fmt::Display for GatewayRecord {
    /// The file's text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{RECORD_HEADER}")?;
        writeln!(f, "gateway={}", self.gateway)?;
        writeln!(f, "pmp_port={}", self.pmp_port)?;
        writeln!(f, "method={}", self.method)?;
        if let Some(url) = &self.upnp_url {
            writeln!(f, "upnp_url={}", url.replace(['\r', '\n'], ""))?;
        }
        writeln!(f, "probed_unix={}", self.probed_unix)
    }
}
