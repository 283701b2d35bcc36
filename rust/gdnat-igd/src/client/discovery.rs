//! SSDP discovery followed by per-device validation.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gdnat_io::{Wake, WakeOutcome, Waiter};

use super::probe_cache::{self, Subscription};
use super::validate::Answer;
use super::{DeviceStatus, DiscoverOptions, DiscoveredDevice};
use crate::cancel::CancelToken;
use crate::error::DiscoverError;
use crate::proto::ssdp::{self, SearchGroup};
use crate::proto::url::HttpUrl;
use crate::transport::ssdp_socket::{SsdpSocket, SsdpSocketConfig, MAX_DATAGRAM};

/// How long before the caller's timeout the SSDP wait ends, so that closing the socket and
/// handing back the result still happen within the timeout: with nothing answering,
/// `discover()` returns within `timeout`, not just after it.
const RETURN_RESERVE: Duration = Duration::from_millis(1);
/// How long discovery waits, once it has stopped, for the validations it cancelled to hand
/// in their (cancelled) results. Their I/O ends at once on cancel, so they usually answer in
/// microseconds; a device whose validation has not answered by then is reported from what is
/// known (see [`unfinished`]).
const CANCEL_GRACE: Duration = Duration::from_millis(5);
/// Most devices kept (and validated) from one discovery.
const MAX_DEVICES: usize = 32;
/// When the M-SEARCHes are sent again, counted from the first send, while no SSDP answer has
/// come (UDP is lossy, and a router's SSDP socket drops searches when many arrive at once).
/// Routers answer within about 50 ms on a LAN; any answer stops the resends. Only those
/// before the discovery's end are sent.
const RESEND_AFTER: [Duration; 2] = [Duration::from_millis(250), Duration::from_millis(750)];

/// Discover UPnP devices and validate each one on its own.
///
/// Sends the search targets together (to the multicast group and, unless turned off, unicast
/// to the default gateway), and again at [`RESEND_AFTER`] while nothing has answered, collects
/// answers until the first valid gateway plus `options.settle`, or earlier once every
/// validation is in and the network has been quiet for `options.quiet` (see [`discovery_end`];
/// never past `options.timeout`: the wait ends 1 ms before it, so that the call returns within
/// it), validates every kept device, and calls `on_device` as each one is classified. Returns the devices in the engine's order (most
/// recent answer first). `Err(NoDevices)` when nothing answered; `Ok` with an empty list when
/// answers came but none passed the filter.
///
/// Answers whose LOCATION host is not the answer's source address are ignored. Devices are
/// validated on the core's validation threads (at most
/// [`MAX_VALIDATION_THREADS`](probe_cache::MAX_VALIDATION_THREADS) for the whole process), each
/// exchange bounded by `options.http`; discoveries that find the same device at the same time
/// share one validation (module `probe_cache`). Validations never hold the
/// call: when discovery ends (its timeout passed, or a gateway was found and `settle` passed)
/// the validations still running are cancelled, which ends their HTTP exchanges at once, and
/// their devices are reported with the status the engine gives a device whose checks failed
/// the same way: `HttpError` while the description was still being fetched, `NotConnected`
/// while its connection service was being asked. So `discover()` returns
/// within `options.timeout` plus a few milliseconds whatever the devices do. Cancelling
/// `cancel` ends it at once with `Cancelled`.
pub fn discover(
    options: &DiscoverOptions,
    cancel: &CancelToken,
    on_device: &mut dyn FnMut(&DiscoveredDevice),
) -> Result<Vec<DiscoveredDevice>, DiscoverError> {
    let start = Instant::now();
    let requested_at = options.requested_at.map_or(start, |at| at.min(start));
    let deadline = later(start, options.timeout.saturating_sub(RETURN_RESERVE));
    let socket = SsdpSocket::open(&SsdpSocketConfig {
        ipv6: options.ipv6,
        local_port: options.local_port,
        ttl: options.ttl,
        multicast_if: options.multicast_if.as_deref(),
    })?;
    let waiter = Waiter::new(cancel).map_err(|e| DiscoverError::Socket { stage: "creating the poller", detail: e.to_string() })?;
    let searched_at = Instant::now();
    let unicast_gateway = send_searches(&socket, options)?;
    let mut resends = RESEND_AFTER.iter().map(|after| searched_at + *after);

    let mut session = Session::new(options, requested_at, waiter.waker());
    let mut buffer = [0u8; MAX_DATAGRAM];
    let mut gateway_found_at: Option<Instant> = None;
    let mut last_answer_at: Option<Instant> = None;
    let mut next_resend = resends.next();
    loop {
        if cancel.is_cancelled() {
            return Err(DiscoverError::Cancelled);
        }
        if session.collect(on_device) && gateway_found_at.is_none() {
            gateway_found_at = Some(Instant::now());
        }
        let end = discovery_end(
            &Progress { gateway_found_at, last_answer_at, validations_running: session.running },
            options,
            deadline,
        );
        let now = Instant::now();
        if now >= end {
            break;
        }
        if last_answer_at.is_some() {
            next_resend = None;
        }
        if next_resend.is_some_and(|at| now >= at) {
            resend_searches(&socket, options, unicast_gateway);
            next_resend = resends.next();
        }
        // Ends with a datagram, at `end` or the next resend, or when a validation hands in
        // its result.
        let wake_at = next_resend.map_or(end, |at| at.min(end));
        if let Some((len, from)) = socket.recv_until(&mut buffer, wake_at, &waiter)? {
            last_answer_at = Some(Instant::now());
            session.answer(&buffer[..len], from);
        }
    }
    let reason = if gateway_found_at.is_some() { "a gateway was already found" } else { "the discovery timeout passed" };
    session.stop(&waiter, on_device)?;
    if !session.any_answer {
        return Err(DiscoverError::NoDevices { millis: options.timeout.as_millis().min(u128::from(u64::MAX)) as u64 });
    }
    Ok(session.finish(reason, on_device))
}

