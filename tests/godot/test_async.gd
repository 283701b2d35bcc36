## The async API of NatUPNP / NatUPNPDevice (discover_async, *_port_mapping_async,
## query_external_address_async and their signals), headless.
##
##   --target=sim       a gdnat-simgw gateway answers on loopback (run-async.sh starts it)
##   --target=testbed   the real miniupnpd test bed (run inside the igd-lan namespace)
##   --target=none      nothing answers (isolated namespace without a gateway)
##
## Run through tests/godot/run-async.sh, never in the machine's own network namespace.
extends "res://tests/lib/suite.gd"

var target := "sim"
## External ports used by the mapping tests (deleted again at the end).
const PORT_A := 47311
const PORT_B := 47312
const PORT_C := 47313


## Records every signal of one object in emission order, as [name, args...].
class Recorder:
	var events: Array = []

	func watch_upnp(u: Object) -> Recorder:
		u.discover_completed.connect(func(r): events.append(["discover_completed", r]))
		u.device_found.connect(func(d): events.append(["device_found", d]))
		_watch_mapping(u)
		return self

	func watch_device(d: Object) -> Recorder:
		_watch_mapping(d)
		return self

	func _watch_mapping(o: Object) -> void:
		o.port_mapping_added.connect(func(r, p, proto): events.append(["port_mapping_added", r, p, proto]))
		o.port_mapping_deleted.connect(func(r, p, proto): events.append(["port_mapping_deleted", r, p, proto]))
		o.external_address_queried.connect(func(r, a): events.append(["external_address_queried", r, a]))

	func names() -> Array:
		return events.map(func(e): return e[0])


## What deleting a mapping that does not exist gives: the simulated gateway answers UPnP error
## 714 (4, the IGD spec's answer), while the real miniupnpd with its nftables backend answers
## 200 OK (0), see the test-bed fixtures DeletePortMapping-nonexistent.
func missing_delete_result() -> int:
	return NatUPNP.UPNP_RESULT_SUCCESS if target == "testbed" else NatUPNP.UPNP_RESULT_NO_SUCH_ENTRY_IN_ARRAY


func before_all() -> void:
	target = arg("target", "sim")
	print("test_async: target=%s" % target)


## Waits (frame by frame) until `condition` is true or `seconds` passed. True if it became true.
func until(condition: Callable, seconds: float) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000.0)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return false
		await process_frame
	return true


## A hand-built device that passes the validity check (nothing listens at its URL).
func valid_device() -> NatUPNPDevice:
	var d := NatUPNPDevice.new()
	d.igd_status = NatUPNPDevice.IGD_STATUS_OK
	d.igd_control_url = "http://127.0.0.1:9/ctl"
	d.igd_service_type = "urn:schemas-upnp-org:service:WANIPConnection:1"
	d.igd_our_addr = "127.0.0.1"
	return d


## Discovers with the async API and returns the object (or null when no gateway was found).
func discovered_upnp() -> NatUPNP:
	var u := NatUPNP.new()
	u.discover_async(2000)
	var result = await u.discover_completed
	if result != NatUPNP.UPNP_RESULT_SUCCESS or u.get_gateway() == null:
		return null
	return u


# ------------------------------------------------------------------------------------------------
# Needs nothing on the network

