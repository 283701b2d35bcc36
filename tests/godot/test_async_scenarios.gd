## The async API against simulated-gateway scenarios that the engine handles badly.
## `-- --scenario=NAME` names the gdnat-simgw scenario that tests/godot/run-async.sh started in
## the same isolated namespace; each test runs only for its scenario.
##
##   printer-and-router  several devices: each announced by device_found with its own data
##   igd2-double-nat     a gateway with a reserved WAN address: usable, double_nat = true
##   soap-hang           a router that never answers SOAP: 23 after the HTTP bound, FIFO kept
##   desc-hang           a description that never comes: the device is reported, not valid;
##                       discover(2000) returns within 2020 ms; freeing the object while that
##                       download is in flight ends its worker and validation threads at once
extends "res://tests/lib/suite.gd"

const Threads = preload("res://tests/lifecycle/threads.gd")

var scenario := ""


func before_all() -> void:
	scenario = arg("scenario")
	print("test_async_scenarios: scenario=%s" % scenario)


func only(name: String) -> bool:
	return scenario == name


## Discovers asynchronously; returns [result, devices announced by device_found, ms].
func discover(u: NatUPNP, timeout: int, filter: String) -> Array:
	var found := []
	var on_found := func(d): found.append(d)
	u.device_found.connect(on_found)
	var t0 := Time.get_ticks_msec()
	u.discover_async(timeout, 2, filter)
	var result = await u.discover_completed
	u.device_found.disconnect(on_found)
	return [result, found, Time.get_ticks_msec() - t0]


func list_of(u: NatUPNP) -> Array:
	var out := []
	for i in u.get_device_count():
		out.append(u.get_device(i))
	return out


func test_printer_and_router_each_device_has_its_own_data() -> void:
	if not only("printer-and-router"):
		skip_test("runs only in scenario printer-and-router; this run: %s" % scenario)
		return
	var u := NatUPNP.new()
	var got := await discover(u, 2000, "")
	print("test_async_scenarios: discover_async(2000, 2, \"\") took %d ms" % got[2])
	check_eq(got[0], NatUPNP.UPNP_RESULT_SUCCESS, "result 0")
	var found: Array = got[1]
	check(found.size() >= 2, "device_found for the printer and the router (%d)" % found.size())
	var listed := list_of(u)
	check(listed.size() == found.size() and listed.all(func(d): return found.has(d)),
		"the list holds exactly the announced objects")
	var gateways := listed.filter(func(d): return d.is_valid_gateway())
	var others := listed.filter(func(d): return not d.is_valid_gateway())
	check_eq(gateways.size(), 1, "exactly one device is a valid gateway")
	check(others.size() >= 1, "the printer is listed but not valid")
	for d in others:
		print("test_async_scenarios: non-gateway %s status=%d" % [d.service_type, d.igd_status])
		check(d.igd_control_url.is_empty() and d.igd_our_addr.is_empty(),
			"a non-gateway does not carry the router's control URL (engine quirk fixed)")
	if gateways.size() == 1:
		check(u.get_gateway() == gateways[0], "get_gateway() is the router")
		check(gateways[0].igd_control_url.begins_with("http://"), "the router has its own control URL")


func test_printer_and_router_rootdevice_filter_finds_devices() -> void:
	if not only("printer-and-router"):
		skip_test("runs only in scenario printer-and-router; this run: %s" % scenario)
		return
	var u := NatUPNP.new()
	var got := await discover(u, 2000, "rootdevice")
	check_eq(got[0], NatUPNP.UPNP_RESULT_SUCCESS, "result 0")
	check(u.get_device_count() >= 1, "filter 'rootdevice' finds matching devices (%d; the engine finds none)" % u.get_device_count())
	check(list_of(u).all(func(d): return d.service_type.contains("rootdevice")), "every listed device matches the filter")


func test_double_nat_gateway_is_usable() -> void:
	if not only("igd2-double-nat"):
		skip_test("runs only in scenario igd2-double-nat; this run: %s" % scenario)
		return
	var u := NatUPNP.new()
	var got := await discover(u, 2000, "InternetGatewayDevice")
	check_eq(got[0], NatUPNP.UPNP_RESULT_SUCCESS, "result 0")
	var gw: NatUPNPDevice = u.get_gateway()
	if not check(gw != null, "a gateway behind another NAT is valid (the engine says DISCONNECTED)"):
		return
	check_eq(gw.igd_status, NatUPNPDevice.IGD_STATUS_OK, "igd_status OK")
	check_eq(gw.double_nat, true, "double_nat is true")
	check_eq(gw.is_double_nat(), true, "is_double_nat() agrees")
	u.query_external_address_async()
	var q = await u.external_address_queried
	check_eq(q, [0, "10.0.0.5"], "the reserved WAN address is reported as it is")
	var plain := NatUPNPDevice.new()
	check_eq(plain.double_nat, false, "a new device is not double NAT")


