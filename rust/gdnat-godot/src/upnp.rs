//! The `NatUPNP` class: discovery settings, the device list, gateway selection, the blocking
//! methods of the engine's `UPNP`, and their `*_async` twins.

use std::time::{Duration, Instant};

use gdnat_igd::{CancelToken, DiscoverOptions, LocalPort, UpnpResult};
use godot::prelude::*;

use crate::convert::{self, DeviceData};
use crate::delivery::{self, AsyncHost};
use crate::device::NatUpnpDevice;
use crate::main_thread;
use crate::operations::{self, Report};
use crate::test_hooks::{self, Site};
use crate::validation;
use crate::worker::{DeviceSlot, Job, Outcome, Worker};

/// UPnP port mapping through the router (Internet Gateway Device): gdnat's drop-in for the
/// engine's `UPNP`, plus non-blocking `*_async` methods that report through signals.
///
/// Same properties, methods, arguments, defaults, constants, result codes and error messages
/// as the engine class, so `UPNP` can be replaced by `NatUPNP` in existing scripts:
/// [codeblock]
/// var upnp = NatUPNP.new()
/// var result = upnp.discover()
/// if result == NatUPNP.UPNP_RESULT_SUCCESS and upnp.get_gateway():
///     upnp.add_port_mapping(7777)
/// [/codeblock]
/// Non-blocking, without freezing the game:
/// [codeblock]
/// upnp.discover_async()
/// var result = await upnp.discover_completed
/// upnp.add_port_mapping_async(7777)
/// var added = await upnp.port_mapping_added  # [result, port, proto]
/// [/codeblock]
///
/// Differences from the engine's `UPNP` (all deliberate improvements):
/// - [method discover] returns as soon as the answers are in instead of always waiting the
///   whole `timeout` (often several times over), and honours timeouts below 1000 ms.
/// - Each discovered device carries its own control URL, service type, local address and
///   status (the engine copies the best gateway's data onto every device).
/// - A connected gateway behind another NAT (private WAN address) is usable: its
///   [member NatUPNPDevice.igd_status] is `IGD_STATUS_OK` and
///   [member NatUPNPDevice.double_nat] is `true`.
/// - Every value sent to the router is XML-escaped.
/// - Filters like `"rootdevice"` or `"WANIPConnection"` find the devices that match (with
///   the engine they return an empty list when the router answers the IGD search).
/// - IPv6 addresses are never truncated.
/// - New: [method discover_async], [method add_port_mapping_async],
///   [method delete_port_mapping_async], [method query_external_address_async] and their
///   signals, plus [signal device_found].
///
/// Async rules: argument errors are printed at once and also reported through the signal on
/// a later frame (never inside the call), so `await` right after the call always catches the
/// result. The operations of one object run one after the other on the shared worker pool,
/// and their signals arrive in call order. The object's state (the device list) only changes
/// on the main thread when a result is delivered; while an operation runs, getters see the
/// old state. Freeing the object cancels its pending operations; no signal is emitted then.
/// Results are delivered on `SceneTree.process_frame`, on the main thread (signal handlers
/// run there), so a SceneTree main loop is needed.
///
/// The mapping twins ([method add_port_mapping_async], [method delete_port_mapping_async],
/// [method query_external_address_async]) pick the gateway ([method get_gateway]) **at call
/// time**, like the blocking methods: called while [method discover_async] still runs, they
/// see the old device list (usually none: result 26). Await the discovery first:
/// [codeblock]
/// upnp.discover_async()
/// if await upnp.discover_completed == NatUPNP.UPNP_RESULT_SUCCESS:
///     upnp.add_port_mapping_async(7777)
/// [/codeblock]
///
/// Bounds (see docs/resources.md): the operations of all objects run on one shared pool of at
/// most 8 background threads, started on demand and ended when nothing is in flight; each
/// object's operations still run one after the other, in call order. An object holds at most
/// 4096 operations that are queued or not yet delivered: the next `*_async` call prints why
/// and returns `UPNP_RESULT_MEM_ALLOC_ERROR` (25) at once, queuing nothing (no signal follows).
/// Requests to one router take turns (at most 2 in flight), a refused or reset connection is
/// retried three times within 175 ms before it is `UPNP_RESULT_HTTP_ERROR` (23), and
/// discoveries that find the same router at the same time share one validation of it. At
/// most 256 results are delivered per frame over all objects; a larger burst continues on the
/// next frames, each object's results in call order. Each router request is bounded by a 2 s
/// connect and 4 s total timeout (plus at most as long again waiting for its turn at a busy
/// router), a discovery by its
/// `timeout` (a device whose checks had not finished by then is listed with the status the
/// engine gives it: `IGD_STATUS_HTTP_ERROR` before its description came, else
/// `IGD_STATUS_UNKNOWN_DEVICE`).
///
/// Quitting the game or freeing the object cancels its pending work at once, even a request
/// to a router that stopped answering: the connect, the send or the wait for the answer is
/// interrupted, and every background thread has ended before the library is unloaded.
///
/// Threads: as with the engine's class, a [Thread] may create, call and free `NatUPNP` (the
/// engine docs' [Thread] example works after renaming `UPNP.new()`): every blocking method, the
/// device list, the properties and the constants work on any thread, and objects may be handed
/// between threads. Two threads calling the same object take turns (a call waits while another
/// thread is inside a method of that object). The `*_async` methods are the exception: their
/// signals are delivered on the main thread, so off the main thread they print an error and
/// return `UPNP_RESULT_UNKNOWN_ERROR` (28) without queuing anything. They are also the better
/// way: no thread to start and join, and nothing blocks. Free an object whose async work is in
/// flight on the main thread. (The `engine-names` build, for engines without the upnp module,
/// supports no threads: its objects belong to the main thread.)
#[derive(GodotClass)]
#[cfg_attr(feature = "engine-names", class(base = RefCounted, init, rename = UPNP))]
#[cfg_attr(not(feature = "engine-names"), class(base = RefCounted, init, rename = NatUPNP))]
pub struct NatUpnp {
    /// The interface to send the SSDP search on: an IPv4 or IPv6 address, or (on Linux and
    /// macOS) an interface name. Empty lets the system choose. Same as the engine.
    #[var(set = set_discover_multicast_if, usage_flags = [STORAGE, EDITOR])]
    discover_multicast_if: GString,