func test_validation_errors_arrive_by_signal() -> void:
	var d := valid_device()
	var rec := Recorder.new().watch_device(d)
	d.add_port_mapping_async(0)
	check_eq(rec.events.size(), 0, "no signal inside the call (delivered on a later frame)")
	var got = await d.port_mapping_added
	check_eq(got, [NatUPNP.UPNP_RESULT_INVALID_PORT, 0, "UDP"], "add_port_mapping_async(0) on a valid device -> 17")

	d.add_port_mapping_async(PORT_A, 70000)
	got = await d.port_mapping_added
	check_eq(got[0], NatUPNP.UPNP_RESULT_INVALID_PORT, "internal port 70000 -> 17")
	d.add_port_mapping_async(PORT_A, 0, "", "udp")
	got = await d.port_mapping_added
	check_eq(got, [NatUPNP.UPNP_RESULT_INVALID_PROTOCOL, PORT_A, "udp"], "proto 'udp' -> 18, proto echoed as passed")
	d.add_port_mapping_async(PORT_A, 0, "", "TCP", -1)
	got = await d.port_mapping_added
	check_eq(got[0], NatUPNP.UPNP_RESULT_INVALID_DURATION, "duration -1 -> 19")
	d.delete_port_mapping_async(0)
	got = await d.port_mapping_deleted
	check_eq(got, [NatUPNP.UPNP_RESULT_INVALID_PORT, 0, "UDP"], "delete_port_mapping_async(0) -> 17")
	d.delete_port_mapping_async(PORT_A, "SCTP")
	got = await d.port_mapping_deleted
	check_eq(got[0], NatUPNP.UPNP_RESULT_INVALID_PROTOCOL, "delete with proto 'SCTP' -> 18")

	var bad := NatUPNPDevice.new()  # igd_status defaults to 9
	bad.add_port_mapping_async(0)
	got = await bad.port_mapping_added
	check_eq(got[0], NatUPNP.UPNP_RESULT_INVALID_GATEWAY, "invalid device: 16 before the port check")
	bad.query_external_address_async()
	got = await bad.external_address_queried
	check_eq(got, [NatUPNP.UPNP_RESULT_INVALID_GATEWAY, ""], "query on an invalid device -> [16, '']")


## The pump's per-frame bound (rust/gdnat-godot/src/delivery.rs FRAME_BUDGET): a burst of
## results is spread over several frames, at most 256 per frame, in call order.
const FRAME_BUDGET := 256


func test_burst_is_spread_over_frames_in_order() -> void:
	var d := NatUPNPDevice.new()  # not valid: each call is an argument error (16), no network
	var ports := []
	var per_frame := {}
	var on_main_thread := []
	d.port_mapping_added.connect(func(r, p, proto):
		ports.append(p)
		var frame := Engine.get_process_frames()
		per_frame[frame] = per_frame.get(frame, 0) + 1
		on_main_thread.append(OS.get_thread_caller_id() == OS.get_main_thread_id()))
	var count := 600
	for i in count:
		d.add_port_mapping_async(i + 1)
	var done: bool = await until(func(): return ports.size() >= count, 20.0)
	check(done, "all %d results arrived (%d)" % [count, ports.size()])
	var expected := range(1, count + 1)
	check(ports == expected, "in call order")
	var most: int = per_frame.values().max() if not per_frame.is_empty() else 0
	check(most <= FRAME_BUDGET, "at most %d results per frame (most in one frame: %d, frames used: %d)"
		% [FRAME_BUDGET, most, per_frame.size()])
	check(per_frame.size() >= ceili(float(count) / FRAME_BUDGET), "spread over at least %d frames (%d)"
		% [ceili(float(count) / FRAME_BUDGET), per_frame.size()])
	check(not on_main_thread.is_empty() and on_main_thread.all(func(m): return m),
		"every handler ran on the main thread (OS.get_thread_caller_id() == OS.get_main_thread_id())")


func test_upnp_without_gateway_reports_26() -> void:
	var u := NatUPNP.new()
	u.add_port_mapping_async(0)  # 26 comes before any argument check, as in the engine
	var got = await u.port_mapping_added
	check_eq(got, [NatUPNP.UPNP_RESULT_NO_GATEWAY, 0, "UDP"], "add on an empty list -> 26 before validation")
	u.delete_port_mapping_async(PORT_A, "TCP")
	got = await u.port_mapping_deleted
	check_eq(got, [NatUPNP.UPNP_RESULT_NO_GATEWAY, PORT_A, "TCP"], "delete on an empty list -> 26")
	u.query_external_address_async()
	got = await u.external_address_queried
	check_eq(got, [NatUPNP.UPNP_RESULT_NO_GATEWAY, ""], "query on an empty list -> [26, '']")