/// What discovery knows when it decides whether to stop listening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Progress {
    /// When the first connected gateway was classified.
    gateway_found_at: Option<Instant>,
    /// When the last SSDP datagram came in.
    last_answer_at: Option<Instant>,
    /// Validations started and not yet handed in.
    validations_running: usize,
}

/// When discovery stops listening (pure: the session's whole stop rule, tested without
/// sockets). Without a connected gateway: at `deadline`. With one, found at `G`: at
/// `G + settle` at the latest (a device whose validation hangs never holds the call longer),
/// and earlier once every validation has handed in and no SSDP answer has come for
/// `options.quiet`: then nothing is left to wait for but devices that have not answered at
/// all, which `settle` could not promise either. Never past `deadline`, never before `G`.
fn discovery_end(progress: &Progress, options: &DiscoverOptions, deadline: Instant) -> Instant {
    let Some(found) = progress.gateway_found_at else { return deadline };
    let settled = later(found, options.settle).min(deadline);
    if progress.validations_running > 0 {
        return settled;
    }
    let quiet_end = later(progress.last_answer_at.unwrap_or(found), options.quiet).max(found);
    quiet_end.min(settled)
}

/// `instant + duration`, saturating at a day (a huge timeout must not overflow).
fn later(instant: Instant, duration: Duration) -> Instant {
    instant + duration.min(Duration::from_secs(86_400))
}

/// Sends one M-SEARCH per target and destination (see [`search_destinations`]); fails only
/// when every send failed. The multicast searches go out first; the default-gateway lookup
/// (a netlink / routing-socket query) happens after them so that it delays nothing. Returns
/// the gateway searched unicast, which the resends reuse ([`resend_searches`]).
fn send_searches(socket: &SsdpSocket, options: &DiscoverOptions) -> Result<Option<Ipv4Addr>, DiscoverError> {
    let mut outcome = (0, None);
    send_round(socket, options, search_destinations(options, None), &mut outcome);
    let gateway = unicast_search_gateway(options);
    if let Some(gateway) = gateway {
        send_round(socket, options, vec![unicast_destination(gateway)], &mut outcome);
    }
    match outcome {
        (0, Some(error)) => Err(error),
        _ => Ok(gateway),
    }
}