    /// Source port of the SSDP search: 0 (or anything outside 1-65535) picks a free port,
    /// 1 means port 1900, other values that port. Same as the engine.
    #[var(set = set_discover_local_port, hint = RANGE, hint_string = "0,65535", usage_flags = [STORAGE, EDITOR])]
    discover_local_port: i32,

    /// Search over IPv6 (site-local `FF05::C`, then link-local `FF02::C`) instead of IPv4.
    /// Same as the engine.
    #[var(get = is_discover_ipv6, set = set_discover_ipv6, usage_flags = [STORAGE, EDITOR])]
    discover_ipv6: bool,

    devices: Vec<Gd<NatUpnpDevice>>,
    /// Devices announced by `device_found` during the async discovery in flight.
    found: Vec<Gd<NatUpnpDevice>>,
    worker: Worker,
    base: Base<RefCounted>,
}

#[godot_api]
impl NatUpnp {
    /// UPnP command or discovery was successful.
    #[constant]
    const UPNP_RESULT_SUCCESS: i32 = 0;
    /// Not authorized to use the command on the device (UPnP error 606 or 403).
    #[constant]
    const UPNP_RESULT_NOT_AUTHORIZED: i32 = 1;
    /// No port mapping was found. Never returned, as in the engine (error 730 is
    /// `UPNP_RESULT_UNKNOWN_ERROR`).
    #[constant]
    const UPNP_RESULT_PORT_MAPPING_NOT_FOUND: i32 = 2;
    /// Inconsistent parameters (UPnP error 733).
    #[constant]
    const UPNP_RESULT_INCONSISTENT_PARAMETERS: i32 = 3;
    /// No such entry in array (UPnP error 714), e.g. deleting a mapping that does not exist.
    #[constant]
    const UPNP_RESULT_NO_SUCH_ENTRY_IN_ARRAY: i32 = 4;
    /// The action failed (UPnP error 501).
    #[constant]
    const UPNP_RESULT_ACTION_FAILED: i32 = 5;
    /// The device does not allow wildcard values for the source IP address (UPnP error 715).
    #[constant]
    const UPNP_RESULT_SRC_IP_WILDCARD_NOT_PERMITTED: i32 = 6;
    /// The device does not allow wildcard values for the external port (UPnP error 716).
    #[constant]
    const UPNP_RESULT_EXT_PORT_WILDCARD_NOT_PERMITTED: i32 = 7;
    /// The device does not allow wildcard values for the internal port (UPnP error 732).
    #[constant]
    const UPNP_RESULT_INT_PORT_WILDCARD_NOT_PERMITTED: i32 = 8;
    /// The remote host value must be a wildcard (UPnP error 726).
    #[constant]
    const UPNP_RESULT_REMOTE_HOST_MUST_BE_WILDCARD: i32 = 9;
    /// The external port value must be a wildcard (UPnP error 727).
    #[constant]
    const UPNP_RESULT_EXT_PORT_MUST_BE_WILDCARD: i32 = 10;
    /// No port maps are available (UPnP error 728).
    #[constant]
    const UPNP_RESULT_NO_PORT_MAPS_AVAILABLE: i32 = 11;
    /// Conflict with another mechanism (UPnP error 729).
    #[constant]
    const UPNP_RESULT_CONFLICT_WITH_OTHER_MECHANISM: i32 = 12;
    /// Conflict with an existing port mapping, usually one for another client (UPnP error 718).
    #[constant]
    const UPNP_RESULT_CONFLICT_WITH_OTHER_MAPPING: i32 = 13;
    /// External and internal port values must be the same (UPnP error 724).
    #[constant]
    const UPNP_RESULT_SAME_PORT_VALUES_REQUIRED: i32 = 14;
    /// Only permanent leases are supported: use duration 0 (UPnP error 725).
    #[constant]
    const UPNP_RESULT_ONLY_PERMANENT_LEASE_SUPPORTED: i32 = 15;
    /// Invalid gateway: the device's `igd_status` is not `IGD_STATUS_OK`.
    #[constant]
    const UPNP_RESULT_INVALID_GATEWAY: i32 = 16;
    /// Invalid port.
    #[constant]
    const UPNP_RESULT_INVALID_PORT: i32 = 17;
    /// Invalid protocol: only `"UDP"` and `"TCP"` are accepted.
    #[constant]
    const UPNP_RESULT_INVALID_PROTOCOL: i32 = 18;
    /// Invalid duration: must not be negative.
    #[constant]
    const UPNP_RESULT_INVALID_DURATION: i32 = 19;
    /// Invalid arguments (UPnP error 402).
    #[constant]
    const UPNP_RESULT_INVALID_ARGS: i32 = 20;
    /// Invalid response.
    #[constant]
    const UPNP_RESULT_INVALID_RESPONSE: i32 = 21;
    /// Invalid parameter (a [method discover] argument).
    #[constant]
    const UPNP_RESULT_INVALID_PARAM: i32 = 22;
    /// HTTP error: the router could not be reached or gave no usable answer.
    #[constant]
    const UPNP_RESULT_HTTP_ERROR: i32 = 23;
    /// Socket error (discovery only).
    #[constant]
    const UPNP_RESULT_SOCKET_ERROR: i32 = 24;
    /// Error allocating memory.
    #[constant]
    const UPNP_RESULT_MEM_ALLOC_ERROR: i32 = 25;
    /// No gateway available: no device in the list is a valid gateway.
    #[constant]
    const UPNP_RESULT_NO_GATEWAY: i32 = 26;
    /// No devices available: nothing answered the discovery.
    #[constant]
    const UPNP_RESULT_NO_DEVICES: i32 = 27;
    /// Unknown error.
    #[constant]
    const UPNP_RESULT_UNKNOWN_ERROR: i32 = 28;