func test_discover_argument_error_keeps_list() -> void:
	var u := NatUPNP.new()
	var d := valid_device()
	u.add_device(d)
	u.discover_async(-1)
	var got = await u.discover_completed
	check_eq(got, NatUPNP.UPNP_RESULT_INVALID_PARAM, "discover_async(-1) -> 22")
	check(u.get_device_count() == 1 and u.get_device(0) == d, "the list is left alone on an argument error")
	u.discover_async(2000, 256)
	got = await u.discover_completed
	check_eq(got, NatUPNP.UPNP_RESULT_INVALID_PARAM, "discover_async(2000, 256) -> 22")


func test_unreachable_gateway_is_http_error() -> void:
	var d := valid_device()  # nothing listens on 127.0.0.1:9
	d.add_port_mapping_async(PORT_A)
	var got = await d.port_mapping_added
	check_eq(got[0], NatUPNP.UPNP_RESULT_HTTP_ERROR, "add on an unreachable control URL -> 23")
	d.query_external_address_async()
	got = await d.external_address_queried
	check_eq(got, [NatUPNP.UPNP_RESULT_HTTP_ERROR, ""], "query on an unreachable control URL -> [23, '']")
	var blocking := d.add_port_mapping(PORT_A)
	check_eq(blocking, NatUPNP.UPNP_RESULT_HTTP_ERROR, "the blocking twin gives the same code")


func test_fifo_with_validation_errors_in_between() -> void:
	# Network jobs (to an unreachable URL) and argument errors, mixed: results in call order.
	var d := valid_device()
	var rec := Recorder.new().watch_device(d)
	d.add_port_mapping_async(PORT_A)
	d.add_port_mapping_async(0)
	d.delete_port_mapping_async(PORT_A)
	d.query_external_address_async()
	d.delete_port_mapping_async(PORT_A, "x")
	var done: bool = await until(func(): return rec.events.size() >= 5, 30.0)
	check(done, "5 results delivered (got %d)" % rec.events.size())
	var codes := rec.events.map(func(e): return [e[0], e[1]])
	check_eq(codes, [["port_mapping_added", 23], ["port_mapping_added", 17], ["port_mapping_deleted", 23],
		["external_address_queried", 23], ["port_mapping_deleted", 18]], "results come in call order")


# ------------------------------------------------------------------------------------------------
# Needs a gateway (sim or testbed) or explicitly none

func test_discover_async_signals_and_list() -> void:
	if target == "none":
		skip_test("needs a router; this run has none (--target=none)")
		return
	var u := NatUPNP.new()
	var old := valid_device()
	u.add_device(old)
	var rec := Recorder.new().watch_upnp(u)
	var counts_seen_during := []
	var threads_seen := []
	var count_during := func(_d):
		counts_seen_during.append(u.get_device_count())
		threads_seen.append(OS.get_thread_caller_id())
	u.device_found.connect(count_during)
	var t0 := Time.get_ticks_msec()
	u.discover_async(3000)
	check_eq(u.get_device_count(), 1, "right after the call the old list is unchanged")
	check(u.get_device(0) == old, "the old device is still device 0")
	var result = await u.discover_completed
	print("test_async: discover_async took %d ms" % (Time.get_ticks_msec() - t0))
	check_eq(result, NatUPNP.UPNP_RESULT_SUCCESS, "discover_completed(0)")
	var names := rec.names()
	var found := rec.events.filter(func(e): return e[0] == "device_found").map(func(e): return e[1])
	check(found.size() >= 1, "device_found emitted %d time(s)" % found.size())
	check_eq(names[names.size() - 1], "discover_completed", "discover_completed comes last")
	check(counts_seen_during.all(func(c): return c == 1), "during discovery getters see the old list (%s)" % [counts_seen_during])
	check(not threads_seen.is_empty() and threads_seen.all(func(t): return t == OS.get_main_thread_id()),
		"device_found handlers ran on the main thread (%s, main %d)" % [threads_seen, OS.get_main_thread_id()])
	check_eq(u.get_device_count(), found.size(), "the list is replaced at completion by the announced devices")
	var same := true
	for i in u.get_device_count():
		same = same and found.has(u.get_device(i))
	check(same, "the listed devices are the same objects that device_found announced")
	var listed := []
	for i in u.get_device_count():
		listed.append(u.get_device(i))
	check(not listed.has(old), "the old hand-added device is gone")
	u.device_found.disconnect(count_during)  # the lambda holds `u`: break the cycle
	var gw: NatUPNPDevice = u.get_gateway()
	check(gw != null, "a gateway was found")
	if gw:
		check_eq(gw.igd_status, NatUPNPDevice.IGD_STATUS_OK, "gateway status OK")
		check(gw.igd_control_url.begins_with("http://"), "gateway has its control URL (%s)" % gw.igd_control_url)
		check(not gw.igd_our_addr.is_empty(), "gateway has our address (%s)" % gw.igd_our_addr)
		print("test_async: gateway %s %s double_nat=%s" % [gw.igd_control_url, gw.igd_service_type, gw.double_nat])