/// Sends the searches of [`send_searches`] again, to the same destinations (`gateway`: the one
/// it searched unicast, not looked up again). A failed resend is ignored: the first round went
/// out, and what follows does not depend on it.
fn resend_searches(socket: &SsdpSocket, options: &DiscoverOptions, gateway: Option<Ipv4Addr>) {
    send_round(socket, options, search_destinations(options, gateway), &mut (0, None));
}

/// Sends one M-SEARCH per target to each of `destinations`, counting the datagrams sent and
/// keeping the last error in `(sent, last_error)`.
fn send_round(
    socket: &SsdpSocket,
    options: &DiscoverOptions,
    destinations: Vec<(String, SocketAddr)>,
    (sent, last_error): &mut (usize, Option<DiscoverError>),
) {
    let targets = ssdp::search_targets(&options.device_filter);
    let mx = ssdp::mx_for_timeout(options.timeout);
    for (host_header, destination) in destinations {
        for target in targets {
            let datagram = ssdp::build_msearch(&host_header, target, mx);
            match socket.send_to(datagram.as_bytes(), destination) {
                Ok(()) => *sent += 1,
                Err(error) => *last_error = Some(error),
            }
        }
    }
}

/// Where the M-SEARCHes go, with the HOST header each one carries: the search groups of the
/// family (or `target_override`), then, when `gateway` is given, that gateway unicast on port
/// 1900 (HOST names the gateway, as UDA 1.1 asks of a unicast search). Pure.
fn search_destinations(options: &DiscoverOptions, gateway: Option<Ipv4Addr>) -> Vec<(String, SocketAddr)> {
    let groups = SearchGroup::for_family(options.ipv6);
    let mut destinations: Vec<(String, SocketAddr)> = match options.target_override {
        Some(target) => vec![(groups[0].host_header().to_string(), target)],
        None => groups.iter().map(|g| (g.host_header().to_string(), g.socket_addr())).collect(),
    };
    destinations.extend(gateway.map(unicast_destination));
    destinations
}

/// The unicast search destination of `gateway`: its port 1900, HOST naming it.
fn unicast_destination(gateway: Ipv4Addr) -> (String, SocketAddr) {
    let destination = SocketAddr::V4(SocketAddrV4::new(gateway, ssdp::SSDP_PORT));
    (destination.to_string(), destination)
}

/// The default gateway to search unicast, when the options ask for it and one is known: of
/// the interface `multicast_if` names (an interface name, not an address literal), else of the
/// system's default route. `None` over IPv6, with `target_override`, or when there is no
/// default route (then the multicast search is all there is, as before).
fn unicast_search_gateway(options: &DiscoverOptions) -> Option<Ipv4Addr> {
    if !options.search_default_gateway || options.ipv6 || options.target_override.is_some() {
        return None;
    }
    let interface = options.multicast_if.as_deref().filter(|name| name.parse::<std::net::IpAddr>().is_err());
    let gateway = gdnat_io::default_gateway(interface).ok()?.address;
    (!gateway.is_unspecified() && !gateway.is_multicast() && !gateway.is_broadcast()).then_some(gateway)
}

/// One kept device: its answer, in arrival order, and its classification once known.
struct Slot {
    answer: Answer,
    device: Option<DiscoveredDevice>,
    /// Set by the validation once the description is in and the SOAP probes start.
    probing: Arc<AtomicBool>,
    /// This discovery's interest in the (shared) validation; released when discovery ends.
    subscription: Option<Subscription>,
}

/// The state of one discovery: kept devices and the validations running for them. Dropping it
/// (discovery returned, whichever way, the caller's cancel included) releases its interest in
/// the validations still running; a validation no other discovery waits for is cancelled then,
/// so it stops at its next step instead of going on with the network.
struct Session<'a> {
    options: &'a DiscoverOptions,
    /// When the discovery was asked for (shares finished validations, see `probe_cache`).
    requested_at: Instant,
    slots: Vec<Slot>,
    by_location: HashMap<String, usize>,
    results_tx: Sender<(usize, DiscoveredDevice)>,
    results_rx: Receiver<(usize, DiscoveredDevice)>,
    /// Ends discovery's socket wait when a validation has handed in its result.
    wake: Wake,
    running: usize,
    any_answer: bool,
    /// The validations were cancelled because discovery ended: results that come in now
    /// say so in their detail.
    stopped: bool,
}

