## Every public method of NatUPNP and NatUPNPDevice called from GDScript Threads (issue 12). In
## the default build a Thread may create, call and free both classes, as the engine's UPNP docs
## do; the *_async twins are refused off the main thread (result 28, an error printed, nothing
## queued, no signal). Objects cross between threads both ways.
##
## Run by tests/godot/run-async.sh (step thread-call) against gdnat-simgw igd2-public on
## loopback in a namespace of its own, through run-suite.sh, whose log check fails the run on any
## Rust panic ("[panic"), script error or leak report.
extends "res://tests/lib/suite.gd"

const Threads := preload("res://tests/lifecycle/threads.gd")
## External ports mapped (and deleted again) from the threads.
const PORT := 47411
const PORT_DEVICE := 47412
const PORT_HANDED := 47413
## What an *_async twin returns off the main thread (UPNP_RESULT_UNKNOWN_ERROR).
const REFUSED := 28
const ASYNC_CALLS := {
	"discover_async": [500],
	"add_port_mapping_async": [PORT, 0, "gdnat-thread", "UDP"],
	"delete_port_mapping_async": [PORT, "UDP"],
	"query_external_address_async": [],
}

## "Class.method" for every method a thread called, merged on the main thread.
var called := {}


## Calls methods by name (so the coverage check below knows every name) and keeps values.
class Calls:
	var names := {}
	var values := {}

	func on(obj: Object, method: String, args := []) -> Variant:
		names["%s.%s" % [obj.get_class(), method]] = true
		return obj.callv(method, args)

	func note(key: String, value) -> void:
		values[key] = value


func before_all() -> void:
	watchdog_seconds = 90.0


## Runs `fn` on a new Thread, waits for it, merges the names it called, returns its values.
func on_thread(fn: Callable) -> Dictionary:
	var thread := Thread.new()
	var t0 := Time.get_ticks_msec()
	thread.start(fn)
	var result = thread.wait_to_finish()
	print("test_threads: thread ran %d ms" % (Time.get_ticks_msec() - t0))
	if typeof(result) != TYPE_DICTIONARY:
		return {"<thread returned>": result}
	called.merge(result.get("names", {}))
	return result.get("values", {})


# ---- 1. The docs' pattern: everything created, used and freed on the thread ------------------

