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
extends SceneTree

const NatRoomScript = preload("res://addons/gdnat/nat_room.gd")
const IDLE_FRAMES := 100

var args := {}
var failures := 0
var frame_deltas := PackedInt64Array()
var _last_frame_us := -1
## The longest frame's own work (ms) since frames_start() (see _on_frame_end).
var work_max_ms := 0.0
var _frame_start_us := 0
## Per frame since frames_start(): [start usec, interval usec, own work usec].
var frame_log := []
var _frame_start_sched := [0, 0]
var _interval_wait_us := -1


func _initialize() -> void:
	for a in OS.get_cmdline_user_args():
		var kv := a.trim_prefix("--").split("=", true, 1)
		args[kv[0]] = kv[1] if kv.size() > 1 else ""
	# A steady ~1 kHz headless main loop (an idle frame is about 1 ms), as tests/bench/run.sh.
	Engine.max_fps = 0
	OS.low_processor_usage_mode_sleep_usec = 1000
	create_timer(60.0).timeout.connect(func():
		print("BENCH-FAIL watchdog: still running after 60 s")
		quit(3))
	_main.call_deferred()


func fail(text: String) -> void:
	failures += 1
	print("BENCH-FAIL ", text)


func sample(measure: String, value: float) -> void:
	print("SAMPLE %s %.3f" % [measure, value])


func _on_frame() -> void:
	var now := Time.get_ticks_usec()
	frame_deltas.append(now - _last_frame_us)
	_last_frame_us = now
	_frame_start_us = now
	var sched := schedstat()
	# Run-queue wait over the interval since the previous frame's start (not for the first).
	_interval_wait_us = (sched[1] - _frame_start_sched[1]) / 1000 if frame_deltas.size() > 1 else -1
	_frame_start_sched = sched


## The end of a frame's process step: the last node to process (FrameEnd) calls it. The work
## is from this frame's process_frame emission (our handler) to here: the signal handlers and
## resumed coroutines (NatRoom, gdnat's signal delivery) and every node's _process, gdnat's
## polling included; the loop's sleep and the time between frames are not in it.
func _on_frame_end() -> void:
	if _frame_start_us > 0:
		var work := Time.get_ticks_usec() - _frame_start_us
		work_max_ms = maxf(work_max_ms, work / 1000.0)
		var sched := schedstat()
		# [start, interval, work, main-thread CPU in the step, run-queue wait in the step,
		#  run-queue wait over the interval before it (-1: unknown)] (usec)
		frame_log.append([_frame_start_us, frame_deltas[-1], work,
			(sched[0] - _frame_start_sched[0]) / 1000, (sched[1] - _frame_start_sched[1]) / 1000, _interval_wait_us])
		_frame_start_us = 0


## The `count` frames with the longest own work: "at +T ms: work W ms (interval I ms)", T from
## `t0_us` (to match the step times of the `INFO ... step` lines).
func longest_frames(t0_us: int, count: int) -> String:
	var sorted := frame_log.duplicate()
	sorted.sort_custom(func(a, b): return a[2] > b[2])
	var parts := PackedStringArray()
	for f in sorted.slice(0, count):
		# (The on-CPU time, f[3], is not printed: the kernel updates it only at scheduling
		# events, so within one step it is stale; the run-queue wait is exact.)
		parts.append("at +%.1f ms: work %.2f ms, waiting for a CPU %.2f ms (interval %.2f ms)" % [
			(f[0] - t0_us) / 1000.0, f[2] / 1000.0, f[4] / 1000.0, f[1] / 1000.0])
	return "; ".join(parts)


## The `count` longest intervals between frames, with the main thread's run-queue wait in them.
func longest_intervals(t0_us: int, count: int) -> String:
	var sorted := frame_log.duplicate()
	sorted.sort_custom(func(a, b): return a[1] > b[1])
	var parts := PackedStringArray()
	for f in sorted.slice(0, count):
		parts.append("at +%.1f ms: interval %.2f ms, waiting for a CPU %s" % [(f[0] - t0_us) / 1000.0, f[1] / 1000.0,
			"?" if f[5] < 0 else "%.2f ms" % (f[5] / 1000.0)])
	return "; ".join(parts)


## The main thread's [time on a CPU, time waiting for one] in ns (/proc/thread-self/schedstat).
func schedstat() -> Array:
	var f := FileAccess.open("/proc/thread-self/schedstat", FileAccess.READ)
	if f == null:
		return [0, 0]
	var fields := f.get_line().split(" ")   # get_as_text() reads nothing: a /proc file has no length
	return [int(fields[0]), int(fields[1])] if fields.size() >= 2 else [0, 0]


## Processes after every other node and reports the end of the frame's process step.
class FrameEnd:
	extends Node
	var done: Callable

	func _init(callback: Callable) -> void:
		done = callback
		process_priority = 1 << 30

	func _process(_delta: float) -> void:
		done.call()


func frames_start() -> void:
	frame_deltas.clear()
	work_max_ms = 0.0
	_frame_start_us = 0
	frame_log.clear()
	_last_frame_us = Time.get_ticks_usec()
	process_frame.connect(_on_frame)


## Stops recording; the longest interval in ms.
func frames_stop() -> float:
	process_frame.disconnect(_on_frame)
	var longest := 0
	for d in frame_deltas:
		longest = maxi(longest, d)
	return longest / 1000.0


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
	root.add_child(FrameEnd.new(_on_frame_end))
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