func test_hanging_soap_gives_23_and_keeps_order() -> void:
	if not only("soap-hang"):
		skip_test("runs only in scenario soap-hang; this run: %s" % scenario)
		return
	var u := NatUPNP.new()
	var got := await discover(u, 2000, "InternetGatewayDevice")
	print("test_async_scenarios: discovery with hanging SOAP: result %d, %d device(s), %d ms" % [got[0], u.get_device_count(), got[2]])
	# Validation needs SOAP (GetStatusInfo), so the device is not a valid gateway here; build
	# one by hand that points at the hanging control URL instead.
	var d := NatUPNPDevice.new()
	if u.get_device_count() > 0:
		d.description_url = u.get_device(0).description_url
	d.igd_status = NatUPNPDevice.IGD_STATUS_OK
	d.igd_control_url = d.description_url.get_base_dir() + "/ctl/IPConn" if not d.description_url.is_empty() else "http://127.0.0.1:1/x"
	d.igd_service_type = "urn:schemas-upnp-org:service:WANIPConnection:2"
	d.igd_our_addr = "127.0.0.1"
	var order := []
	d.port_mapping_added.connect(func(r, p, proto): order.append(["added", r, p]))
	d.port_mapping_deleted.connect(func(r, p, proto): order.append(["deleted", r, p]))
	var t0 := Time.get_ticks_msec()
	d.add_port_mapping_async(47321)
	d.delete_port_mapping_async(0)  # an argument error queued behind the hanging request
	var deadline := Time.get_ticks_msec() + 15000
	while order.size() < 2 and Time.get_ticks_msec() < deadline:
		await process_frame
	print("test_async_scenarios: hanging add answered after %d ms" % (Time.get_ticks_msec() - t0))
	check_eq(order, [["added", NatUPNP.UPNP_RESULT_HTTP_ERROR, 47321], ["deleted", NatUPNP.UPNP_RESULT_INVALID_PORT, 0]],
		"the hanging request ends with 23, the queued error follows it")


func test_free_during_validation_stops_the_worker() -> void:
	if not only("desc-hang"):
		skip_test("runs only in scenario desc-hang; this run: %s" % scenario)
		return
	var before := Threads.count("gdnat-worker")
	var validating := Threads.count("gdnat-validate")
	var u := NatUPNP.new()
	u.discover_async(3000, 2, "InternetGatewayDevice")
	var deadline := Time.get_ticks_msec() + 3000
	while Threads.count("gdnat-validate") <= validating and Time.get_ticks_msec() < deadline:
		await process_frame
	if not check(Threads.count("gdnat-validate") > validating, "the gateway answered and its description download is in flight"):
		return
	check_eq(Threads.count("gdnat-worker"), before + 1, "the discovery runs on one more worker thread")
	var ref: WeakRef = weakref(u)
	u = null
	check(ref.get_ref() == null, "freeing the object during validation frees it at once")
	# Issue 13: the worker and the validation thread whose download hangs are both gone within
	# 50 ms (asserted with a 200 ms scheduling margin; tests/bench/cancellation.sh reports the
	# number). Before, the validation thread waited for its 4 s HTTP bound.
	var t0 := Time.get_ticks_usec()
	while (Threads.count("gdnat-worker") > before or Threads.count("gdnat-validate") > validating) \
			and Time.get_ticks_usec() - t0 < 5000000:
		OS.delay_usec(500)
	var ms := (Time.get_ticks_usec() - t0) / 1000.0
	print("FREE_TO_THREAD_GONE_MS %.1f (hanging description)" % ms)
	check(Threads.count("gdnat-worker") <= before and Threads.count("gdnat-validate") <= validating and ms <= 250.0,
		"its worker and validation threads were gone %.1f ms after the free, the download still hanging (goal 50 ms, asserted 250 ms; %d validation thread(s) left)"
		% [ms, Threads.count("gdnat-validate") - validating])


func test_hanging_description_device_not_valid() -> void:
	if not only("desc-hang"):
		skip_test("runs only in scenario desc-hang; this run: %s" % scenario)
		return
	var u := NatUPNP.new()
	var got := await discover(u, 2000, "InternetGatewayDevice")
	print("test_async_scenarios: discovery with a hanging description: result %d, %d ms" % [got[0], got[2]])
	print("DISCOVER_2000_HANGING_DESC_MS async %d" % got[2])
	check_eq(got[0], NatUPNP.UPNP_RESULT_SUCCESS, "answers came: result 0")
	check(u.get_device_count() >= 1, "the device is listed")
	if u.get_device_count() >= 1:
		check_eq(u.get_device(0).igd_status, NatUPNPDevice.IGD_STATUS_HTTP_ERROR, "its status is HTTP_ERROR")
	check(u.get_gateway() == null, "no gateway")
	# Issue 8 item 3 / issue 13: the blocking call returns within its timeout + 20 ms even
	# though the description never comes (asserted with a 150 ms scheduling margin; the bench
	# reports the number). Before, it waited for the download's own 4 s bound (about 4050 ms).
	var b := NatUPNP.new()
	var t0 := Time.get_ticks_usec()
	var result := b.discover(2000, 2, "InternetGatewayDevice")
	var ms := (Time.get_ticks_usec() - t0) / 1000.0
	print("DISCOVER_2000_HANGING_DESC_MS blocking %.1f" % ms)
	check_eq(result, NatUPNP.UPNP_RESULT_SUCCESS, "blocking discover(2000): answers came, result 0")
	check(ms <= 2020.0 + 150.0, "blocking discover(2000) returned after %.1f ms (goal 2020 ms, asserted 2170 ms)" % ms)
	if b.get_device_count() >= 1:
		check_eq(b.get_device(0).igd_status, NatUPNPDevice.IGD_STATUS_HTTP_ERROR, "the unfinished device is HTTP_ERROR, as the engine reports it")
	check(got[2] <= 2020 + 150 + 100, "discover_async(2000) completed after %d ms (a frame of delivery on top)" % got[2])
