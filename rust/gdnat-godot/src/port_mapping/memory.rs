//! What `NatPortMapping` remembers across runs, in a folder the node gives (`user://gdnat`):
//!
//! - `gateway.rec`: the gateway and the protocol it speaks ([`gdnat_mapper::GatewayRecord`]),
//!   so the next start checks that one protocol with one request instead of probing all three
//!   (no SSDP discovery);
//! - `mapping-<udp|tcp>-<port>.rec`: the mapping this host holds on that external port, with
//!   its PCP nonce, written when mapped and removed when released. After a crash the file is
//!   still there, and the next start asks for the mapping with the same nonce: the gateway
//!   takes it as a renewal of the crashed run's mapping (one entry, not a refused second one).
//!   Only this host's own mapping is ever touched: the nonce is ours, and PCP binds it to our
//!   address and internal port.
//!
//! - `mapping-<udp|tcp>-<port>.lock`: held locked (`File::try_lock`: `flock` on Unix,
//!   `LockFileEx` on Windows) by the worker that maps that asked port, for as long as it lives.
//!   The system releases the lock when the process ends, crash or not. A record of another
//!   asked port whose lock can be taken is therefore stale: its run is gone (the game changed
//!   its port after a crash), and the next start removes that mapping ([`stale_asked_ports`]).
//!   A record whose lock is held belongs to a live node, here or in another running copy of
//!   the game, and is left alone.
//!
//! A mapping record is a few `key=value` lines under a version line, at most
//! [`MAX_MAPPING_RECORD_BYTES`]; a bad or foreign file is ignored (the node maps as if it
//! were not there). Plain data and files; no Godot type.

use std::fs;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use gdnat_mapper::{Granted, Method};
use gdnat_pcp::{Nonce, Protocol};

/// The first line of a mapping record.
pub const MAPPING_HEADER: &str = "gdnat-mapping-record 1";
/// A mapping record larger than this is ignored unread.
pub const MAX_MAPPING_RECORD_BYTES: u64 = 1024;

/// The file of the gateway record in `dir`.
pub fn gateway_record_path(dir: &Path) -> PathBuf {
    dir.join("gateway.rec")
}

/// The file of the mapping record of `protocol` on external `port` in `dir`.
pub fn mapping_record_path(dir: &Path, protocol: Protocol, port: u16) -> PathBuf {
    dir.join(format!("{}{port}.rec", mapping_record_prefix(protocol)))
}

/// The start of `protocol`'s mapping record names (`mapping-udp-`, `mapping-tcp-`).
fn mapping_record_prefix(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "mapping-udp-",
        Protocol::Tcp => "mapping-tcp-",
    }
}

/// A mapping this host made, as remembered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingRecord {
    /// The gateway it was made on.
    pub gateway: IpAddr,
    /// The protocol that made it.
    pub method: Method,
    /// The external port.
    pub external_port: u16,
    /// The internal port.
    pub internal_port: u16,
    /// The PCP nonce.
    pub nonce: Option<Nonce>,
}

impl MappingRecord {
    /// The record of `granted`, made on `gateway`.
    pub fn of(gateway: IpAddr, granted: &Granted) -> Self {
        Self { gateway, method: granted.method, external_port: granted.external_port, internal_port: granted.internal_port, nonce: granted.nonce }
    }

    /// Whether this record's mapping was made on `gateway` with `method` (a mapping made
    /// elsewhere or by another protocol is never touched).
    pub fn made_on(&self, gateway: IpAddr, method: Method) -> bool {
        self.gateway == gateway && self.method == method
    }

