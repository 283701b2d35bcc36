//! Layer 3: blocking clients on the shared transport (`gdnat_io::udp::exchange`).
//!
//! - [`NatPmpClient`]: NAT-PMP external address, map, delete.
//! - [`PcpClient`]: PCP MAP (new, renew with the same nonce, delete) and ANNOUNCE.
//! - [`PortMapClient`]: PCP first, NAT-PMP when the gateway says it does not speak PCP.
//! - [`AnnounceListener`]: hears the gateway's unsolicited ANNOUNCE after its restart.
//!
//! Every call is bounded by [`ClientOptions::call_timeout`] and ends at once when the
//! [`CancelToken`] given at construction is cancelled. Answers are accepted only from the
//! gateway's address and port, only at the expected size, version and opcode; anything else
//! is dropped and the call keeps waiting. Each client tracks the gateway's epoch
//! ([`crate::epoch`]) and reports a restart in every result.

mod announce;
mod either;
mod natpmp;
mod pcp;

pub use announce::{AnnounceListener, HeardAnnounce};
pub use either::{DeleteError, MapError, Mapping, Method, PortMapClient};
pub use natpmp::{ExternalAddress, NatPmpClient, NatPmpDeleted, NatPmpMapping};
pub use pcp::{Announced, MapParams, PcpClient, PcpDeleted, PcpMapping};

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use gdnat_io::udp::{exchange, Answer, ExchangeError, Request, Retransmit, SourceFilter};
use gdnat_io::{CancelToken, Waiter};

use crate::wire::natpmp::SERVER_PORT;

/// The default bound of one call: long enough for four NAT-PMP sends (0, 0.25, 0.75, 1.75 s)
/// or three PCP sends (0, ~1, ~3 s) and their answers, short enough for a game's start-up.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a client sends and how long a call may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// The gateway's NAT-PMP/PCP address (port 5351 on a real router).
    pub server: SocketAddr,
    /// Our address on the gateway's network: the socket binds to it and PCP sends it as the
    /// client address. `None`: the address the system's routing picks towards the gateway.
    pub local_ip: Option<IpAddr>,
    /// The longest one call may take, all retransmissions included.
    pub call_timeout: Duration,
}

impl ClientOptions {
    /// Options for the gateway at `gateway` on port 5351 with the default bound.
    pub fn new(gateway: IpAddr) -> Self {
        Self { server: SocketAddr::new(gateway, SERVER_PORT), local_ip: None, call_timeout: DEFAULT_CALL_TIMEOUT }
    }
}

/// One bound UDP socket towards the gateway, with its cancellable waiter.
#[derive(Debug)]
pub(crate) struct Endpoint {
    socket: UdpSocket,
    server: SocketAddr,
    local_ip: IpAddr,
    waiter: Waiter,
    call_timeout: Duration,
}

impl Endpoint {
    pub(crate) fn open(options: &ClientOptions, cancel: &CancelToken) -> io::Result<Self> {
        let local_ip = match options.local_ip {
            Some(ip) => ip,
            None => local_ip_towards(options.server)?,
        };
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0))?;
        Ok(Self { socket, server: options.server, local_ip, waiter: Waiter::new(cancel)?, call_timeout: options.call_timeout })
    }

    /// Sends `payload` on `schedule(call_timeout)` and returns the first answer `parse` takes.
    pub(crate) fn exchange<T>(
        &self,
        payload: &[u8],
        schedule: fn(Duration) -> Retransmit,
        max_answer: usize,
        parse: &mut dyn FnMut(&[u8]) -> Option<T>,
    ) -> Result<(T, Answer), ExchangeError> {
        let request = Request { to: self.server, payload, schedule: schedule(self.call_timeout), max_answer, source: SourceFilter::SameAddress };
        let mut parsed = None;
        let answer = exchange(&self.socket, &request, &self.waiter, &mut |data, _| {
            parsed = parse(data);
            parsed.is_some()
        })?;
        // `exchange` returned the datagram `parse` accepted last, so `parsed` is set.
        parsed.map(|value| (value, answer)).ok_or(ExchangeError::Cancelled)
    }

    pub(crate) fn local_ip(&self) -> IpAddr {
        self.local_ip
    }
}

/// The local address the system would send from towards `server` (a UDP connect sends nothing).
pub fn local_ip_towards(server: SocketAddr) -> io::Result<IpAddr> {
    let any = match server {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let probe = UdpSocket::bind(SocketAddr::new(any, 0))?;
    probe.connect(server)?;
    Ok(probe.local_addr()?.ip())
}