    /// Emitted when [method discover_async] finishes, with the same result as
    /// [method discover] would return. The device list has been replaced just before.
    #[signal]
    fn discover_completed(result: i32);

    /// Emitted by [method discover_async] for each device as soon as it has been checked, on
    /// the main thread and before [signal discover_completed]. The same objects make up the
    /// device list once discovery completes; until then they are not in the list.
    #[signal]
    fn device_found(device: Gd<NatUpnpDevice>);

    /// Emitted by [method add_port_mapping_async]: the result (as [method add_port_mapping]
    /// would return it), the external port and the protocol as passed.
    #[signal]
    fn port_mapping_added(result: i32, port: i32, proto: GString);

    /// Emitted by [method delete_port_mapping_async]: the result, the port and the protocol
    /// as passed.
    #[signal]
    fn port_mapping_deleted(result: i32, port: i32, proto: GString);

    /// Emitted by [method query_external_address_async]: result 0 and the address on success,
    /// else the failure's result (26 when there is no gateway) and an empty string.
    #[signal]
    fn external_address_queried(result: i32, address: GString);

    /// Sets [member discover_multicast_if]. Same as the engine.
    #[func]
    fn set_discover_multicast_if(&mut self, m_if: GString) {
        self.discover_multicast_if = m_if;
    }

