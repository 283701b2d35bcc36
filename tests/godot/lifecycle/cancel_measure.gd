## Measurements for tests/bench/cancellation.sh (issue 13, issue 8 item 3), run inside an
## isolated namespace next to gdnat-simgw's desc-hang scenario (the bench starts it):
##
##   FREE_SOAP_MS <ms>      free() of a device whose SOAP request hangs (a TCPServer here that
##                          accepts and never answers) -> its worker thread is gone
##   FREE_DESC_MS <ms>      free() of a NatUPNP whose discovery's description download hangs ->
##                          its worker and validation threads are gone
##   DISCOVER_MS <ms>       blocking discover(2000) with the hanging description
##
## `-- --reps=N` repeats each (default 3). Prints "CANCEL-MEASURE: done" at the end and quits.
## Thread ends are seen through /proc/self/task (tests/lifecycle/threads.gd), checked every
## 0.2 ms without yielding a frame.
extends SceneTree

const Threads = preload("res://tests/lifecycle/threads.gd")


func _initialize() -> void:
	_run.call_deferred()


func _ms_until_gone(workers: int, validators: int) -> float:
	var t0 := Time.get_ticks_usec()
	while (Threads.count("gdnat-worker") > workers or Threads.count("gdnat-validate") > validators) \
			and Time.get_ticks_usec() - t0 < 5000000:
		OS.delay_usec(200)
	if Threads.count("gdnat-worker") > workers or Threads.count("gdnat-validate") > validators:
		return -1.0
	return (Time.get_ticks_usec() - t0) / 1000.0


func _free_soap() -> float:
	var server := TCPServer.new()
	server.listen(0, "127.0.0.1")
	var workers := Threads.count("gdnat-worker")
	var d := NatUPNPDevice.new()
	d.igd_status = NatUPNPDevice.IGD_STATUS_OK
	d.igd_control_url = "http://127.0.0.1:%d/ctl" % server.get_local_port()
	d.igd_service_type = "urn:schemas-upnp-org:service:WANIPConnection:1"
	d.igd_our_addr = "127.0.0.1"
	d.add_port_mapping_async(47450)
	var t0 := Time.get_ticks_msec()
	while not server.is_connection_available() and Time.get_ticks_msec() - t0 < 5000:
		await process_frame
	var conn := server.take_connection()
	await create_timer(0.1).timeout  # the request is sent and waits for its answer
	d = null
	var ms := _ms_until_gone(workers, Threads.count("gdnat-validate"))
	if conn:
		conn.disconnect_from_host()
	server.stop()
	return ms


func _free_desc() -> float:
	var workers := Threads.count("gdnat-worker")
	var validators := Threads.count("gdnat-validate")
	var u := NatUPNP.new()
	u.discover_async(5000, 2, "InternetGatewayDevice")
	var t0 := Time.get_ticks_msec()
	while Threads.count("gdnat-validate") <= validators and Time.get_ticks_msec() - t0 < 3000:
		await process_frame
	if Threads.count("gdnat-validate") <= validators:
		return -1.0
	await create_timer(0.05).timeout
	u = null
	return _ms_until_gone(workers, validators)


func _run() -> void:
	var reps := 3
	for a in OS.get_cmdline_user_args():
		if a.begins_with("--reps="):
			reps = int(a.substr(7))
	for i in reps:
		print("FREE_SOAP_MS %.2f" % await _free_soap())
		print("FREE_DESC_MS %.2f" % await _free_desc())
		var b := NatUPNP.new()
		var t0 := Time.get_ticks_usec()
		var result := b.discover(2000, 2, "InternetGatewayDevice")
		var ms := (Time.get_ticks_usec() - t0) / 1000.0
		var status := b.get_device(0).igd_status if b.get_device_count() > 0 else -1
		print("DISCOVER_MS %.2f result=%d status=%d" % [ms, result, status])
	print("CANCEL-MEASURE: done")
	quit(0)