func test_upnp_mapping_ops_in_call_order() -> void:
	if target == "none":
		skip_test("needs a router; this run has none (--target=none)")
		return
	var u := await discovered_upnp()
	if not check(u != null, "discovered a gateway"):
		return
	var rec := Recorder.new().watch_upnp(u)
	u.add_port_mapping_async(PORT_A, 0, "gdnat async A", "UDP")
	u.delete_port_mapping_async(PORT_A, "UDP")
	u.add_port_mapping_async(PORT_B, 0, "gdnat async B", "TCP")
	u.add_port_mapping_async(0)
	u.query_external_address_async()
	u.delete_port_mapping_async(PORT_B, "TCP")
	u.delete_port_mapping_async(PORT_B, "TCP")
	var done: bool = await until(func(): return rec.events.size() >= 7, 30.0)
	check(done, "7 results delivered (got %d)" % rec.events.size())
	var got := rec.events.map(func(e): return [e[0], e[1]] + ([e[2], e[3]] if e.size() == 4 else []))
	var addr: String = rec.events[4][2] if rec.events.size() > 4 else ""
	check_eq(got, [
		["port_mapping_added", 0, PORT_A, "UDP"],
		["port_mapping_deleted", 0, PORT_A, "UDP"],
		["port_mapping_added", 0, PORT_B, "TCP"],
		["port_mapping_added", NatUPNP.UPNP_RESULT_INVALID_PORT, 0, "UDP"],
		["external_address_queried", 0],
		["port_mapping_deleted", 0, PORT_B, "TCP"],
		["port_mapping_deleted", missing_delete_result(), PORT_B, "TCP"],
	], "add, delete, add, bad add, query, delete, delete again: results in call order")
	check(not addr.is_empty(), "external address %s" % addr)
	check_eq(addr, u.query_external_address(), "async and blocking query agree")


func test_upnp_gateway_copied_at_call_time() -> void:
	if target == "none":
		skip_test("needs a router; this run has none (--target=none)")
		return
	var u := await discovered_upnp()
	if not check(u != null, "discovered a gateway"):
		return
	u.add_port_mapping_async(PORT_C, 0, "gdnat call-time gateway", "UDP")
	u.clear_devices()  # after the call: must not matter
	var got = await u.port_mapping_added
	check_eq(got, [0, PORT_C, "UDP"], "the mapping used the gateway selected at call time")
	u.delete_port_mapping_async(PORT_C, "UDP")
	got = await u.port_mapping_deleted
	check_eq(got[0], NatUPNP.UPNP_RESULT_NO_GATEWAY, "a later call sees the cleared list -> 26")
	# Clean up with a fresh discovery.
	var v := await discovered_upnp()
	if v:
		check_eq(v.delete_port_mapping(PORT_C, "UDP"), 0, "clean-up delete of the call-time mapping")


