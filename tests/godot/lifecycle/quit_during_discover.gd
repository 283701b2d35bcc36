## Starts a long discovery and quits right away. tests/godot/run-async.sh checks that the
## process ends long before the discovery timeout and reports no leak.
extends SceneTree

var upnp: NatUPNP


func _initialize() -> void:
	upnp = NatUPNP.new()
	upnp.discover_completed.connect(func(r): print("QUIT-DURING-DISCOVER: unexpected discover_completed(%d)" % r))
	upnp.discover_async(30000)
	_quit_soon.call_deferred()


func _quit_soon() -> void:
	await process_frame  # the worker has started the discovery
	print("QUIT-DURING-DISCOVER: quitting with discovery in flight")
	quit(0)
