## Lifetime rules of the async API: freeing an object cancels its work (no signal, no crash,
## no leak), many objects share the main-thread pump, and signal handlers may call straight
## back into the object. Runs with no gateway on the network (tests/lib/isolated.sh).
##
## The process-level cases (quit while a discovery runs, calls from a GDScript Thread) are
## separate scripts in tests/godot/lifecycle/, judged by tests/godot/run-async.sh.
extends "res://tests/lib/suite.gd"

const Threads = preload("res://tests/lifecycle/threads.gd")


func wait_seconds(seconds: float) -> void:
	await create_timer(seconds).timeout


## Waits until at most `limit` threads are named `name`, for up to `seconds`. True if reached.
func threads_at_most(name: String, limit: int, seconds: float) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000.0)
	while Threads.count(name) > limit:
		if Time.get_ticks_msec() > deadline:
			return false
		await process_frame
	return true


func test_free_during_discover() -> void:
	var before := Threads.count("gdnat-worker")
	if not check(before >= 0, "worker threads can be counted through /proc/self/task (%d)" % before):
		return
	var u := NatUPNP.new()
	u.discover_async(1500)
	# The thread names itself once it runs: wait (bounded) until it shows up.
	var deadline := Time.get_ticks_msec() + 1000
	while Threads.count("gdnat-worker") < before + 1 and Time.get_ticks_msec() < deadline:
		await process_frame
	check_eq(Threads.count("gdnat-worker"), before + 1, "the discovery runs on one more worker thread")
	var ref: WeakRef = weakref(u)
	u = null  # the last reference: the object is freed at once
	check(ref.get_ref() == null, "dropping the last reference frees the object while discovery runs")
	var ended := await threads_at_most("gdnat-worker", before, 1.0)
	check(ended, "its worker thread ended within 1 s of the free, long before the 1500 ms timeout (%d left, %d before)"
		% [Threads.count("gdnat-worker"), before])


## Issue 13's goal for free(): the thread of an object freed while its request hangs is gone
## within 50 ms. Asserted with FREE_MARGIN_MS on top (scheduling on a loaded 2-core machine);
## tests/bench/cancellation.sh reports the measured number against the 50 ms goal. Before the
## cancel reached the HTTP exchange the thread lived until the request's own 4 s bound (the
## old version of this test had to close the connection itself to end it).
const FREE_GOAL_MS := 50
const FREE_MARGIN_MS := 200


## Waits, without yielding a frame, until at most `limit` threads are named `name` (checked
## every 0.5 ms, for up to `seconds`); returns the milliseconds it took, or -1.
func ms_until_threads_at_most(name: String, limit: int, seconds: float) -> float:
	var t0 := Time.get_ticks_usec()
	while Threads.count(name) > limit:
		if Time.get_ticks_usec() - t0 > int(seconds * 1e6):
			return -1.0
		OS.delay_usec(500)
	return (Time.get_ticks_usec() - t0) / 1000.0


func test_free_device_while_its_request_hangs() -> void:
	# A TCP server that accepts and never answers: the SOAP request hangs on the worker.
	var server := TCPServer.new()
	if not check_eq(server.listen(0, "127.0.0.1"), OK, "listening on 127.0.0.1"):
		return
	var before := Threads.count("gdnat-worker")
	var d := NatUPNPDevice.new()
	d.igd_status = NatUPNPDevice.IGD_STATUS_OK
	d.igd_control_url = "http://127.0.0.1:%d/ctl" % server.get_local_port()
	d.igd_service_type = "urn:schemas-upnp-org:service:WANIPConnection:1"
	d.igd_our_addr = "127.0.0.1"
	d.add_port_mapping_async(47400)
	d.add_port_mapping_async(47401)  # queued behind the hanging one
	var t0 := Time.get_ticks_msec()
	while not server.is_connection_available() and Time.get_ticks_msec() - t0 < 5000:
		await process_frame
	var conn := server.take_connection()
	check(conn != null, "the worker connected to the control URL")
	await wait_seconds(0.1)  # the request is sent and waits for its answer
	var ref: WeakRef = weakref(d)
	d = null
	check(ref.get_ref() == null, "the device is freed while its request hangs")
	# The connection stays open and silent: only the cancel can end the request.
	var ms := ms_until_threads_at_most("gdnat-worker", before, 5.0)
	print("FREE_TO_THREAD_GONE_MS %.1f (hanging SOAP request)" % ms)
	check(ms >= 0.0 and ms <= FREE_GOAL_MS + FREE_MARGIN_MS,
		"its worker thread was gone %.1f ms after the free, with the request still hanging (goal %d ms, asserted %d ms)"
		% [ms, FREE_GOAL_MS, FREE_GOAL_MS + FREE_MARGIN_MS])
	await wait_seconds(0.3)
	check(not server.is_connection_available(), "the queued request of the freed device was never sent")
	if conn:
		conn.disconnect_from_host()
	server.stop()


func test_many_objects_share_the_pump() -> void:
	var results := {}
	var keep := []
	for i in 12:
		var u := NatUPNP.new()
		u.discover_completed.connect(func(r): results[i] = r)
		u.discover_async(300)
		if i % 2 == 0:
			keep.append(u)  # odd ones are dropped at once
	var t0 := Time.get_ticks_msec()
	while results.size() < keep.size() and Time.get_ticks_msec() - t0 < 10000:
		await process_frame
	await wait_seconds(0.5)
	var evens := results.keys()
	evens.sort()
	check_eq(evens, [0, 2, 4, 6, 8, 10], "only the kept objects reported")
	check(results.values().all(func(r): return r == NatUPNP.UPNP_RESULT_NO_DEVICES), "each got 27 (no router): %s" % [results])


func test_signal_handler_may_call_back() -> void:
	var u := NatUPNP.new()
	var chain := []
	var on_discovered := func(r):
		chain.append(["discovered", r, u.get_device_count()])
		u.add_port_mapping_async(7777)  # re-enters the object from its own signal
	u.discover_completed.connect(on_discovered)
	u.port_mapping_added.connect(func(r, p, proto): chain.append(["added", r, p]))
	u.discover_async(200)
	var t0 := Time.get_ticks_msec()
	while chain.size() < 2 and Time.get_ticks_msec() - t0 < 10000:
		await process_frame
	check_eq(chain, [["discovered", NatUPNP.UPNP_RESULT_NO_DEVICES, 0], ["added", NatUPNP.UPNP_RESULT_NO_GATEWAY, 7777]],
		"a handler calling back into the object works; its result follows")
	u.discover_completed.disconnect(on_discovered)  # the lambda holds `u`: break the cycle


func test_result_is_never_synchronous() -> void:
	var u := NatUPNP.new()
	var fired := []
	u.discover_completed.connect(func(r): fired.append(r))
	u.discover_async(-5)
	check_eq(fired.size(), 0, "an argument error is not emitted inside the call")
	await process_frame
	await process_frame
	check_eq(fired, [NatUPNP.UPNP_RESULT_INVALID_PARAM], "it arrives on a later frame")
