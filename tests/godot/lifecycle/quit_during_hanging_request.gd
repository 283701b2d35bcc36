## Starts a port mapping against a control URL whose server (started outside Godot by
## tests/godot/run-async.sh, port given as `-- --port=N`) accepts the connection and never
## answers, then quits. The request cannot be interrupted mid-flight; the library's shutdown
## waits for it at most its HTTP bound (4 s total). run-async.sh prints the exit time and checks
## that the process ends, with exit code 0 and no leak report.
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
	quit(0)