func test_device_async_twins() -> void:
	if target == "none":
		skip_test("needs a router; this run has none (--target=none)")
		return
	var u := await discovered_upnp()
	if not check(u != null, "discovered a gateway"):
		return
	var gw: NatUPNPDevice = u.get_gateway()
	gw.add_port_mapping_async(PORT_A, PORT_B, "gdnat <device> & \"twin\"", "TCP", 0)
	var got = await gw.port_mapping_added
	check_eq(got, [0, PORT_A, "TCP"], "device add (description needing XML escaping)")
	gw.query_external_address_async()
	got = await gw.external_address_queried
	check(got[0] == 0 and not String(got[1]).is_empty(), "device query -> 0 and an address (%s)" % [got])
	gw.delete_port_mapping_async(PORT_A, "TCP")
	got = await gw.port_mapping_deleted
	check_eq(got, [0, PORT_A, "TCP"], "device delete")
	gw.delete_port_mapping_async(PORT_A, "TCP")
	got = await gw.port_mapping_deleted
	check_eq(got, [missing_delete_result(), PORT_A, "TCP"], "deleting it again (the router's answer for a missing mapping)")


func test_no_router_gives_27() -> void:
	if target != "none":
		skip_test("runs only without a router (--target=none); this run: %s" % target)
		return
	var u := NatUPNP.new()
	var t0 := Time.get_ticks_msec()
	u.discover_async(1000)
	var got = await u.discover_completed
	print("test_async: discover_async(1000) without a router took %d ms" % (Time.get_ticks_msec() - t0))
	check_eq(got, NatUPNP.UPNP_RESULT_NO_DEVICES, "discover_async without a router -> 27")
	check_eq(u.get_device_count(), 0, "empty list")
	t0 = Time.get_ticks_msec()
	got = u.discover(500)
	print("test_async: discover(500) without a router took %d ms" % (Time.get_ticks_msec() - t0))
	check_eq(got, NatUPNP.UPNP_RESULT_NO_DEVICES, "blocking discover(500) without a router -> 27")


## Issue 8 item 4: an object's queue is capped (MAX_QUEUED_JOBS, docs/resources.md). With the
## queue full the next call returns 25 (UPNP_RESULT_MEM_ALLOC_ERROR) at once, prints why,
## queues nothing and emits nothing; once results were delivered there is room again. Fails
## on code without the cap (the call returns 0 and a signal follows).
const MAX_QUEUED_JOBS := 4096


func test_full_queue_refuses_the_call_with_25() -> void:
	var u := NatUPNP.new()  # no gateway: each query is answered with 26, no network, no print
	var results := []
	u.external_address_queried.connect(func(r, a): results.append(r))
	var queued := 0
	for i in MAX_QUEUED_JOBS:
		if u.query_external_address_async() == 0:
			queued += 1
	check_eq(queued, MAX_QUEUED_JOBS, "the first %d calls are queued (0)" % MAX_QUEUED_JOBS)
	check_eq(u.query_external_address_async(), NatUPNP.UPNP_RESULT_MEM_ALLOC_ERROR,
		"the next call on the full queue is refused at once with 25")
	var done: bool = await until(func(): return results.size() >= MAX_QUEUED_JOBS, 30.0)
	check(done, "the %d queued results arrived (%d)" % [MAX_QUEUED_JOBS, results.size()])
	await process_frame
	await process_frame
	check_eq(results.size(), MAX_QUEUED_JOBS, "the refused call emitted nothing")
	check(results.all(func(r): return r == NatUPNP.UPNP_RESULT_NO_GATEWAY), "each queued call got 26")
	check_eq(u.query_external_address_async(), 0, "with the results delivered, a call is queued again")
	check_eq(await u.external_address_queried, [NatUPNP.UPNP_RESULT_NO_GATEWAY, ""], "and its result arrives")
