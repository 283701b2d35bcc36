## Issue 10's speed samples with the real engine on the two-site bed (tests/bench/p2p.sh runs it
## inside a player's LAN namespace):
##
##   godot --headless --path godot-project -s res://tests/bench/p2p_bench.gd --
##       --mode=stun|host|join --stun=IP:PORT [--tracker=IP:PORT --room=NAME] [--reps=N]
##
## stun:      N x NatStun.query_async() -> queried, then N x probe_behaviour_async() ->
##            behaviour_probed (call to the signal's emission).
## host/join: 100 idle frames (the frame reference), then NatRoom.host()/join() until ENet is
##            connected (addons/gdnat/nat_room.gd), recording every frame interval meanwhile;
##            the host prints `HOST-WAITING` when it is in the room, so the joiner is started
##            only then and its time is "room join -> ENet connected" with the host there.
## Prints `SAMPLE <measure> <value>`, `INFO <text>`, `BENCH-FAIL <text>`; exit 0 only when every
## sample was taken. Never judges a number.
extends "res://tests/bench/bench_loop.gd"

const NatRoomScript = preload("res://addons/gdnat/nat_room.gd")
const IDLE_FRAMES := 100

## Calls `start` (a Callable returning a RESULT_*), then waits for `sig` (bounded); returns
## [elapsed ms from the call to the emission, the signal's arguments], or [] on failure.
func timed(start: Callable, sig: Signal, seconds: float) -> Array:
	var got := {}
	var on_signal := func(a, b, c, d):   # both signals timed here have four arguments
		if not got.has("at"):
			got.merge({"at": Time.get_ticks_usec(), "values": [a, b, c, d]})
	sig.connect(on_signal)
	var t0 := Time.get_ticks_usec()
	var rc: int = start.call()
	var deadline := Time.get_ticks_msec() + int(seconds * 1000.0)
	while rc == 0 and not got.has("at") and Time.get_ticks_msec() < deadline:
		await process_frame
	sig.disconnect(on_signal)
	if rc != 0 or not got.has("at"):
		fail("%s: returned %d, signal %s" % [sig.get_name(), rc, "seen" if got.has("at") else "not seen"])
		return []
	return [(got.at - t0) / 1000.0, got.values]


func _main() -> void:
	var stun: PackedStringArray = String(args.get("stun", "")).split(":")
	match args.get("mode", ""):
		"stun": await bench_stun(stun[0], int(stun[1]))
		"host", "join": await bench_room(stun[0], int(stun[1]))
		_: fail("unknown --mode=%s" % args.get("mode", ""))
	print("INFO done failures=%d" % failures)
	quit(0 if failures == 0 else 1)


func bench_stun(address: String, port: int) -> void:
	var reps := int(args.get("reps", "10"))
	for i in reps:
		var s := NatStun.new()
		var r := await timed(func(): return s.query_async(address, port, 0), s.queried, 5.0)
		if not r.is_empty() and r[1][0] == NatStun.RESULT_OK:
			sample("stun_query_ms", r[0])
		elif not r.is_empty():
			fail("queried result %d: %s" % [r[1][0], s.last_error])
	for i in reps:
		var s := NatStun.new()
		var r := await timed(func(): return s.probe_behaviour_async(address, port, ""), s.behaviour_probed, 10.0)
		if not r.is_empty() and r[1][0] == NatStun.RESULT_OK:
			sample("behaviour_ms", r[0])
			if i == 0:
				print("INFO behaviour mapping=%s filtering=%s verdict=%s" % [r[1][1], r[1][2], r[1][3]])
		elif not r.is_empty():
			fail("behaviour_probed result %d: %s" % [r[1][0], s.last_error])


func bench_room(address: String, port: int) -> void:
	var tracker: PackedStringArray = String(args.get("tracker", "")).split(":")
	var hosting: bool = args.get("mode") == "host"
	frames_start()
	for i in IDLE_FRAMES:
		await process_frame
	sample("idle_frame_max_ms", frames_stop())
	sample("idle_work_max_ms", work_max_ms)
	var room = NatRoomScript.new()
	room.stun_address = address
	room.stun_port = port
	room.tracker_address = tracker[0]
	room.tracker_port = int(tracker[1])
	room.wait_for_peer_ms = 20000
	# Lambdas capture locals by value: the start time lives in a dictionary.
	var t := {"t0": 0}
	room.progressed.connect(func(step, text):
		print("INFO %.1f ms step %s: %s" % [(Time.get_ticks_usec() - t.t0) / 1000.0, step, text])
		if hosting and step == "room":
			print("HOST-WAITING"))
	frames_start()
	var t0 := Time.get_ticks_usec()
	t.t0 = t0
	var peer: ENetMultiplayerPeer
	if hosting:
		peer = await room.host(args.get("room", ""))
	else:
		peer = await room.join(args.get("room", ""))
	var ms := (Time.get_ticks_usec() - t0) / 1000.0
	var longest := frames_stop()
	var work := work_max_ms
	var index := 0
	for k in frame_deltas.size():
		if frame_deltas[k] > frame_deltas[index]:
			index = k
	print("INFO %s: %s; %d frames, the longest (%.2f ms) is frame %d; report %s" % [
		args.get("mode"), room.describe(), frame_deltas.size(), longest, index, JSON.stringify(room.report)])
	print("INFO %s: the longest frames' own work: %s" % [args.get("mode"), longest_frames(t0, 4)])
	print("INFO %s: the longest intervals: %s" % [args.get("mode"), longest_intervals(t0, 3)])
	if peer == null or peer.get_connection_status() != MultiplayerPeer.CONNECTION_CONNECTED:
		fail("not connected: %s" % room.last_error)
		return
	sample("connect_ms", ms)
	sample("frame_max_ms", longest)
	sample("work_max_ms", work)
	# Keep the connection a moment so the other side's ENet sees it too, then close.
	var until := Time.get_ticks_msec() + 1500
	while Time.get_ticks_msec() < until:
		await process_frame
	get_multiplayer().multiplayer_peer.close()
	get_multiplayer().multiplayer_peer = null
