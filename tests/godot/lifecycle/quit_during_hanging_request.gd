## Starts a port mapping against a control URL whose server (started outside Godot by
## tests/godot/run-async.sh, port given as `-- --port=N`) accepts the connection and never
## answers, then quits. The request cannot be interrupted mid-flight; the library's shutdown
## waits for it under one second, then leaves it to time out in the background (library
## pinned). run-async.sh checks the shutdown's 1 s bound, the process-level 2 s bound from the
## "QUIT_AT_MS" line to the process exit, exit code 0 and no leak report.
extends SceneTree

var device: NatUPNPDevice


func _initialize() -> void:
	var port := 0
	for a in OS.get_cmdline_user_args():
		if a.begins_with("--port="):
			port = int(a.substr(7))
	device = NatUPNPDevice.new()
	device.igd_status = NatUPNPDevice.IGD_STATUS_OK
	device.igd_control_url = "http://127.0.0.1:%d/ctl" % port
	device.igd_service_type = "urn:schemas-upnp-org:service:WANIPConnection:1"
	device.igd_our_addr = "127.0.0.1"
	device.port_mapping_added.connect(func(r, p, proto): print("QUIT-DURING-REQUEST: unexpected port_mapping_added(%d)" % r))
	device.add_port_mapping_async(47500)
	_quit_when_connected.call_deferred()


func _quit_when_connected() -> void:
	await create_timer(0.5).timeout  # the worker has connected and sent its request
	print("QUIT-DURING-REQUEST: request in flight, quitting")
	print("QUIT_AT_MS %d" % int(Time.get_unix_time_from_system() * 1000.0))
	quit(0)