    /// Sets [member discover_local_port]. Any value is stored, as in the engine.
    #[func]
    fn set_discover_local_port(&mut self, port: i32) {
        self.discover_local_port = port;
    }

    /// Sets [member discover_ipv6].
    #[func]
    fn set_discover_ipv6(&mut self, ipv6: bool) {
        self.discover_ipv6 = ipv6;
    }

    /// Returns [member discover_ipv6]. Same as the engine.
    #[func]
    fn is_discover_ipv6(&self) -> bool {
        self.discover_ipv6
    }

    /// The number of devices in the list. Same as the engine.
    #[func]
    fn get_device_count(&self) -> i32 {
        self.devices.len() as i32
    }

    /// The device at `index`, or null with the error "Index index = i is out of bounds
    /// (devices.size() = n)." Same as the engine.
    #[func]
    fn get_device(&self, index: i32) -> Option<Gd<NatUpnpDevice>> {
        validation::check_index(index, self.devices.len()).map(|i| self.devices[i].clone())
    }

    /// Appends `device` to the list (null: error, nothing added). Same as the engine.
    #[func]
    fn add_device(&mut self, device: Option<Gd<NatUpnpDevice>>) {
        match device {
            Some(device) => self.devices.push(device),
            None => validation::report_null_device(),
        }
    }

    /// Replaces the device at `index` (bad index or null: error, nothing changed; the index
    /// is checked first). Same as the engine.
    #[func]
    fn set_device(&mut self, index: i32, device: Option<Gd<NatUpnpDevice>>) {
        let Some(index) = validation::check_index(index, self.devices.len()) else {
            return;
        };
        match device {
            Some(device) => self.devices[index] = device,
            None => validation::report_null_device(),
        }
    }

    /// Removes the device at `index` (bad index: error, nothing changed). Same as the engine.
    #[func]
    fn remove_device(&mut self, index: i32) {
        if let Some(index) = validation::check_index(index, self.devices.len()) {
            self.devices.remove(index);
        }
    }

    /// Empties the device list. Same as the engine.
    #[func]
    fn clear_devices(&mut self) {
        self.devices.clear();
    }

