//! The `NatUPNPDevice` class: one UPnP device (usually an Internet Gateway Device), its
//! properties, the blocking port-mapping methods of the engine's `UPNPDevice`, and their
//! `*_async` twins.

use gdnat_igd::CancelToken;
use godot::prelude::*;

use crate::convert::{self, gateway_from, DeviceData};
use crate::delivery::{self, print_report, AsyncHost};
use crate::main_thread;
use crate::operations::{self, Report};
use crate::validation;
use crate::worker::{Job, Outcome, Worker};

/// One UPnP device found by [NatUPNP.discover] or built by hand: gdnat's drop-in for the
/// engine's `UPNPDevice`.
///
/// Same properties, methods, arguments, defaults, result codes and error messages as the
/// engine class. The port-mapping commands talk to [member igd_control_url] in the
/// [member igd_service_type] namespace and forward to [member igd_our_addr]; any device with
/// [member igd_status] `IGD_STATUS_OK` can be used, including one built with `new()` and
/// filled in by hand.
///
/// Differences from the engine's `UPNPDevice` (all deliberate improvements):
/// - After a discovery every device carries its **own** control URL, service type, local
///   address and status. The engine gives every reachable device the data of the best gateway
///   in the whole answer list.
/// - A connected gateway whose WAN address is private or reserved (double NAT, carrier-grade
///   NAT) is `IGD_STATUS_OK`, with [member double_nat] set. The engine marks it
///   `IGD_STATUS_DISCONNECTED` and refuses to use it.
/// - Every value sent to the router is XML-escaped (a description with `<` or `&` works).
/// - IPv6 addresses in [member igd_our_addr] and from [method query_external_address] are
///   never truncated (the engine cuts them to 15 characters). A global IPv6 WAN address is
///   public: `IGD_STATUS_OK` without [member double_nat] (the engine says DISCONNECTED).
/// - An external address that is no IP address, `0.0.0.0` or a loopback address is a failure
///   (`""` and an error; `UPNP_RESULT_INVALID_RESPONSE` from the async twin). The engine passes
///   such text on as the address.
/// - New: the non-blocking [method add_port_mapping_async], [method delete_port_mapping_async]
///   and [method query_external_address_async], which report through signals.
/// - New: the read-only property [member double_nat].
///
/// Threads: the blocking methods block their caller for one HTTP exchange (bounded by a 2 s
/// connect and 4 s total timeout). As with the engine's class, a [Thread] may create, call and
/// free a device (every method and property but the `*_async` ones); two threads calling the
/// same device take turns. The `*_async` methods never block and need no thread; their signals
/// are emitted on the main thread, so they are refused off the main thread (an error is printed,
/// they return `UPNP_RESULT_UNKNOWN_ERROR`, 28, and nothing is queued). At most 256 results are
/// delivered per frame over all objects (the rest on the next frames, in call order). The
/// device's own operations run one after the other on the shared worker pool (at most 8 threads
/// for all objects); at most 4096 may wait, and a call on a full queue prints why and returns
/// `UPNP_RESULT_MEM_ALLOC_ERROR` (25) without queuing anything (docs/resources.md). Freeing the
/// device cancels its operations. (The `engine-names` build supports no threads.)
#[derive(GodotClass)]
#[cfg_attr(feature = "engine-names", class(base = RefCounted, init, rename = UPNPDevice))]
#[cfg_attr(not(feature = "engine-names"), class(base = RefCounted, init, rename = NatUPNPDevice))]
pub struct NatUpnpDevice {
    /// URL of the device's description (the SSDP `LOCATION` header).
    #[var(set = set_description_url, usage_flags = [STORAGE, EDITOR])]
    description_url: GString,

    /// The SSDP search target the device answered with (`ST`), for example
    /// `urn:schemas-upnp-org:device:InternetGatewayDevice:1`.
    #[var(set = set_service_type, usage_flags = [STORAGE, EDITOR])]
    service_type: GString,

