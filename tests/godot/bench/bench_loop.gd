## The main loop shared by the benchmark scripts (tests/godot/bench/*_bench.gd, which extend
## it): `--key=value` arguments in `args`, a steady ~1 kHz headless main loop (as
## tests/bench/run.sh), a 60 s watchdog, `SAMPLE`/`BENCH-FAIL` output, and a frame recorder
## (frames_start()/frames_stop(): every interval between frames, each frame's own work, and the
## main thread's run-queue wait from /proc/thread-self/schedstat). A script overrides _main(),
## which runs once the first frame starts, and quits itself.
extends SceneTree

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
	_begin.call_deferred()


func _begin() -> void:
	root.add_child(FrameEnd.new(_on_frame_end))
	await _main()


## The script's work (overridden); it ends with quit().
func _main() -> void:
	quit(0)


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