func _created_on_thread() -> Dictionary:
	var c := Calls.new()
	var u := NatUPNP.new()
	c.on(u, "set_discover_multicast_if", ["127.0.0.1"])
	c.note("discover_multicast_if", c.on(u, "get_discover_multicast_if"))
	c.on(u, "set_discover_local_port", [0])
	c.note("discover_local_port", c.on(u, "get_discover_local_port"))
	c.on(u, "set_discover_ipv6", [false])
	c.note("discover_ipv6", c.on(u, "is_discover_ipv6"))
	c.note("constants", [NatUPNP.UPNP_RESULT_NO_GATEWAY, NatUPNPDevice.IGD_STATUS_OK,
		ClassDB.class_get_integer_constant("NatUPNP", "UPNP_RESULT_UNKNOWN_ERROR")])
	c.note("add without gateway", c.on(u, "add_port_mapping", [PORT]))
	c.note("discover", c.on(u, "discover", [2000, 2, "InternetGatewayDevice"]))
	var count: int = c.on(u, "get_device_count")
	c.note("device count >= 1", count >= 1)
	c.note("count", count)
	var gw = c.on(u, "get_gateway")
	c.note("gateway valid", gw != null and gw.is_valid_gateway())
	c.note("add", c.on(u, "add_port_mapping", [PORT, 0, "gdnat-thread", "UDP"]))
	c.note("query not empty", str(c.on(u, "query_external_address")) != "")
	c.note("delete", c.on(u, "delete_port_mapping", [PORT, "UDP"]))
	for method in ASYNC_CALLS:
		c.note("NatUPNP.%s" % method, c.on(u, method, ASYNC_CALLS[method]))
	# The device list.
	var hand := NatUPNPDevice.new()
	c.on(u, "add_device", [hand])
	c.note("add_device", [c.on(u, "get_device_count"), c.on(u, "get_device", [count]) == hand])
	c.on(u, "set_device", [count, gw])
	c.note("set_device", c.on(u, "get_device", [count]) == gw)
	c.on(u, "remove_device", [count])
	c.note("remove_device", c.on(u, "get_device_count") == count)
	# The discovered gateway: every getter, the blocking calls, the refused twins.
	if gw == null:
		c.note("done", false)
		return {"names": c.names, "values": c.values}
	var props := []
	for getter in ["get_description_url", "get_service_type", "get_igd_control_url",
			"get_igd_service_type", "get_igd_our_addr", "get_igd_status", "is_double_nat", "is_valid_gateway"]:
		props.append(c.on(gw, getter))
	c.note("gateway props", props)
	c.note("device add", c.on(gw, "add_port_mapping", [PORT_DEVICE, 0, "gdnat-thread", "TCP", 600]))
	c.note("device query not empty", str(c.on(gw, "query_external_address")) != "")
	c.note("device delete", c.on(gw, "delete_port_mapping", [PORT_DEVICE, "TCP"]))
	for method in ASYNC_CALLS:
		if method != "discover_async":
			c.note("NatUPNPDevice.%s" % method, c.on(gw, method, ASYNC_CALLS[method]))
	# A hand-filled device: every setter, then a mapping through it.
	c.on(hand, "set_description_url", [gw.description_url])
	c.on(hand, "set_service_type", [gw.service_type])
	c.on(hand, "set_igd_control_url", [gw.igd_control_url])
	c.on(hand, "set_igd_service_type", [gw.igd_service_type])
	c.on(hand, "set_igd_our_addr", [gw.igd_our_addr])
	c.on(hand, "set_igd_status", [NatUPNPDevice.IGD_STATUS_OK])
	c.note("hand add/delete", [c.on(hand, "add_port_mapping", [PORT_DEVICE, 0, "gdnat-thread", "UDP"]),
		c.on(hand, "delete_port_mapping", [PORT_DEVICE, "UDP"])])
	c.on(u, "clear_devices")
	c.note("clear_devices", c.on(u, "get_device_count"))
	c.note("done", true)
	return {"names": c.names, "values": c.values}  # u, gw and hand are freed on this thread


func test_the_docs_pattern_created_used_and_freed_on_a_thread() -> void:
	var v := on_thread(_created_on_thread)
	check_eq(v.get("done"), true, "the thread function ran to its end")
	check_eq([v.get("discover_multicast_if"), v.get("discover_local_port"), v.get("discover_ipv6")],
		["127.0.0.1", 0, false], "properties set and read on the thread")
	check_eq(v.get("constants"), [26, 0, 28], "constants read on the thread")
	check_eq(v.get("add without gateway"), 26, "add_port_mapping before discover(): NO_GATEWAY")
	check_eq(v.get("discover"), 0, "discover() on the thread: SUCCESS")
	check_eq([v.get("device count >= 1"), v.get("gateway valid")], [true, true], "the device list has a valid gateway")
	check_eq([v.get("add"), v.get("query not empty"), v.get("delete")], [0, true, 0],
		"NatUPNP add / query / delete on the thread")
	check_eq([v.get("device add"), v.get("device query not empty"), v.get("device delete")], [0, true, 0],
		"NatUPNPDevice add / query / delete on the thread")
	check_eq(v.get("hand add/delete"), [0, 0], "a device filled in by hand on the thread maps and unmaps")
	var props: Array = v.get("gateway props", [])
	check(props.size() == 8 and str(props[0]).begins_with("http://127.0.0.1") and props[5] == 0 and props[7] == true,
		"the gateway's properties read on the thread: %s" % [props])
	check_eq([v.get("add_device"), v.get("set_device"), v.get("remove_device"), v.get("clear_devices")],
		[[v.get("count", -9) + 1, true], true, true, 0], "add/get/set/remove/clear_devices on the thread")
	for method in ASYNC_CALLS:
		check_eq(v.get("NatUPNP.%s" % method), REFUSED, "NatUPNP.%s() on a thread is refused with 28" % method)
		if method != "discover_async":
			check_eq(v.get("NatUPNPDevice.%s" % method), REFUSED, "NatUPNPDevice.%s() on a thread is refused with 28" % method)
	check_eq(Threads.count("gdnat-worker"), 0, "the refused twins queued nothing (no worker thread started)")