    /// Absolute control URL of the device's own WANIPConnection or WANPPPConnection service.
    /// Empty unless [member igd_status] is `IGD_STATUS_OK`.
    #[var(set = set_igd_control_url, usage_flags = [STORAGE, EDITOR])]
    igd_control_url: GString,

    /// Service type of that connection service, for example
    /// `urn:schemas-upnp-org:service:WANIPConnection:1`. Empty unless the device is valid.
    #[var(set = set_igd_service_type, usage_flags = [STORAGE, EDITOR])]
    igd_service_type: GString,

    /// Our local IP address on the connection that reached this device; port mappings forward
    /// to it. Never truncated (IPv6 too). Empty unless the device is valid.
    #[var(set = set_igd_our_addr, usage_flags = [STORAGE, EDITOR])]
    igd_our_addr: GString,

    /// The device's `IGD_STATUS_*` value. `IGD_STATUS_OK` (0) means port mapping can be
    /// attempted. Unlike the engine, a connected gateway behind another NAT is also
    /// `IGD_STATUS_OK` (see [member double_nat]). Default `IGD_STATUS_UNKNOWN_ERROR` (9).
    ///
    /// Stored as the engine stores it: an unsigned 32-bit value, so `-1` reads back as
    /// `4294967295` and `4294967301` (2^32 + 5) as `5`.
    #[var(set = set_igd_status, hint = ENUM, hint_string = "", usage_flags = [STORAGE, EDITOR])]
    #[init(val = 9)]
    igd_status: i64,

    /// Read-only. `true` when discovery found this gateway connected but its WAN address is
    /// private, reserved or unknown: another NAT (a second router, or the provider's
    /// carrier-grade NAT) sits between it and the Internet.
    ///
    /// Such a gateway is still `IGD_STATUS_OK` and accepts port mappings, but those mappings
    /// only open the port on its own outer network, not on the Internet; peers outside need
    /// the outer NAT opened as well (or a relay). The engine instead reports such a device as
    /// `IGD_STATUS_DISCONNECTED`. `false` for public gateways and for devices built by hand.
    /// This property is new in gdnat (the engine's `UPNPDevice` has no such property).
    #[var(get = is_double_nat, no_set, usage_flags = [EDITOR, READ_ONLY])]
    double_nat: bool,

    /// The three `igd_*` strings as the core's plain data, rebuilt by their setters (not per
    /// call: converting three Godot strings cost about as much as building the SOAP request).
    #[init(val = gdnat_igd::Gateway::new("", "", ""))]
    gateway: gdnat_igd::Gateway,

    worker: Worker,
    base: Base<RefCounted>,
}

#[godot_api]
impl NatUpnpDevice {
    /// OK.
    #[constant]
    const IGD_STATUS_OK: i32 = 0;
    /// HTTP error: the description could not be fetched.
    #[constant]
    const IGD_STATUS_HTTP_ERROR: i32 = 1;
    /// Empty HTTP response.
    #[constant]
    const IGD_STATUS_HTTP_EMPTY: i32 = 2;
    /// Deprecated in the engine ("no longer used"); never set.
    #[constant]
    const IGD_STATUS_NO_URLS: i32 = 3;
    /// Not a valid IGD: the device has no WAN connection service.
    #[constant]
    const IGD_STATUS_NO_IGD: i32 = 4;
    /// Disconnected. The engine sets this for a gateway with a private WAN address; gdnat
    /// reports such a gateway as `IGD_STATUS_OK` with [member double_nat] instead.
    #[constant]
    const IGD_STATUS_DISCONNECTED: i32 = 5;
    /// Unknown device: an IGD whose connection reports not connected.
    #[constant]
    const IGD_STATUS_UNKNOWN_DEVICE: i32 = 6;
    /// Invalid control.
    #[constant]
    const IGD_STATUS_INVALID_CONTROL: i32 = 7;
    /// Deprecated in the engine ("no longer used"); never set.
    #[constant]
    const IGD_STATUS_MALLOC_ERROR: i32 = 8;
    /// Unknown error; the default of a new device.
    #[constant]
    const IGD_STATUS_UNKNOWN_ERROR: i32 = 9;