    /// The first device in the list that is a valid gateway
    /// ([method NatUPNPDevice.is_valid_gateway]), or null. With an empty list it prints
    /// "Couldn't find any UPNPDevices." Same as the engine (hand-added devices count too).
    #[func]
    pub fn get_gateway(&self) -> Option<Gd<NatUpnpDevice>> {
        if self.devices.is_empty() {
            godot_error!("Couldn't find any UPNPDevices.");
            return None;
        }
        self.devices.iter().find(|device| device.bind().is_valid_gateway()).cloned()
    }

    /// Searches the local network for UPnP devices (by default Internet Gateway Devices) and
    /// replaces the device list with what answered. Blocks until done. Returns a
    /// `UPNP_RESULT_*` value: 0 when answers came (even if none matched `device_filter`),
    /// 27 when nothing answered, 22 for a negative `timeout` or a `ttl` outside 0-255 (the
    /// list is then left alone), 24 for a socket error, 28 for an unknown interface.
    ///
    /// `timeout` (ms) is the longest time to listen; `ttl` the multicast TTL; `device_filter`
    /// keeps only answers whose search target contains that text (empty keeps all).
    ///
    /// Differences from the engine: returns as soon as the gateways have answered and been
    /// checked instead of always listening the whole `timeout` per search target (about 8 s
    /// when nothing answers); timeouts below 1000 ms are honoured; each device gets its own
    /// data; filters like `"rootdevice"` find the matching devices; a gateway behind another
    /// NAT is `IGD_STATUS_OK` with `double_nat`.
    #[func]
    fn discover(
        &mut self,
        #[opt(default = 2000)] timeout: i32,
        #[opt(default = 2)] ttl: i32,
        #[opt(default = "InternetGatewayDevice")] device_filter: GString,
    ) -> i32 {
        if let Err(result) = validation::check_discover(timeout, ttl) {
            return result.code();
        }
        self.devices.clear();
        let options = self.discover_options(timeout, ttl, &device_filter);
        match operations::discover(&options, &CancelToken::new(), &mut |_| {}) {
            Ok(found) => {
                self.devices = found.iter().map(|d| DeviceData::from_discovered(d).to_device()).collect();
                UpnpResult::Success.code()
            }
            Err((code, _)) => code,
        }
    }

    /// Adds a port mapping on the gateway ([method get_gateway]). Returns
    /// `UPNP_RESULT_NO_GATEWAY` (26) when there is none, before checking any argument, else
    /// what [method NatUPNPDevice.add_port_mapping] returns. Blocks for one request.
    /// Same as the engine apart from the device-level improvements (XML escaping).
    #[func]
    fn add_port_mapping(
        &self,
        port: i32,
        #[opt(default = 0)] port_internal: i32,
        #[opt(default = "")] desc: GString,
        #[opt(default = "UDP")] proto: GString,
        #[opt(default = 0)] duration: i32,
    ) -> i32 {
        match self.get_gateway() {
            Some(gateway) => gateway.bind().add_port_mapping(port, port_internal, desc, proto, duration),
            None => UpnpResult::NoGateway.code(),
        }
    }

    /// Deletes a port mapping on the gateway ([method get_gateway]). Returns
    /// `UPNP_RESULT_NO_GATEWAY` (26) when there is none, else what
    /// [method NatUPNPDevice.delete_port_mapping] returns. Blocks for one request. Same as the
    /// engine.
    #[func]
    fn delete_port_mapping(&self, port: i32, #[opt(default = "UDP")] proto: GString) -> i32 {
        match self.get_gateway() {
            Some(gateway) => gateway.bind().delete_port_mapping(port, proto),
            None => UpnpResult::NoGateway.code(),
        }
    }