# ---- 2. A main-thread object used from a thread, then async on the main thread -------------

var _shared: NatUPNP


func _use_shared() -> Dictionary:
	var c := Calls.new()
	c.note("discover", c.on(_shared, "discover", [2000]))
	c.note("add", c.on(_shared, "add_port_mapping", [PORT, 0, "gdnat-thread", "UDP"]))
	c.note("delete", c.on(_shared, "delete_port_mapping", [PORT, "UDP"]))
	c.note("discover_async", c.on(_shared, "discover_async", [500]))
	return {"names": c.names, "values": c.values}


func test_a_main_thread_object_called_from_a_thread() -> void:
	_shared = NatUPNP.new()
	var signals := []
	_shared.discover_completed.connect(func(r): signals.append(r))
	var v := on_thread(_use_shared)
	check_eq([v.get("discover"), v.get("add"), v.get("delete")], [0, 0, 0], "discover/add/delete from a thread on a main-thread object")
	check_eq(v.get("discover_async"), REFUSED, "discover_async() from the thread is refused with 28")
	check(_shared.get_device_count() >= 1, "the main thread sees the device list the thread discovered (%d)" % _shared.get_device_count())
	for i in 10:
		await process_frame
	check_eq(signals, [], "the refused discover_async() emits nothing")
	check_eq(_shared.discover_async(2000), 0, "discover_async() on the main thread is accepted (0)")
	var result = await _shared.discover_completed
	check_eq(result, 0, "and its discover_completed arrives on the main thread")
	_shared = null


# ---- 3. Objects created on a thread, handed to the main thread -------------------------------

func _make_device() -> Dictionary:
	var c := Calls.new()
	var u := NatUPNP.new()
	c.on(u, "discover", [2000])
	return {"names": c.names, "values": {"gateway": c.on(u, "get_gateway"), "upnp": u}}


func test_objects_created_on_a_thread_work_on_the_main_thread() -> void:
	var v := on_thread(_make_device)
	var gw: NatUPNPDevice = v.get("gateway")
	var u: NatUPNP = v.get("upnp")
	v.clear()
	if not check(gw != null and u != null, "a thread returned its NatUPNP and gateway to the main thread"):
		return
	check_eq(gw.add_port_mapping_async(PORT_HANDED, 0, "gdnat-thread", "UDP"), 0, "its add_port_mapping_async() on the main thread is accepted")
	var added: Array = await gw.port_mapping_added
	check_eq(added, [0, PORT_HANDED, "UDP"], "port_mapping_added arrives on the main thread")
	u.delete_port_mapping_async(PORT_HANDED, "UDP")
	var deleted: Array = await u.port_mapping_deleted
	check_eq(deleted, [0, PORT_HANDED, "UDP"], "the thread's NatUPNP deletes it async on the main thread")


# ---- 4. Every public method was called from a thread ------------------------------------------

func test_zz_every_public_method_was_called_from_a_thread() -> void:
	for cls in ["NatUPNP", "NatUPNPDevice"]:
		var missing := []
		var total := 0
		for m in ClassDB.class_get_method_list(cls, true):
			total += 1
			if not called.has("%s.%s" % [cls, m.name]):
				missing.append(m.name)
		check(total > 10 and missing.is_empty(), "%s: all %d methods called from a thread (missing: %s)" % [cls, total, missing])
