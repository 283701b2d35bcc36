## Fault-injection probe, judged by tests/godot/run-async.sh through tests/godot/run-suite.sh.
## With GDNAT_TEST_PANIC set to a site of rust/gdnat-godot/src/test_hooks.rs (debug builds),
## gdnat panics there; the probe's own checks must still pass, and run-suite.sh must judge the
## run FAILED because of the panic line alone. Without the variable it is the control run.
##
##   func          NatUPNP.discover_async panics (inside the #[func]): nothing is submitted
##   worker        every worker job panics at its start: the result is UNKNOWN_ERROR (28)
##   deliver-once  the pump's first delivery panics: that result is lost, the pump survives
##                 and delivers the later ones (before the pump fix it never did)
extends "res://tests/lib/suite.gd"

var site := ""


func before_all() -> void:
	site = OS.get_environment("GDNAT_TEST_PANIC")
	print("panic_probe: GDNAT_TEST_PANIC=%s" % site)


func frames(n: int) -> void:
	for i in n:
		await process_frame


## Waits until `list` has `size` entries or `seconds` passed.
func wait_size(list: Array, size: int, seconds: float) -> void:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000.0)
	while list.size() < size and Time.get_ticks_msec() < deadline:
		await process_frame


func _discover_async(u: NatUPNP, timeout: int) -> void:
	u.discover_async(timeout)  # with site "func" the call fails here and this function stops


func test_discover_async_call() -> void:
	var u := NatUPNP.new()
	var got := []
	u.discover_completed.connect(func(r): got.append(r))
	_discover_async(u, 100)
	await wait_size(got, 1, 5.0)
	match site:
		"func":
			check_eq(got, [], "the panicking call submitted nothing")
		"worker":
			check_eq(got, [NatUPNP.UPNP_RESULT_UNKNOWN_ERROR], "a panicking job is answered with UNKNOWN_ERROR")
		"deliver-once":
			check_eq(got, [], "the first delivery of the process hit the injected panic: this result was dropped")
		_:
			check_eq(got, [NatUPNP.UPNP_RESULT_NO_DEVICES], "no router: 27")


func test_pump_survives_a_panicking_delivery() -> void:
	var d := NatUPNPDevice.new()  # not valid: every mapping call is an argument error (16)
	var got := []
	d.port_mapping_added.connect(func(r, p, proto): got.append([r, p]))
	d.add_port_mapping_async(1)
	await frames(5)
	d.add_port_mapping_async(2)
	await wait_size(got, 2, 3.0)
	# With deliver-once the pump task survived the panic in the previous test; before the
	# pump fix it had died there and nothing was ever delivered again.
	check_eq(got, [[16, 1], [16, 2]], "later results are still delivered, in order")