    /// Emitted by [method add_port_mapping_async] with the result (a `UPNP_RESULT_*` value of
    /// [NatUPNP], the same as [method add_port_mapping] would return), the external port and
    /// the protocol as passed.
    #[signal]
    fn port_mapping_added(result: i32, port: i32, proto: GString);

    /// Emitted by [method delete_port_mapping_async] with the result, the port and the
    /// protocol as passed.
    #[signal]
    fn port_mapping_deleted(result: i32, port: i32, proto: GString);

    /// Emitted by [method query_external_address_async]: result 0 and the address on success,
    /// else the failure's `UPNP_RESULT_*` value and an empty string.
    #[signal]
    fn external_address_queried(result: i32, address: GString);

    /// Sets [member description_url]. Same as the engine.
    #[func]
    fn set_description_url(&mut self, url: GString) {
        self.description_url = url;
    }

    /// Sets [member service_type]. Same as the engine.
    #[func]
    fn set_service_type(&mut self, type_: GString) {
        self.service_type = type_;
    }

    /// Sets [member igd_control_url]. Same as the engine.
    #[func]
    fn set_igd_control_url(&mut self, url: GString) {
        self.igd_control_url = url;
        self.gateway = gateway_from(&self.igd_control_url, &self.igd_service_type, &self.igd_our_addr);
    }

    /// Sets [member igd_service_type]. Same as the engine.
    #[func]
    fn set_igd_service_type(&mut self, type_: GString) {
        self.igd_service_type = type_;
        self.gateway = gateway_from(&self.igd_control_url, &self.igd_service_type, &self.igd_our_addr);
    }

    /// Sets [member igd_our_addr]. Same as the engine.
    #[func]
    fn set_igd_our_addr(&mut self, addr: GString) {
        self.igd_our_addr = addr;
        self.gateway = gateway_from(&self.igd_control_url, &self.igd_service_type, &self.igd_our_addr);
    }

    /// Sets [member igd_status]. Any integer is accepted and its low 32 bits are stored
    /// unsigned, as in the engine (whose enum property has that storage): `-1` reads back as
    /// `4294967295`, `4294967296` as `0` (which is then a valid gateway, as in the engine).
    #[func]
    fn set_igd_status(&mut self, status: i64) {
        self.igd_status = engine_stored_status(status);
    }

    /// Returns [member double_nat]. New in gdnat.
    #[func]
    fn is_double_nat(&self) -> bool {
        self.double_nat
    }

    /// `true` when [member igd_status] is `IGD_STATUS_OK`; nothing else is checked. Same as
    /// the engine.
    #[func]
    pub fn is_valid_gateway(&self) -> bool {
        self.igd_status == 0
    }

    /// Asks the gateway for its external (WAN) address. Blocks for one request.
    ///
    /// Returns `""` when the device is not valid (error "The Internet Gateway Device must be
    /// valid.") or the request fails (error "Couldn't get external IP address.").
    /// Differences from the engine: the address is never truncated (the engine keeps only 15
    /// characters), and text that is no IP address, `0.0.0.0` or a loopback address is a failure
    /// (`""`, with the router's value named in the error) instead of being returned.
    #[func]
    pub fn query_external_address(&self) -> GString {
        if validation::check_valid_gateway(self.status()).is_err() {
            return GString::new();
        }
        let (report, address) = operations::query_external_address(self.gateway(), &CancelToken::new());
        print_report(&report);
        GString::from(address.as_str())
    }

    /// Adds a port mapping on this gateway: external `port` (1-65535) to `port_internal`
    /// (0 = same as `port`) on [member igd_our_addr], protocol `"UDP"` or `"TCP"` (exactly),
    /// lease `duration` seconds (0 = permanent). Blocks for one request. Returns a
    /// `UPNP_RESULT_*` value.
    ///
    /// Checks in the engine's order: device valid (16), port (17), internal port (17),
    /// protocol (18), duration (19). An empty `desc` is sent as `"libminiupnpc"` like the
    /// engine. Differences from the engine: the description is XML-escaped, so any text works.
    #[func]
    pub fn add_port_mapping(
        &self,
        port: i32,
        #[opt(default = 0)] port_internal: i32,
        #[opt(default = "")] desc: GString,
        #[opt(default = "UDP")] proto: GString,
        #[opt(default = 0)] duration: i32,
    ) -> i32 {
        let args = match validation::check_add(
            self.status(),
            port,
            port_internal,
            &convert::text_of(&desc),
            &convert::text_of(&proto),
            duration,
        ) {
            Ok(args) => args,
            Err(result) => return result.code(),
        };
        let report = operations::add_port_mapping(self.gateway(), &args, &CancelToken::new());
        print_report(&report);
        report.code
    }

