## gdnat benchmark runner: the engine's built-in UPNP/UPNPDevice against gdnat's
## NatUPNP/NatUPNPDevice, measured in the same process on the same router.
##
##   godot --headless --path <project> -s res://bench/bench.gd -- --group=<group> [options]
##
## Groups (run.sh starts one process per group, inside the right network namespace):
##   router-discovery  UPNP.discover() vs NatUPNP.discover(), router present
##   no-router         discover(2000) and discover(500) on both, nothing answers
##   mapping           add/delete_port_mapping per call, blocking, both sides, same control URL
##   frames            longest main-thread frame while discovering + mapping + unmapping
##   first-map         from new() to a confirmed mapping
##   pairs             --pairs=1000 add/delete pairs: throughput and process RSS before/after;
##                     then --pair-reps=5 rounds of ours queued against the engine's blocking pairs
##
## Output: `SAMPLE <measure> <side> <value>` (one sample; the unit is part of the measure
## name), `INFO <key> <text>`, `WARN <text>`. This prints numbers; it never judges them.
## Only `--sides=engine` runs when the gdnat classes are not loaded.
extends SceneTree

const BenchUtil = preload("res://bench/bench_util.gd")

## Values of the test bed (tests/testbed/testbed.sh); overridable with --url= etc.
var control_url := "http://10.77.0.1:5000/ctl/IPConn"
var service_type := "urn:schemas-upnp-org:service:WANIPConnection:2"
var our_addr := "10.77.0.2"
var reps := 3
var sides := PackedStringArray()
var args := {}
var _fails := 0


func _initialize() -> void:
	for a in OS.get_cmdline_user_args():
		if a.begins_with("--") and a.contains("="):
			var kv := a.substr(2).split("=", true, 1)
			args[kv[0]] = kv[1]
	control_url = args.get("control-url", control_url)
	service_type = args.get("service-type", service_type)
	our_addr = args.get("our-addr", our_addr)
	reps = int(args.get("reps", "3"))
	Engine.max_fps = int(args.get("max-fps", "0"))
	# Headless Godot cannot draw, so it sleeps low_processor_usage_mode_sleep_usec (6900 by
	# default) after every frame. A fixed, shorter sleep gives a steady ~1 kHz main loop.
	OS.low_processor_usage_mode_sleep_usec = int(args.get("frame-sleep-usec", "1000"))
	var wanted: String = args.get("sides", "engine,ours")
	for s in wanted.split(","):
		if s == "ours" and not ClassDB.class_exists("NatUPNP"):
			print("WARN gdnat classes are not loaded (NatUPNP missing): only the engine side runs")
			continue
		sides.append(s)
	_main.call_deferred()


func _main() -> void:
	# A watchdog: every wait below is bounded too, this is the last resort.
	var watchdog := float(args.get("watchdog", "240"))
	create_timer(watchdog).timeout.connect(func():
		print("WARN watchdog: group still running after %.0f s" % watchdog)
		quit(3))
	var group: String = args.get("group", "")
	print("INFO group %s" % group)
	print("INFO godot %s" % Engine.get_version_info().string)
	print("INFO max_fps %d" % Engine.max_fps)
	print("INFO frame_sleep_usec %d" % OS.low_processor_usage_mode_sleep_usec)
	print("INFO sides %s" % ",".join(sides))
	if ClassDB.class_exists("NatUPNP"):
		print("INFO gdnat_loaded true")
	match group:
		"router-discovery": await bench_router_discovery()
		"no-router": await bench_no_router()
		"mapping": await bench_mapping()
		"frames": await bench_frames()
		"first-map": await bench_first_map()
		"pairs": await bench_pairs()
		_:
			print("WARN unknown group '%s'" % group)
			_fails += 1
	print("INFO done failures=%d" % _fails)
	quit(0 if _fails == 0 else 1)


# ---------------------------------------------------------------------------------------------
# Object factories: the engine classes by name, ours through ClassDB so this script parses
# even when the extension is missing.

func new_upnp(side: String) -> Object:
	return UPNP.new() if side == "engine" else ClassDB.instantiate("NatUPNP")


## A device filled by hand with the test bed's WANIPConnection control URL.
func hand_filled_device(side: String) -> Object:
	var dev: Object = UPNPDevice.new() if side == "engine" else ClassDB.instantiate("NatUPNPDevice")
	dev.description_url = control_url.get_base_dir().get_base_dir() + "/rootDesc.xml"
	dev.service_type = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
	dev.igd_control_url = control_url
	dev.igd_service_type = service_type
	dev.igd_our_addr = our_addr
	dev.igd_status = 0
	return dev


