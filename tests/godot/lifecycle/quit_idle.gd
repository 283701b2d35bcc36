## The baseline of the quit measurements (tests/bench/cancellation.sh, issue 13): makes a
## NatUPNP and a NatUPNPDevice (so the extension is in use, as in the other quit scripts),
## starts no network work, waits a few frames and quits.
##
## Prints "QUIT_AT_MS <unix ms>" right before quit(); the caller takes the process exit time.
extends SceneTree

var upnp: NatUPNP
var device: NatUPNPDevice


func _initialize() -> void:
	upnp = NatUPNP.new()
	device = NatUPNPDevice.new()
	_quit_soon.call_deferred()


func _quit_soon() -> void:
	for i in 3:
		await process_frame
	await create_timer(0.3).timeout  # the same wait as the quit-during-request script
	print("QUIT-IDLE: quitting with nothing in flight")
	print("QUIT_AT_MS %d" % int(Time.get_unix_time_from_system() * 1000.0))
	quit(0)