    /// The recorded mapping as a [`Granted`] of `protocol` (what a delete needs; its external
    /// address is not recorded and is left unspecified: no delete uses it).
    pub fn stale_granted(&self, protocol: Protocol) -> Granted {
        Granted {
            method: self.method,
            protocol,
            internal_port: self.internal_port,
            external_address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            external_port: self.external_port,
            lifetime: 0,
            nonce: self.nonce,
            gateway_restarted: false,
        }
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{MAPPING_HEADER}\ngateway={}\nmethod={}\nexternal_port={}\ninternal_port={}\n",
            self.gateway, self.method, self.external_port, self.internal_port
        );
        if let Some(nonce) = self.nonce {
            text.push_str(&format!("nonce={}\n", nonce.0.iter().map(|b| format!("{b:02x}")).collect::<String>()));
        }
        text
    }

    /// Parses a file's text; `None` when it is not a complete record.
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()?.trim() != MAPPING_HEADER {
            return None;
        }
        let (mut gateway, mut method, mut external_port, mut internal_port, mut nonce) = (None, None, None, None, None);
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once('=')?;
            match key {
                "gateway" => gateway = Some(value.parse().ok()?),
                "method" => method = Some(Method::parse(value)?),
                "external_port" => external_port = Some(value.parse::<u16>().ok().filter(|p| *p != 0)?),
                "internal_port" => internal_port = Some(value.parse::<u16>().ok().filter(|p| *p != 0)?),
                "nonce" => nonce = Some(parse_nonce(value)?),
                _ => {}
            }
        }
        Some(Self { gateway: gateway?, method: method?, external_port: external_port?, internal_port: internal_port?, nonce })
    }

    /// Loads the record at `path`; `None` when there is none or it is not a valid record.
    pub fn load(path: &Path) -> Option<Self> {
        let mut bytes = Vec::new();
        fs::File::open(path).ok()?.take(MAX_MAPPING_RECORD_BYTES + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 > MAX_MAPPING_RECORD_BYTES {
            return None;
        }
        Self::parse(std::str::from_utf8(&bytes).ok()?)
    }

    /// Writes the record (a temporary file renamed over it, so a crash never leaves half a
    /// record), making the folder if needed.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        fs::write(&temporary, self.to_text())?;
        fs::rename(&temporary, path)
    }
}

fn parse_nonce(text: &str) -> Option<Nonce> {
    if text.len() != 24 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 12];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(Nonce(bytes))
}

/// Removes a record file; a missing file is fine.
pub fn forget(path: &Path) {
    let _ = fs::remove_file(path);
}

/// The lock file of the mapping record of `protocol` on asked `port` in `dir`.
pub fn mapping_lock_path(dir: &Path, protocol: Protocol, port: u16) -> PathBuf {
    mapping_record_path(dir, protocol, port).with_extension("lock")
}

/// The lock on one asked port's record: held while it lives (see the module documentation).
#[derive(Debug)]
pub struct RecordLock {
    _file: fs::File,
}

/// Takes the lock of `protocol`'s asked `port` in `dir` (making the file if needed), without
/// waiting: `None` when another node (in this process or another) holds it, or the file cannot
/// be made.
pub fn try_lock(dir: &Path, protocol: Protocol, port: u16) -> Option<RecordLock> {
    fs::create_dir_all(dir).ok()?;
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(mapping_lock_path(dir, protocol, port)).ok()?;
    file.try_lock().ok()?;
    Some(RecordLock { _file: file })
}

/// The asked ports of `protocol` other than `asked` that have a mapping record in `dir`, in
/// ascending order, at most [`MAX_STALE_SWEEP`] (a folder is never read without bound).
pub fn other_asked_ports(dir: &Path, protocol: Protocol, asked: u16) -> Vec<u16> {
    let prefix = mapping_record_prefix(protocol);
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut ports: Vec<u16> = entries
        .take(MAX_DIR_ENTRIES)
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_prefix(prefix)?.strip_suffix(".rec")?.parse::<u16>().ok()
        })
        .filter(|port| *port != 0 && *port != asked)
        .collect();
    ports.sort_unstable();
    ports.truncate(MAX_STALE_SWEEP);
    ports
}

/// Most stale records removed by one start.
pub const MAX_STALE_SWEEP: usize = 16;
/// Most folder entries looked at by one sweep.
const MAX_DIR_ENTRIES: usize = 1024;

