//! Listening for the gateway's unsolicited ANNOUNCE (RFC 6887 §14.1.3): after a restart a PCP
//! server multicasts an ANNOUNCE answer (epoch near 0) to 224.0.0.1:5350 (miniupnpd does so at
//! start, see `tests/data/miniupnpd/natpmp/wire-natpmp-pcp.hex.txt`). A client that hears it
//! knows its mappings are gone before the next renewal.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use gdnat_io::udp::recv_until;
use gdnat_io::{CancelToken, WaitError, Waiter};

use crate::epoch::{EpochCheck, EpochTracker};
use crate::wire::pcp::{self, ResultCode};

/// An ANNOUNCE heard from the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeardAnnounce {
    /// The epoch it carried.
    pub epoch: u32,
    /// What it says compared with the tracker given to [`AnnounceListener::wait`].
    pub epoch_check: EpochCheck,
}

/// A socket on the PCP client port that takes ANNOUNCE answers from one gateway only.
#[derive(Debug)]
pub struct AnnounceListener {
    socket: UdpSocket,
    gateway: SocketAddr,
    waiter: Waiter,
}

impl AnnounceListener {
    /// Binds `bind` (0.0.0.0:5350 on a real host) and, when `join` is given, joins 224.0.0.1
    /// on that local interface address. Only datagrams from `gateway` (its IP, port 5351) count.
    pub fn bind(bind: SocketAddr, join: Option<Ipv4Addr>, gateway: SocketAddr, cancel: &CancelToken) -> io::Result<Self> {
        let socket = UdpSocket::bind(bind)?;
        if let Some(interface) = join {
            socket.join_multicast_v4(&pcp::ANNOUNCE_GROUP, &interface)?;
        }
        socket.set_nonblocking(true)?;
        Ok(Self { socket, gateway, waiter: Waiter::new(cancel)? })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Waits up to `timeout` for an ANNOUNCE from the gateway and checks its epoch against
    /// `tracker` (the tracker of the client that holds the mappings). `Ok(None)` when none came;
    /// anything else received (other senders, other opcodes, bad sizes) is dropped.
    pub fn wait(&self, timeout: Duration, tracker: &mut EpochTracker) -> Result<Option<HeardAnnounce>, WaitError> {
        let deadline = Instant::now() + timeout;
        let mut buffer = [0u8; pcp::MAX_MESSAGE_LEN + 1];
        while let Some(datagram) = recv_until(&self.socket, &mut buffer, deadline, &self.waiter)? {
            let from_gateway = datagram.from.ip().to_canonical() == self.gateway.ip().to_canonical() && datagram.from.port() == self.gateway.port();
            if !from_gateway || datagram.truncated {
                continue;
            }
            let Ok(answer) = pcp::parse_answer(&buffer[..datagram.len], pcp::OPCODE_ANNOUNCE) else { continue };
            if answer.version != pcp::VERSION || answer.result != ResultCode::Success {
                continue;
            }
            let epoch_check = tracker.observe(answer.epoch, Instant::now());
            return Ok(Some(HeardAnnounce { epoch: answer.epoch, epoch_check }));
        }
        Ok(None)
    }
}
