## Creates a NatUPNP inside a GDScript Thread. Documented behaviour with gdext 0.5.5: the
## object constructor refuses to run off the main thread and, because that happens inside a
## callback that cannot unwind, the process aborts. tests/godot/run-async.sh records it.
extends SceneTree


func _work() -> void:
	var u = NatUPNP.new()
	print("THREAD-CREATE: created ", u)


func _initialize() -> void:
	var thread := Thread.new()
	thread.start(_work)
	thread.wait_to_finish()
	print("THREAD-CREATE: main thread continues")
	quit(0)
