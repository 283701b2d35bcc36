## Starts a port mapping whose request hangs, then quits while it is in flight (issue 13:
## quitting never waits on the network). Two ways to hang, given after `--`:
##
##   --port=N     the control URL is http://127.0.0.1:N/ctl, where a server started outside
##                Godot (tests/godot/run-async.sh, tests/bench/cancellation.sh) accepts the
##                connection and never answers: the SOAP call waits for its answer
##   --url=URL    any control URL, for example an address in the test bed that drops the SYN:
##                the TCP connect hangs
##
## The cancel interrupts the connect or the wait for the answer, so the process ends about as
## fast as an idle quit (tests/godot/lifecycle/quit_idle.gd). The callers check exit code 0,
## no leak report, the shutdown report ("0 left") and the time from the "QUIT_AT_MS" line to
## the process exit.
extends SceneTree

var device: NatUPNPDevice


func _initialize() -> void:
	var url := ""
	for a in OS.get_cmdline_user_args():
		if a.begins_with("--port="):
			url = "http://127.0.0.1:%d/ctl" % int(a.substr(7))
		elif a.begins_with("--url="):
			url = a.substr(6)
	device = NatUPNPDevice.new()
	device.igd_status = NatUPNPDevice.IGD_STATUS_OK
	device.igd_control_url = url
	device.igd_service_type = "urn:schemas-upnp-org:service:WANIPConnection:1"
	device.igd_our_addr = "127.0.0.1"
	device.port_mapping_added.connect(func(r, p, proto): print("QUIT-DURING-REQUEST: unexpected port_mapping_added(%d)" % r))
	device.add_port_mapping_async(47500)
	_quit_when_connected.call_deferred()


func _quit_when_connected() -> void:
	await create_timer(0.3).timeout  # the worker is connecting, or has sent its request
	print("QUIT-DURING-REQUEST: request in flight, quitting")
	print("QUIT_AT_MS %d" % int(Time.get_unix_time_from_system() * 1000.0))
	quit(0)