func sample(measure: String, side: String, value: float) -> void:
	print("SAMPLE %s %s %.3f" % [measure, side, value])


func info(key: String, text) -> void:
	print("INFO %s %s" % [key, str(text)])


func fail(text: String) -> void:
	_fails += 1
	print("WARN %s" % text)


func ms_since(t0_usec: int) -> float:
	return (Time.get_ticks_usec() - t0_usec) / 1000.0


# ---------------------------------------------------------------------------------------------
# Discovery

func bench_router_discovery() -> void:
	for i in reps:
		for side in _ordered_sides(i):
			var u: Object = new_upnp(side)
			var t0 := Time.get_ticks_usec()
			var r: int = u.discover()
			var ms := ms_since(t0)
			sample("discover_router_ms", side, ms)
			var gw = u.get_gateway()
			info("discover_router.%s.%d" % [side, i], "result=%d devices=%d gateway=%s status0=%s" % [
				r, u.get_device_count(), str(gw != null),
				str(u.get_device(0).igd_status) if u.get_device_count() > 0 else "-"])
			if r != 0:
				fail("%s discover() with the router present returned %d" % [side, r])
			await process_frame


func bench_no_router() -> void:
	for timeout_ms in [2000, 500]:
		for i in reps:
			for side in _ordered_sides(i):
				var u: Object = new_upnp(side)
				var t0 := Time.get_ticks_usec()
				var r: int = u.discover(timeout_ms)
				var ms := ms_since(t0)
				sample("discover_none_%d_ms" % timeout_ms, side, ms)
				info("discover_none_%d.%s.%d" % [timeout_ms, side, i], "result=%d devices=%d" % [r, u.get_device_count()])
				await process_frame


# ---------------------------------------------------------------------------------------------
# Blocking mapping calls, per call, on a hand-filled device with the same control URL

## Each port is added and deleted at once, so the router's table stays at the same size for
## every call (miniupnpd's cost per call grows with its table: with all adds first, the second
## half of each round was twice as slow, and the median of that two-humped distribution swung
## by 15 % from run to run). The sides alternate every `per_round` ports.
func bench_mapping() -> void:
	var count := int(args.get("ports", "200"))
	var rounds := 10 if count >= 20 else 1
	var per_round := count / rounds
	var base := {"engine": 40000, "ours": 40400}
	var done := {"engine": 0, "ours": 0}
	for round in rounds:
		for side in _ordered_sides(round):
			var dev: Object = hand_filled_device(side)
			var first: int = base[side] + done[side]
			var ok_add := 0
			var ok_del := 0
			for p in range(first, first + per_round):
				var t0 := Time.get_ticks_usec()
				var r: int = dev.add_port_mapping(p, p, "gdnat-bench", "UDP", 0)
				sample("add_port_mapping_ms", side, ms_since(t0))
				if r == 0:
					ok_add += 1
				else:
					fail("%s add_port_mapping(%d) = %d" % [side, p, r])
				t0 = Time.get_ticks_usec()
				r = dev.delete_port_mapping(p, "UDP")
				sample("delete_port_mapping_ms", side, ms_since(t0))
				if r == 0:
					ok_del += 1
				else:
					fail("%s delete_port_mapping(%d) = %d" % [side, p, r])
			done[side] += per_round
			info("mapping.%s.round%d" % [side, round], "ports %d-%d add_ok=%d delete_ok=%d" % [
				first, first + per_round - 1, ok_add, ok_del])
			await process_frame


# ---------------------------------------------------------------------------------------------
# Frame times while discovering + mapping + unmapping

func bench_frames() -> void:
	for i in reps:
		for side in _ordered_sides(i):
			var rec := BenchUtil.FrameRecorder.new(self)
			rec.start()
			# A few idle frames before and after, so the window has a baseline.
			await _frames(5)
			var port := 41000 + i + (0 if side == "engine" else 100)
			var ok := false
			if side == "engine":
				ok = await _engine_blocking_cycle(port)
			else:
				ok = await _ours_async_cycle(port)
			await _frames(5)
			rec.stop()
			if not ok:
				fail("%s frame cycle %d did not complete" % [side, i])
			sample("frame_max_ms", side, rec.max_ms())
			info("frames.%s.%d" % [side, i], "frames=%d median=%.3f ms longest=frame %d ok=%s" % [
				rec.count(), rec.percentile_ms(0.5), rec.max_index(), str(ok)])


## The engine: blocking discover, then (no gateway on this double-NAT bed) a hand-filled
## device maps and unmaps, one call per frame.
func _engine_blocking_cycle(port: int) -> bool:
	var u := UPNP.new()
	var r := u.discover()
	await process_frame
	var dev: Object = hand_filled_device("engine")
	var a: int = dev.add_port_mapping(port, port, "gdnat-bench", "UDP", 0)
	await process_frame
	var d: int = dev.delete_port_mapping(port, "UDP")
	await process_frame
	return r == 0 and a == 0 and d == 0