    /// Deletes the port mapping for external `port` and `proto` on this gateway. Blocks for
    /// one request. Returns a `UPNP_RESULT_*` value; deleting a mapping that does not exist is
    /// usually `UPNP_RESULT_NO_SUCH_ENTRY_IN_ARRAY` (4).
    ///
    /// Checks port (17) and protocol (18); like the engine, the device's validity is not
    /// checked. Same as the engine otherwise.
    #[func]
    pub fn delete_port_mapping(&self, port: i32, #[opt(default = "UDP")] proto: GString) -> i32 {
        let (port, protocol) = match validation::check_delete(port, &convert::text_of(&proto)) {
            Ok(checked) => checked,
            Err(result) => return result.code(),
        };
        let report = operations::delete_port_mapping(self.gateway(), port, protocol, &CancelToken::new());
        print_report(&report);
        report.code
    }

    /// Non-blocking [method add_port_mapping]: returns at once and emits
    /// [signal port_mapping_added] later with the same result code.
    ///
    /// The arguments are checked at once (errors are printed at once), but even an argument
    /// error is reported through the signal, on a later frame, so
    /// `var r = await device.port_mapping_added` right after the call always works. The
    /// device's properties are copied at call time. Operations of one object run one after the
    /// other, and their signals come in call order. Freeing the device cancels its pending
    /// operations (no signal then). Returns `UPNP_RESULT_SUCCESS` (0) when queued, or 28 without
    /// queuing anything when called off the main thread, or 25 without queuing anything when
    /// the device's queue is full (see the class description). New in gdnat.
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
        let job = match validation::check_add(self.status(), port, port_internal, &convert::text_of(&desc), &proto_text, duration) {
            Ok(args) => Job::Add { gateway: self.gateway().clone(), args, proto: proto_text },
            Err(result) => Job::Echo(Outcome::Added { report: Report::of(result), port, proto: proto_text }),
        };
        self.submit(job, "add_port_mapping_async")
    }

    /// Non-blocking [method delete_port_mapping]: returns at once and emits
    /// [signal port_mapping_deleted] later with the same result code. Same rules as
    /// [method add_port_mapping_async] (0 when queued, 28 off the main thread, 25 on a full queue). New in gdnat.
    #[func]
    fn delete_port_mapping_async(&mut self, port: i32, #[opt(default = "UDP")] proto: GString) -> i32 {
        if let Err(refused) = main_thread::refuse_async_off_main_thread(Self::class_id(), "delete_port_mapping_async") {
            return refused;
        }
        let proto_text = convert::text_of(&proto);
        let job = match validation::check_delete(port, &proto_text) {
            Ok((checked_port, protocol)) => {
                Job::Delete { gateway: self.gateway().clone(), port: checked_port, protocol, proto: proto_text }
            }
            Err(result) => Job::Echo(Outcome::Deleted { report: Report::of(result), port, proto: proto_text }),
        };
        self.submit(job, "delete_port_mapping_async")
    }

    /// Non-blocking [method query_external_address]: returns at once and emits
    /// [signal external_address_queried] later: result 0 and the address on success, else
    /// the failure's `UPNP_RESULT_*` value (16 for an invalid device, 23 when the router could
    /// not be reached, ...) and `""`. Same rules as [method add_port_mapping_async] (0 when
    /// queued, 28 off the main thread, 25 on a full queue). New in gdnat.
    #[func]
    fn query_external_address_async(&mut self) -> i32 {
        if let Err(refused) = main_thread::refuse_async_off_main_thread(Self::class_id(), "query_external_address_async") {
            return refused;
        }
        let job = match validation::check_valid_gateway(self.status()) {
            Ok(()) => Job::Query { gateway: self.gateway().clone() },
            Err(result) => Job::Echo(Outcome::Queried { report: Report::of(result), address: String::new() }),
        };
        self.submit(job, "query_external_address_async")
    }
}