    /// The gateway's external (WAN) address, or `""` when there is no gateway or the request
    /// fails ("Couldn't get external IP address."). Blocks for one request. Differences from
    /// the engine: the address is never truncated to 15 characters (IPv6 works).
    #[func]
    fn query_external_address(&self) -> GString {
        match self.get_gateway() {
            Some(gateway) => gateway.bind().query_external_address(),
            None => GString::new(),
        }
    }

    /// Non-blocking [method discover]: returns at once, emits [signal device_found] for each
    /// device as it is checked, then replaces the device list and emits
    /// [signal discover_completed] with the same result [method discover] would return.
    ///
    /// Argument errors (22) are printed at once and reported through
    /// [signal discover_completed] on a later frame, leaving the list alone, so
    /// `var result = await upnp.discover_completed` right after the call always works. The
    /// discovery settings are copied at call time. Until completion the list keeps its old
    /// content. Freeing the object cancels the discovery (no signal). Returns
    /// `UPNP_RESULT_SUCCESS` (0) when queued, or 28 without queuing anything when called off the
    /// main thread (see the class description, Threads), or 25 without queuing anything when
    /// the object's queue is full (see the class description, Bounds). New in gdnat.
    #[func]
    fn discover_async(
        &mut self,
        #[opt(default = 2000)] timeout: i32,
        #[opt(default = 2)] ttl: i32,
        #[opt(default = "InternetGatewayDevice")] device_filter: GString,
    ) -> i32 {
        if let Err(refused) = main_thread::refuse_async_off_main_thread(Self::class_id(), "discover_async") {
            return refused;
        }
        test_hooks::panic_if_requested(Site::Func);
        let job = match validation::check_discover(timeout, ttl) {
            Ok(()) => Job::Discover(DiscoverOptions {
                // The time of the call: a discovery that waits in the pool's queue during a
                // burst still shares the burst's validations (docs/resources.md).
                requested_at: Some(Instant::now()),
                ..self.discover_options(timeout, ttl, &device_filter)
            }),
            Err(result) => Job::Echo(Outcome::Discovered { code: result.code(), devices: None }),
        };
        self.submit(job, "discover_async")
    }

    /// Non-blocking [method add_port_mapping]: returns at once and emits
    /// [signal port_mapping_added] later with the same result.
    ///
    /// The gateway is the one [method get_gateway] selects **at call time**: its control URL,
    /// service type and local address are copied then, so later changes to the device list do
    /// not affect this operation. No gateway gives 26, argument errors their codes; both are
    /// reported through the signal on a later frame. Operations of one object run in call
    /// order. Returns 0 when queued, 28 off the main thread, 25 when the object's queue is full
    /// (nothing queued then). New in gdnat.
    #[func]
    fn add_port_mapping_async(
        &mut self,
        port: i32,
        #[opt(default = 0)] port_internal: i32,
        #[opt(default = "")] desc: GString,
        #[opt(default = "UDP")] proto: GString,
        #[opt(default = 0)] duration: i32,
    ) -> i32 {
        if let Err(refused) = main_thread::refuse_async_off_main_thread(Self::class_id(), "add_port_mapping_async") {
            return refused;
        }
        let proto_text = convert::text_of(&proto);
        let echo = |result: UpnpResult| Job::Echo(Outcome::Added { report: Report::of(result), port, proto: proto_text.clone() });
        let job = match self.get_gateway() {
            None => echo(UpnpResult::NoGateway),
            Some(device) => {
                let device = device.bind();
                match validation::check_add(device.status(), port, port_internal, &convert::text_of(&desc), &proto_text, duration) {
                    Ok(args) => Job::Add { gateway: device.gateway().clone(), args, proto: proto_text.clone() },
                    Err(result) => echo(result),
                }
            }
        };
        self.submit(job, "add_port_mapping_async")
    }