## Ours: discover_async, then add/delete_port_mapping_async on the discovered gateway.
func _ours_async_cycle(port: int) -> bool:
	var u: Object = ClassDB.instantiate("NatUPNP")
	var got := await BenchUtil.call_and_wait(self, u, "discover_async", [], "discover_completed", 10.0)
	if got.is_empty() or got[0] != 0:
		info("frames.ours.discover", str(got))
		return false
	var gw = u.get_gateway()
	if gw == null:
		info("frames.ours.gateway", "null")
		return false
	var added := await BenchUtil.call_and_wait(self, gw, "add_port_mapping_async",
		[port, port, "gdnat-bench", "UDP", 0], "port_mapping_added", 10.0)
	var deleted := await BenchUtil.call_and_wait(self, gw, "delete_port_mapping_async",
		[port, "UDP"], "port_mapping_deleted", 10.0)
	return not added.is_empty() and added[0] == 0 and not deleted.is_empty() and deleted[0] == 0


# ---------------------------------------------------------------------------------------------
# From new() to a confirmed mapping

func bench_first_map() -> void:
	for i in reps:
		for side in _ordered_sides(i):
			var port := 41200 + i + (0 if side == "engine" else 100)
			var ms := -1.0
			var cleanup: Object = hand_filled_device(side)
			if side == "engine":
				# The engine cannot map after discover on this bed (double NAT: igd_status 5, no
				# gateway), so its time is discover() plus a hand-filled device's add_port_mapping.
				var t0 := Time.get_ticks_usec()
				var u := UPNP.new()
				var r := u.discover()
				var a: int = hand_filled_device("engine").add_port_mapping(port, port, "gdnat-bench", "UDP", 0)
				ms = ms_since(t0)
				if r != 0 or a != 0:
					fail("engine first map: discover %d add %d" % [r, a])
			else:
				var t0 := Time.get_ticks_usec()
				var u: Object = ClassDB.instantiate("NatUPNP")
				var got := await BenchUtil.call_and_wait(self, u, "discover_async", [], "discover_completed", 10.0)
				var gw = u.get_gateway() if not got.is_empty() and got[0] == 0 else null
				if gw == null:
					fail("ours first map: discover_async gave %s, no gateway" % str(got))
				else:
					var catcher := BenchUtil.Catcher.new()
					var added := await BenchUtil.call_and_wait(self, gw, "add_port_mapping_async",
						[port, port, "gdnat-bench", "UDP", 0], "port_mapping_added", 10.0, catcher)
					if added.is_empty() or added[0] != 0:
						fail("ours first map: port_mapping_added %s" % str(added))
					else:
						# The emission time, not the time this coroutine resumed.
						ms = (catcher.at_usec - t0) / 1000.0
			if ms >= 0.0:
				sample("first_map_ms", side, ms)
			var d: int = cleanup.delete_port_mapping(port, "UDP")
			if d != 0:
				fail("%s first map cleanup delete(%d) = %d" % [side, port, d])
			await process_frame


# ---------------------------------------------------------------------------------------------
# Add/delete pairs: throughput and RSS

