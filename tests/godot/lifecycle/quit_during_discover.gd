## Starts a long discovery and quits while it runs. tests/godot/run-async.sh checks that the
## process ends long before the discovery timeout, that the extension's shutdown stayed within
## its 1 s bound and that no leak is reported.
##
##   -- --wait-validation   first wait (at most 5 s) until a description download is in flight
##                          (a gdnat-validate thread exists): used with the simulated gateway's
##                          desc-hang scenario, so the quit happens during validation
##
## Prints "QUIT_AT_MS <unix ms>" right before quit() for the process-level bound.
extends SceneTree

const Threads = preload("res://tests/lifecycle/threads.gd")

var upnp: NatUPNP


func _initialize() -> void:
	upnp = NatUPNP.new()
	upnp.discover_completed.connect(func(r): print("QUIT-DURING-DISCOVER: unexpected discover_completed(%d)" % r))
	upnp.discover_async(30000, 2, "")
	_quit_soon.call_deferred()


func _quit_soon() -> void:
	await process_frame  # the worker has started the discovery
	if "--wait-validation" in OS.get_cmdline_user_args():
		var deadline := Time.get_ticks_msec() + 5000
		while Threads.count("gdnat-validate") < 1 and Time.get_ticks_msec() < deadline:
			await process_frame
		print("QUIT-DURING-DISCOVER: validation threads in flight: %d" % Threads.count("gdnat-validate"))
	print("QUIT-DURING-DISCOVER: worker threads: %d" % Threads.count("gdnat-worker"))
	print("QUIT-DURING-DISCOVER: quitting with discovery in flight")
	print("QUIT_AT_MS %d" % int(Time.get_unix_time_from_system() * 1000.0))
	quit(0)