/// The records of other asked ports whose run is gone ([`other_asked_ports`] whose lock could
/// be taken), each with its lock (held while the caller removes the mapping).
pub fn stale_asked_ports(dir: &Path, protocol: Protocol, asked: u16) -> Vec<(u16, MappingRecord, RecordLock)> {
    other_asked_ports(dir, protocol, asked)
        .into_iter()
        .filter_map(|port| {
            let lock = try_lock(dir, protocol, port)?;
            let record = MappingRecord::load(&mapping_record_path(dir, protocol, port))?;
            Some((port, record, lock))
        })
        .collect()
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    fn record(port: u16) -> MappingRecord {
        MappingRecord { gateway: "10.77.0.1".parse().unwrap(), method: Method::Pcp, external_port: port, internal_port: port, nonce: None }
    }

    #[test]
    fn a_record_whose_lock_is_held_is_live_and_one_whose_lock_is_free_is_stale() {
        let dir = std::env::temp_dir().join(format!("gdnat-lock-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for port in [7000, 7001, 7002] {
            record(port).save(&mapping_record_path(&dir, Protocol::Udp, port)).unwrap();
        }
        record(7003).save(&mapping_record_path(&dir, Protocol::Tcp, 7003)).unwrap();
        fs::write(dir.join("mapping-udp-junk.rec"), "x").unwrap();
        // 7001's node is alive (its worker holds the lock); 7002's run crashed (no lock).
        let live = try_lock(&dir, Protocol::Udp, 7001).expect("the first lock");
        assert!(try_lock(&dir, Protocol::Udp, 7001).is_none(), "a second lock of the same port, even in this process, fails");
        assert_eq!(other_asked_ports(&dir, Protocol::Udp, 7000), [7001, 7002]);
        let stale: Vec<u16> = stale_asked_ports(&dir, Protocol::Udp, 7000).into_iter().map(|(port, record, _)| {
            assert_eq!(record.external_port, port);
            port
        }).collect();
        assert_eq!(stale, [7002], "only the record nobody holds; other protocols and junk are not looked at");
        drop(live);
        assert_eq!(stale_asked_ports(&dir, Protocol::Udp, 7000).len(), 2, "a released lock makes the record stale");
        let _ = fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> MappingRecord {
        MappingRecord { gateway: "10.77.0.1".parse().unwrap(), method: Method::Pcp, external_port: 7795, internal_port: 7795, nonce: Some(Nonce([0xab; 12])) }
    }

    #[test]
    fn a_record_round_trips_through_its_text_and_a_file() {
        let text = record().to_text();
        assert_eq!(MappingRecord::parse(&text), Some(record()));
        let upnp = MappingRecord { method: Method::Upnp, nonce: None, ..record() };
        assert_eq!(MappingRecord::parse(&upnp.to_text()), Some(upnp));
        let dir = std::env::temp_dir().join(format!("gdnat-memory-test-{}", std::process::id()));
        let path = mapping_record_path(&dir, Protocol::Udp, 7795);
        assert!(path.ends_with("mapping-udp-7795.rec"));
        record().save(&path).unwrap();
        assert_eq!(MappingRecord::load(&path), Some(record()));
        forget(&path);
        assert_eq!(MappingRecord::load(&path), None);
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("gdnat-memory-test-"), "only our own folder is removed");
        fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn a_stale_record_gives_what_a_delete_needs() {
        let stale = MappingRecord { external_port: 7799, internal_port: 7798, ..record() }.stale_granted(Protocol::Udp);
        assert_eq!((stale.method, stale.protocol, stale.external_port, stale.internal_port, stale.nonce), (Method::Pcp, Protocol::Udp, 7799, 7798, Some(Nonce([0xab; 12]))));
        assert!(stale.external_address.is_unspecified() && !stale.gateway_restarted);
    }

    #[test]
    fn bad_records_are_ignored() {
        for text in [
            "",
            "gdnat-mapping-record 2\ngateway=10.0.0.1\nmethod=PCP\nexternal_port=1\ninternal_port=1\n",
            "gdnat-mapping-record 1\ngateway=10.0.0.1\nmethod=PCP\nexternal_port=0\ninternal_port=1\n",
            "gdnat-mapping-record 1\ngateway=10.0.0.1\nmethod=SCTP\nexternal_port=1\ninternal_port=1\n",
            "gdnat-mapping-record 1\ngateway=10.0.0.1\nmethod=PCP\nexternal_port=1\ninternal_port=1\nnonce=abcd\n",
            "gdnat-mapping-record 1\ngateway=10.0.0.1\nmethod=PCP\nexternal_port=1\ninternal_port=1\nnonce=zzzzzzzzzzzzzzzzzzzzzzzz\n",
            "gdnat-mapping-record 1\nmethod=PCP\nexternal_port=1\ninternal_port=1\n",
            "gdnat-mapping-record 1\nno equals sign\n",
        ] {
            assert_eq!(MappingRecord::parse(text), None, "{text:?}");
        }
    }
}