impl NatUpnpDevice {
    /// A device with the given properties (used for discovered devices).
    pub fn from_data(base: Base<RefCounted>, data: DeviceData) -> Self {
        let gateway = gdnat_igd::Gateway::new(data.igd_control_url.as_str(), data.igd_service_type.as_str(), data.igd_our_addr.as_str());
        Self {
            description_url: data.description_url.as_str().into(),
            service_type: data.service_type.as_str().into(),
            igd_control_url: data.igd_control_url.as_str().into(),
            igd_service_type: data.igd_service_type.as_str().into(),
            igd_our_addr: data.igd_our_addr.as_str().into(),
            igd_status: engine_stored_status(i64::from(data.igd_status)),
            double_nat: data.double_nat,
            gateway,
            worker: Worker::default(),
            base,
        }
    }

    /// The device's `igd_status` for the validation code, which only tells 0 (valid) from
    /// anything else: a stored value above `i32::MAX` (only a script can set one) becomes
    /// `i32::MAX`, still not valid.
    pub fn status(&self) -> i32 {
        i32::try_from(self.igd_status).unwrap_or(i32::MAX)
    }

    /// The connection service this device names, as plain data.
    pub fn gateway(&self) -> &gdnat_igd::Gateway {
        &self.gateway
    }

    /// Queues `job` for `method` (see [`delivery::submit`]): 0, or 25 when the queue is full.
    fn submit(&mut self, job: Job, method: &str) -> i32 {
        let id = self.base().instance_id();
        delivery::submit::<Self>(&mut self.worker, id, method, job)
    }
}

impl AsyncHost for NatUpnpDevice {
    fn worker_mut(&mut self) -> &mut Worker {
        &mut self.worker
    }

    fn deliver(this: &mut Gd<Self>, outcome: Outcome) {
        // A device gets no discovery outcomes; anything else is a mapping or query result.
        delivery::deliver_mapping_outcome(this, outcome);
    }
}

delivery::impl_mapping_signals!(NatUpnpDevice);

impl DeviceData {
    /// A new Godot device object with these properties. Main thread only. (Here and not in
    /// [`crate::convert`], which stays a leaf module of plain data.)
    pub fn to_device(&self) -> Gd<NatUpnpDevice> {
        let data = self.clone();
        Gd::from_init_fn(|base| NatUpnpDevice::from_data(base, data))
    }
}

/// The value the engine's `UPNPDevice` keeps when `igd_status` is set to `value`: its enum
/// property is stored as an unsigned 32-bit integer, so only the low 32 bits survive and read
/// back zero-extended (`-1` -> `4294967295`, `2^32 + 5` -> `5`, `2^32` -> `0`).
fn engine_stored_status(value: i64) -> i64 {
    // Truncation to the low 32 bits is the engine's behaviour, on purpose.
    i64::from(value as u32)
}

#[cfg(test)]
mod tests {
    use super::engine_stored_status;

    #[test]
    fn status_keeps_the_engines_unsigned_32_bit_storage() {
        // Values read back from Godot 4.6.3's UPNPDevice after `igd_status = value`.
        let cases = [
            (42, 42),
            (0, 0),
            (5, 5),
            (-1, 4_294_967_295),
            (-2, 4_294_967_294),
            (4_294_967_296, 0),
            (4_294_967_301, 5),
            (2_147_483_648, 2_147_483_648),
            (-2_147_483_648, 2_147_483_648),
            (-2_147_483_649, 2_147_483_647),
            (i64::MAX, 4_294_967_295),
            (i64::MIN, 0),
        ];
        for (value, stored) in cases {
            assert_eq!(engine_stored_status(value), stored, "{value}");
        }
    }
}
