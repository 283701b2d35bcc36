## Calls the blocking API of a main-thread NatUPNP from a GDScript Thread (the pattern the
## engine's documentation shows for UPNP). Documented behaviour: gdext refuses the call before
## gdnat's code runs, prints "attempted to access binding from different thread than main
## thread", and GDScript aborts the thread function at that line; the game keeps running.
## tests/godot/run-async.sh judges the output.
extends SceneTree

var upnp: NatUPNP
var value = "unset"
var after_call := false


func _work() -> void:
	value = upnp.discover(500)
	after_call = true


func _initialize() -> void:
	upnp = NatUPNP.new()
	var thread := Thread.new()
	thread.start(_work)
	thread.wait_to_finish()
	print("THREAD-CALL: value=%s after_call=%s main thread continues" % [value, after_call])
	print("THREAD-CALL: device count on the main thread = %d" % upnp.get_device_count())
	quit(0)