    /// Non-blocking [method delete_port_mapping]: returns at once and emits
    /// [signal port_mapping_deleted] later with the same result. The gateway is selected at
    /// call time, as for [method add_port_mapping_async]. Returns 0 when queued, 28 off the main
    /// thread, 25 when the object's queue is full (nothing queued then). New in gdnat.
    #[func]
    fn delete_port_mapping_async(&mut self, port: i32, #[opt(default = "UDP")] proto: GString) -> i32 {
        if let Err(refused) = main_thread::refuse_async_off_main_thread(Self::class_id(), "delete_port_mapping_async") {
            return refused;
        }
        let proto_text = convert::text_of(&proto);
        let echo = |result: UpnpResult| Job::Echo(Outcome::Deleted { report: Report::of(result), port, proto: proto_text.clone() });
        let job = match self.get_gateway() {
            None => echo(UpnpResult::NoGateway),
            Some(device) => match validation::check_delete(port, &proto_text) {
                Ok((checked_port, protocol)) => {
                    Job::Delete { gateway: device.bind().gateway().clone(), port: checked_port, protocol, proto: proto_text.clone() }
                }
                Err(result) => echo(result),
            },
        };
        self.submit(job, "delete_port_mapping_async")
    }

    /// Non-blocking [method query_external_address]: returns at once and emits
    /// [signal external_address_queried] later: 0 and the address on success, else the
    /// failure's result (26 without a gateway) and `""`. The gateway is selected at call
    /// time. Returns 0 when queued, 28 off the main thread, 25 when the object's queue is full
    /// (nothing queued then). New in gdnat.
    #[func]
    fn query_external_address_async(&mut self) -> i32 {
        if let Err(refused) = main_thread::refuse_async_off_main_thread(Self::class_id(), "query_external_address_async") {
            return refused;
        }
        let job = match self.get_gateway() {
            None => Job::Echo(Outcome::Queried { report: Report::of(UpnpResult::NoGateway), address: String::new() }),
            Some(device) => Job::Query { gateway: device.bind().gateway().clone() },
        };
        self.submit(job, "query_external_address_async")
    }
}

impl NatUpnp {
    fn discover_options(&self, timeout: i32, ttl: i32, device_filter: &GString) -> DiscoverOptions {
        let multicast_if = self.discover_multicast_if.to_string();
        DiscoverOptions {
            timeout: Duration::from_millis(timeout.max(0) as u64),
            ttl: ttl.clamp(0, 255) as u32,
            multicast_if: (!multicast_if.is_empty()).then_some(multicast_if),
            local_port: LocalPort::from_engine(self.discover_local_port.into()),
            ipv6: self.discover_ipv6,
            device_filter: device_filter.to_string(),
            ..DiscoverOptions::default()
        }
    }

    /// Queues `job` for `method` (see [`delivery::submit`]): 0, or 25 when the queue is full.
    fn submit(&mut self, job: Job, method: &str) -> i32 {
        let id = self.base().instance_id();
        delivery::submit::<Self>(&mut self.worker, id, method, job)
    }
}

delivery::impl_mapping_signals!(NatUpnp);

impl AsyncHost for NatUpnp {
    fn worker_mut(&mut self) -> &mut Worker {
        &mut self.worker
    }

    fn deliver(this: &mut Gd<Self>, outcome: Outcome) {
        match outcome {
            Outcome::DeviceFound(data) => {
                let device = data.to_device();
                this.bind_mut().found.push(device.clone());
                this.signals().device_found().emit(&device);
            }
            Outcome::Discovered { code, devices } => {
                if let Some(slots) = devices {
                    let found = std::mem::take(&mut this.bind_mut().found);
                    let list = slots
                        .into_iter()
                        .filter_map(|slot| match slot {
                            DeviceSlot::Found(index) => found.get(index).cloned(),
                            DeviceSlot::New(data) => Some(data.to_device()),
                        })
                        .collect();
                    this.bind_mut().devices = list;
                }
                this.signals().discover_completed().emit(code);
            }
            mapping => delivery::deliver_mapping_outcome(this, mapping),
        }
    }
}