/// The description URL of an answer from `from`: LOCATION as written, except that a link-local
/// IPv6 host gets the zone of the interface the answer came in on (the scope id of its source),
/// without which it cannot be reached: `http://[fe80::1]:5000/x` from `[fe80::1%2]:1900`
/// becomes `http://[fe80::1%252]:5000/x` (RFC 6874). A zone LOCATION wrote itself is replaced,
/// since the other host's name for its interface means nothing here.
fn location_in_zone(location: &str, from: SocketAddr) -> String {
    let SocketAddr::V6(from) = from else { return location.to_string() };
    if from.scope_id() == 0 || !from.ip().is_unicast_link_local() {
        return location.to_string();
    }
    match HttpUrl::parse(location) {
        Ok(mut url) => {
            url.zone = Some(from.scope_id().to_string());
            format!("http://{}{}", url.authority(), url.path)
        }
        Err(_) => location.to_string(),
    }
}

impl<'a> Session<'a> {
    fn new(options: &'a DiscoverOptions, requested_at: Instant, wake: Wake) -> Self {
        let (results_tx, results_rx) = mpsc::channel();
        Self {
            options,
            requested_at,
            slots: Vec::new(),
            by_location: HashMap::new(),
            results_tx,
            results_rx,
            wake,
            running: 0,
            any_answer: false,
            stopped: false,
        }
    }

    /// Releases the validations still running (cancelling those no other discovery waits
    /// for) and waits up to [`CANCEL_GRACE`] for their results (their exchanges end at once on
    /// cancel). `Err(Cancelled)` when the caller cancelled meanwhile.
    fn stop(&mut self, waiter: &Waiter, on_device: &mut dyn FnMut(&DiscoveredDevice)) -> Result<(), DiscoverError> {
        self.stopped = true;
        self.release();
        let grace_end = Instant::now() + CANCEL_GRACE;
        loop {
            self.collect(on_device);
            if self.running == 0 {
                return Ok(());
            }
            match waiter.sleep_until(grace_end) {
                Ok(WakeOutcome::Woken | WakeOutcome::Ready) => {}
                Ok(WakeOutcome::TimedOut) => {
                    self.collect(on_device);
                    return Ok(());
                }
                Err(gdnat_io::WaitError::Cancelled) => return Err(DiscoverError::Cancelled),
                Err(gdnat_io::WaitError::Io(_)) => return Ok(()),
            }
        }
    }

    /// Handles one datagram: parse, filter, check the source, dedupe, start validation.
    fn answer(&mut self, datagram: &[u8], from: SocketAddr) {
        let Some(answer) = ssdp::parse_answer(datagram) else { return };
        self.any_answer = true;
        if !ssdp::passes_filter(&answer.st, &self.options.device_filter) {
            return;
        }
        let location_ip = HttpUrl::parse(&answer.location).ok().and_then(|u| u.host_ip());
        if location_ip != Some(from.ip()) {
            return;
        }
        let location = location_in_zone(&answer.location, from);
        if self.by_location.contains_key(&location) || self.slots.len() >= MAX_DEVICES {
            return;
        }
        let answer = Answer { location, st: answer.st, usn: answer.usn };
        let index = self.slots.len();
        self.by_location.insert(answer.location.clone(), index);
        let subscription = probe_cache::subscribe(
            &answer,
            &self.options.http,
            self.requested_at,
            index,
            self.results_tx.clone(),
            self.wake.clone(),
        );
        let probing = subscription.probing();
        self.slots.push(Slot { answer, device: None, probing, subscription: Some(subscription) });
        self.running += 1;
    }

    /// Releases this discovery's interest in every validation (see [`Subscription`]).
    fn release(&mut self) {
        for slot in &mut self.slots {
            slot.subscription = None;
        }
    }

