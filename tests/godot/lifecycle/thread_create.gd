## Creates NatUPNP and NatUPNPDevice inside a GDScript Thread, uses them there without the
## network and lets them be freed there, as the engine's UPNP docs do with UPNP.new() (issue 12).
## With godot-rust 0.5.5 built with lazy function tables (before issue 12) NatUPNP.new() in a
## thread aborted the whole process (exit 134). tests/godot/run-async.sh (step thread-create)
## requires exit 0, both lines below and no panic line.
extends SceneTree


func _work() -> String:
	var u := NatUPNP.new()
	var d := NatUPNPDevice.new()
	d.igd_status = NatUPNPDevice.IGD_STATUS_OK
	u.add_device(d)
	var text := "%s %s devices=%d gateway=%s" % [u.get_class(), d.get_class(), u.get_device_count(),
		u.get_gateway() == d]
	print("THREAD-CREATE: created ", text)
	return text  # u and d are freed on this thread when the function returns


func _initialize() -> void:
	var thread := Thread.new()
	thread.start(_work)
	var text = thread.wait_to_finish()
	print("THREAD-CREATE: main thread continues, the thread returned '%s'" % text)
	quit(0)
