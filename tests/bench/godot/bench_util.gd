## Helpers for bench.gd: frame-time recording, bounded signal waits, process RSS.
extends RefCounted


## Records the time between consecutive SceneTree.process_frame emissions (main-thread
## frame times, Time.get_ticks_usec deltas).
class FrameRecorder:
	extends RefCounted
	var _tree: SceneTree
	var _last := -1
	var _deltas := PackedInt64Array()

	func _init(tree: SceneTree) -> void:
		_tree = tree

	## Starts recording; the first delta is measured from this call.
	func start() -> void:
		_last = Time.get_ticks_usec()
		_tree.process_frame.connect(_on_frame)

	## Stops recording.
	func stop() -> void:
		if _tree.process_frame.is_connected(_on_frame):
			_tree.process_frame.disconnect(_on_frame)

	func _on_frame() -> void:
		var now := Time.get_ticks_usec()
		_deltas.append(now - _last)
		_last = now

	## Index of the longest frame (0 = the first after start()).
	func max_index() -> int:
		var best := 0
		for i in _deltas.size():
			if _deltas[i] > _deltas[best]:
				best = i
		return best

	## Number of recorded frames.
	func count() -> int:
		return _deltas.size()

	## Longest frame, in ms.
	func max_ms() -> float:
		var m := 0
		for d in _deltas:
			m = maxi(m, d)
		return m / 1000.0

	## The q-quantile frame time (nearest rank), in ms.
	func percentile_ms(q: float) -> float:
		if _deltas.is_empty():
			return 0.0
		var sorted := _deltas.duplicate()
		sorted.sort()
		var idx := clampi(ceili(q * sorted.size()) - 1, 0, sorted.size() - 1)
		return sorted[idx] / 1000.0


## Catches one emission of a signal with up to four arguments, and when it happened.
## `done` is emitted once: on that emission, or on timeout (then `fired` stays false).
class Catcher:
	extends RefCounted
	signal done
	var fired := false
	var finished := false
	var values := []
	var at_usec := 0

	func on_signal(a = null, b = null, c = null, d = null) -> void:
		if fired or finished:
			return
		at_usec = Time.get_ticks_usec()
		fired = true
		values = [a, b, c, d]
		_finish()

	func on_timeout() -> void:
		_finish()

	func _finish() -> void:
		if not finished:
			finished = true
			done.emit()


## Counts port_mapping_added / port_mapping_deleted emissions and their successes.
class Counter:
	extends RefCounted
	var seen := 0
	var added_ok := 0
	var deleted_ok := 0

	func on_added(result: int, _port: int, _proto: String) -> void:
		seen += 1
		if result == 0:
			added_ok += 1

	func on_deleted(result: int, _port: int, _proto: String) -> void:
		seen += 1
		if result == 0:
			deleted_ok += 1


## Connects to `signal_name` on `obj`, calls `method` with `call_args`, then waits (at most
## `timeout_s`; resuming right at the emission, not at the next frame) for the signal. Returns the signal's arguments, or [] on
## timeout or when the method/signal does not exist. `catcher` may be passed to read the
## emission time.
static func call_and_wait(tree: SceneTree, obj: Object, method: String, call_args: Array,
		signal_name: String, timeout_s: float, catcher: Catcher = null) -> Array:
	if obj == null or not obj.has_method(method) or not obj.has_signal(signal_name):
		print("WARN %s has no %s() or no signal %s" % [str(obj), method, signal_name])
		return []
	if catcher == null:
		catcher = Catcher.new()
	var sig := Signal(obj, signal_name)
	var cb := catcher.on_signal
	sig.connect(cb)
	var timer := tree.create_timer(timeout_s)
	timer.timeout.connect(catcher.on_timeout)
	obj.callv(method, call_args)
	if not catcher.finished:
		await catcher.done
	timer.timeout.disconnect(catcher.on_timeout)
	# Expire the timer now: left running, each call's timer stayed in the tree for its whole
	# timeout, and a thousand of them made every later frame slower (the queued pairs measured
	# after the awaited ones lost about 5 % to them).
	timer.time_left = 0.0
	if sig.is_connected(cb):
		sig.disconnect(cb)
	if not catcher.fired:
		print("WARN %s: no %s within %.1f s" % [method, signal_name, timeout_s])
		return []
	var n := 0
	for s in obj.get_signal_list():
		if s["name"] == signal_name:
			n = s["args"].size()
	return catcher.values.slice(0, n)


## This process's resident set size in KiB, from /proc/self/status (VmRSS), or -1.
static func rss_kib() -> int:
	var f := FileAccess.open("/proc/self/status", FileAccess.READ)
	if f == null:
		return -1
	while not f.eof_reached():
		var line := f.get_line()
		if line.begins_with("VmRSS:"):
			return int(line.substr(6).strip_edges().split(" ")[0])
	return -1