func bench_pairs() -> void:
	var count := int(args.get("pairs", "1000"))
	var reps := int(args.get("pair-reps", "5"))
	var devices := {}
	for side in sides:
		var dev: Object = null
		if side == "engine":
			dev = hand_filled_device("engine")
		else:
			var u: Object = ClassDB.instantiate("NatUPNP")
			var got := await BenchUtil.call_and_wait(self, u, "discover_async", [], "discover_completed", 10.0)
			dev = u.get_gateway() if not got.is_empty() and got[0] == 0 else null
			if dev == null:
				fail("ours pairs: discover_async gave %s, no gateway" % str(got))
				continue
		devices[side] = dev
	for side in devices:
		var dev: Object = devices[side]
		var base := _pairs_base(side)
		# Warm up (first connections, allocator pools), then measure.
		await _pairs(side, dev, base - 10, 10)
		await _frames(3)
		var rss0 := BenchUtil.rss_kib()
		var static0 := OS.get_static_memory_usage()
		var t0 := Time.get_ticks_usec()
		var ok: int = await _pairs(side, dev, base, count)
		var secs := (Time.get_ticks_usec() - t0) / 1e6
		await _frames(3)
		var rss1 := BenchUtil.rss_kib()
		var static1 := OS.get_static_memory_usage()
		sample("pairs_per_s", side, count / secs)
		sample("pairs_rss_before_kib", side, rss0)
		sample("pairs_rss_after_kib", side, rss1)
		sample("pairs_rss_growth_kib", side, rss1 - rss0)
		info("pairs.%s" % side, "pairs=%d ok=%d seconds=%.3f rss_before_kib=%d rss_after_kib=%d static_growth_bytes=%d" % [
			count, ok, secs, rss0, rss1, static1 - static0])
		if ok != count:
			fail("%s pairs: only %d of %d succeeded" % [side, ok, count])
	# Queued against blocking, `reps` rounds with the sides alternating (one run of either moves
	# by 15 % or more with the router's state and the machine's load, so the row is a median).
	# Ours: all add and delete calls issued in one frame; the device's worker runs them in call
	# order and the results arrive as signals. The engine has no way to queue: its blocking
	# pairs are the comparison.
	for round in reps:
		for side in _ordered_sides(round):
			if not devices.has(side):
				continue
			var dev: Object = devices[side]
			var first := _pairs_base(side) + 2000
			var rss0 := BenchUtil.rss_kib()
			var t0 := Time.get_ticks_usec()
			var done := 0
			if side == "engine":
				done = await _pairs(side, dev, first, count)
			else:
				var counts := await _queued_pairs(dev, first, count)
				done = mini(counts[0], counts[1])
			var secs := (Time.get_ticks_usec() - t0) / 1e6
			await _frames(3)
			var rss1 := BenchUtil.rss_kib()
			sample("pairs_queued_per_s", side, count / secs)
			sample("pairs_queued_rss_after_kib", side, rss1)
			sample("pairs_queued_rss_growth_kib", side, rss1 - rss0)
			info("pairs_queued.%s.round%d" % [side, round], "pairs=%d ok=%d seconds=%.3f rss_before_kib=%d rss_after_kib=%d" % [
				count, done, secs, rss0, rss1])
			if done != count:
				fail("%s queued pairs round %d: only %d of %d succeeded" % [side, round, done, count])


## First port of a side's pairs (the queued rounds use 2000 above it).
func _pairs_base(side: String) -> int:
	return 43000 if side == "engine" else 42000


## Issues `count` add_port_mapping_async + delete_port_mapping_async pairs at once on `dev`,
## then waits (bounded) for all 2*count signals. Returns [adds ok, deletes ok].
func _queued_pairs(dev: Object, first: int, count: int) -> Array:
	var counter := BenchUtil.Counter.new()
	dev.port_mapping_added.connect(counter.on_added)
	dev.port_mapping_deleted.connect(counter.on_deleted)
	for p in range(first, first + count):
		dev.add_port_mapping_async(p, p, "gdnat-bench", "UDP", 0)
		dev.delete_port_mapping_async(p, "UDP")
	var deadline := Time.get_ticks_msec() + 120000
	while counter.seen < 2 * count and Time.get_ticks_msec() < deadline:
		await process_frame
	dev.port_mapping_added.disconnect(counter.on_added)
	dev.port_mapping_deleted.disconnect(counter.on_deleted)
	if counter.seen < 2 * count:
		fail("queued pairs: %d of %d signals within 120 s" % [counter.seen, 2 * count])
	return [counter.added_ok, counter.deleted_ok]


## `count` add+delete pairs on ports first..first+count-1; returns how many fully succeeded.
## Ours: each pair is add_port_mapping_async, await port_mapping_added, delete_port_mapping_async,
## await port_mapping_deleted. Engine: the blocking calls.
func _pairs(side: String, dev: Object, first: int, count: int) -> int:
	var ok := 0
	for p in range(first, first + count):
		if side == "engine":
			var a: int = dev.add_port_mapping(p, p, "gdnat-bench", "UDP", 0)
			var d: int = dev.delete_port_mapping(p, "UDP")
			if a == 0 and d == 0:
				ok += 1
		else:
			var added := await BenchUtil.call_and_wait(self, dev, "add_port_mapping_async",
				[p, p, "gdnat-bench", "UDP", 0], "port_mapping_added", 10.0)
			var deleted := await BenchUtil.call_and_wait(self, dev, "delete_port_mapping_async",
				[p, "UDP"], "port_mapping_deleted", 10.0)
			if not added.is_empty() and added[0] == 0 and not deleted.is_empty() and deleted[0] == 0:
				ok += 1
	return ok


# ---------------------------------------------------------------------------------------------

## Alternates which side goes first from one repetition to the next.
func _ordered_sides(i: int) -> PackedStringArray:
	var out := sides.duplicate()
	if i % 2 == 1:
		out.reverse()
	return out


func _frames(n: int) -> void:
	for _i in n:
		await process_frame