    /// Takes finished validations; true when one of them is a connected gateway.
    fn collect(&mut self, on_device: &mut dyn FnMut(&DiscoveredDevice)) -> bool {
        let mut connected = false;
        loop {
            match self.results_rx.try_recv() {
                Ok((index, mut device)) => {
                    self.running = self.running.saturating_sub(1);
                    if self.stopped && device.detail.contains("cancelled") {
                        device.detail = format!("checks stopped when discovery ended: {}", device.detail);
                    }
                    connected |= device.status.is_connected();
                    on_device(&device);
                    if let Some(slot) = self.slots.get_mut(index) {
                        slot.device = Some(device);
                    }
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return connected,
            }
        }
    }

    /// The devices, most recent answer first; unfinished ones as [`unfinished`] says, with
    /// `reason` (why discovery ended) in their detail.
    fn finish(mut self, reason: &str, on_device: &mut dyn FnMut(&DiscoveredDevice)) -> Vec<DiscoveredDevice> {
        self.collect(on_device);
        std::mem::take(&mut self.slots)
            .into_iter()
            .rev()
            .map(|slot| match slot.device {
                Some(device) => device,
                None => {
                    let device = unfinished(&slot.answer, slot.probing.load(Ordering::SeqCst), reason);
                    on_device(&device);
                    device
                }
            })
            .collect()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// A device whose validation had not answered when discovery ended, with the status the
/// engine (miniupnpc) gives a device whose checks fail at the same step: `HttpError` when its
/// description was not in yet (a description fetch that times out leaves the HTTP status at
/// -1), `NotConnected` when its connection service had not answered `GetStatusInfo` yet (a
/// failing status call makes miniupnpc's `UPNP_GetValidIGD` fall through to "IGD, not
/// connected").
fn unfinished(answer: &Answer, probing: bool, reason: &str) -> DiscoveredDevice {
    let mut device = unvalidated(answer, "");
    if probing {
        device.status = DeviceStatus::NotConnected;
        device.detail = format!("connection status not known when discovery ended ({reason})");
    } else {
        device.detail = format!("description not fetched when discovery ended ({reason})");
    }
    device
}

/// A device whose validation did not happen, reported as `HttpError` with `detail` saying why.
pub(super) fn unvalidated(answer: &Answer, detail: impl Into<String>) -> DiscoveredDevice {
    DiscoveredDevice {
        description_url: answer.location.clone(),
        service_type: answer.st.clone(),
        usn: answer.usn.clone(),
        status: DeviceStatus::HttpError,
        gateway: None,
        external_ip: None,
        friendly_name: None,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_waits_for_the_timeout_until_a_gateway_is_found() {
        let (now, options) = (Instant::now(), DiscoverOptions::default());
        let deadline = now + Duration::from_secs(2);
        let progress = Progress { gateway_found_at: None, last_answer_at: Some(now), validations_running: 0 };
        assert_eq!(discovery_end(&progress, &options, deadline), deadline);
    }

    #[test]
    fn with_a_gateway_and_nothing_running_discovery_ends_after_a_quiet_spell() {
        let now = Instant::now();
        let options = DiscoverOptions { settle: Duration::from_millis(20), quiet: Duration::from_millis(5), ..DiscoverOptions::default() };
        let deadline = now + Duration::from_secs(2);
        let ms = Duration::from_millis;
        // Answer at 0, gateway validated at 3: quiet since 0, so stop at 5.
        let progress = Progress { gateway_found_at: Some(now + ms(3)), last_answer_at: Some(now), validations_running: 0 };
        assert_eq!(discovery_end(&progress, &options, deadline), now + ms(5));
        // Validated at 9, after the quiet spell had passed: stop at once (at 9).
        let progress = Progress { gateway_found_at: Some(now + ms(9)), ..progress };
        assert_eq!(discovery_end(&progress, &options, deadline), now + ms(9));
        // A later answer (another device) pushes the end out: 12 + 5.
        let progress = Progress { last_answer_at: Some(now + ms(12)), ..progress };
        assert_eq!(discovery_end(&progress, &options, deadline), now + ms(17));
        // ... but never past found + settle (9 + 20).
        let progress = Progress { last_answer_at: Some(now + ms(40)), ..progress };
        assert_eq!(discovery_end(&progress, &options, deadline), now + ms(29));
        // Nor past the deadline.
        assert_eq!(discovery_end(&progress, &options, now + ms(10)), now + ms(10));
    }

    #[test]
    fn a_validation_still_running_holds_discovery_until_settle() {
        let now = Instant::now();
        let options = DiscoverOptions { settle: Duration::from_millis(20), quiet: Duration::from_millis(5), ..DiscoverOptions::default() };
        let progress = Progress { gateway_found_at: Some(now), last_answer_at: Some(now), validations_running: 1 };
        assert_eq!(discovery_end(&progress, &options, now + Duration::from_secs(2)), now + Duration::from_millis(20));
        let huge = DiscoverOptions { settle: Duration::MAX, quiet: Duration::MAX, ..options };
        let deadline = now + Duration::from_secs(3);
        assert_eq!(discovery_end(&progress, &huge, deadline), deadline);
        assert_eq!(discovery_end(&Progress { validations_running: 0, ..progress }, &huge, deadline), deadline);
    }

    #[test]
    fn the_default_gateway_is_searched_unicast_after_the_group() {
        let options = DiscoverOptions::default();
        let gateway: Ipv4Addr = "10.77.0.1".parse().unwrap();
        let destinations = search_destinations(&options, Some(gateway));
        let hosts: Vec<(&str, String)> = destinations.iter().map(|(h, d)| (h.as_str(), d.to_string())).collect();
        assert_eq!(
            hosts,
            vec![
                ("239.255.255.250:1900", "239.255.255.250:1900".to_string()),
                ("10.77.0.1:1900", "10.77.0.1:1900".to_string()),
            ]
        );
        assert_eq!(search_destinations(&options, None).len(), 1);
        let datagram = ssdp::build_msearch(&destinations[1].0, "ssdp:all", 2);
        assert!(datagram.contains("HOST: 10.77.0.1:1900\r\n"), "{datagram}");
    }

    #[test]
    fn no_unicast_search_over_ipv6_with_an_override_or_when_turned_off() {
        let off = DiscoverOptions { search_default_gateway: false, ..DiscoverOptions::default() };
        assert_eq!(unicast_search_gateway(&off), None);
        let v6 = DiscoverOptions { ipv6: true, ..DiscoverOptions::default() };
        assert_eq!(unicast_search_gateway(&v6), None);
        let overridden = DiscoverOptions { target_override: Some("127.0.0.1:1900".parse().unwrap()), ..DiscoverOptions::default() };
        assert_eq!(unicast_search_gateway(&overridden), None);
    }

    #[test]
    fn link_local_locations_get_the_zone_they_were_heard_in() {
        let from: SocketAddr = "[fe80::1%3]:1900".parse().unwrap();
        assert_eq!(location_in_zone("http://[fe80::1]:5000/rootDesc.xml", from), "http://[fe80::1%253]:5000/rootDesc.xml");
        assert_eq!(location_in_zone("http://[fe80::1%eth0]:5000/rootDesc.xml", from), "http://[fe80::1%253]:5000/rootDesc.xml");
        let url = HttpUrl::parse(&location_in_zone("http://[fe80::1]:5000/a?b", from)).unwrap();
        assert_eq!((url.host.as_str(), url.zone.as_deref(), url.port, url.path.as_str()), ("fe80::1", Some("3"), 5000, "/a?b"));
        for (location, from) in [
            ("http://10.77.0.1:5000/rootDesc.xml", "10.77.0.1:1900"),
            ("http://[fd77::1]:5000/rootDesc.xml", "[fd77::1]:1900"),
            ("http://[fe80::1]:5000/rootDesc.xml", "[fe80::1]:1900"),
        ] {
            assert_eq!(location_in_zone(location, from.parse().unwrap()), location);
        }
    }
}
