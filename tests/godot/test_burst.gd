## Issue 8 item 4, "bounded resources, and correct under load", on the real miniupnpd test bed
## (run inside the bed's LAN namespace by tests/godot/run-async.sh, step burst): 50 NatUPNP
## objects call discover_async() in the same frame, then one add_port_mapping_async() each (all
## in one frame), then one delete_port_mapping_async() each. Checks:
## - every discovery gives 0 with the bed's gateway, every add and delete gives 0, as one object
##   alone does;
## - the router's own table (upnpc -l; a failed or unparseable listing is a failure) holds each
##   object's mapping after the adds, and none after the deletes;
## - the router saw each validation request (GET of the description, GetStatusInfo,
##   GetExternalIPAddress) exactly once during the discovery burst, counted in miniupnpd's own
##   log (--router-log=PATH; an unreadable log, or no request in it, is a failure);
## - the process's thread count stays at most MAX_EXTRA_THREADS above the count before the
##   burst (sampled from /proc/self/task every frame), and its peak RSS (VmHWM) grows by at most
##   MAX_RSS_GROWTH_KIB.
## Before issue 8's fix this failed: discoveries ended with 27, adds and deletes with 23,
## mappings stayed on the router and the process peaked at about 66 extra threads.
extends "res://tests/lib/suite.gd"

const RouterTable := preload("res://tests/lib/router_table.gd")
const ROUTER_DESC := "http://10.77.0.1:5000/rootDesc.xml"
const LAN_ADDR := "10.77.0.2"
const OBJECTS := 50
const FIRST_PORT := 48100
const DESC := "gdnat-burst"
## The bound of each phase (a phase alone takes well under a second on the bed).
const PHASE_BOUND_MS := 30000
## docs/resources.md: the shared pool has at most 8 worker threads and the core at most 8
## validation threads; 8 more for Godot's own and a margin. The old code peaked at about 66.
const MAX_EXTRA_THREADS := 24
## Generous: 50 objects and their queues are a few hundred KiB; thread stacks touched by the
## pool and the validations a few MiB.
const MAX_RSS_GROWTH_KIB := 64 * 1024

var router_log := ""
var peak_threads := 0


func before_all() -> void:
	watchdog_seconds = 150.0
	for a in args:
		if a.begins_with("--router-log="):
			router_log = a.substr("--router-log=".length())


func _thread_count() -> int:
	return DirAccess.get_directories_at("/proc/%d/task" % OS.get_process_id()).size()


## A field of /proc/self/status in KiB (-1 when unreadable).
func _status_kib(field: String) -> int:
	var out := []
	if OS.execute("cat", ["/proc/%d/status" % OS.get_process_id()], out) != 0:
		return -1
	for line in str(out[0]).split("\n"):
		if line.begins_with(field + ":"):
			return int(line.substr(field.length() + 1).strip_edges().split(" ")[0])
	return -1


## Waits (sampling the thread count every frame) until `done` holds or the phase bound passes.
func _wait_for(done: Callable) -> bool:
	var t0 := Time.get_ticks_msec()
	while not done.call():
		peak_threads = maxi(peak_threads, _thread_count())
		if Time.get_ticks_msec() - t0 > PHASE_BOUND_MS:
			return false
		await process_frame
	peak_threads = maxi(peak_threads, _thread_count())
	return true


func _log_size() -> int:
	var f := FileAccess.open(router_log, FileAccess.READ)
	return -1 if f == null else f.get_length()


## The router log's text after byte `from` (null when unreadable).
func _log_since(from: int):
	var f := FileAccess.open(router_log, FileAccess.READ)
	if f == null or from < 0:
		return null
	f.seek(from)
	return f.get_buffer(f.get_length() - from).get_string_from_utf8()


func _count_lines(text: String, needle: String) -> int:
	var n := 0
	for line in text.split("\n"):
		if line.contains(needle):
			n += 1
	return n


func test_fifty_objects_discover_map_and_unmap_at_once() -> void:
	if not check(router_log != "" and FileAccess.file_exists(router_log), "miniupnpd's log is given and readable (--router-log=%s)" % router_log):
		return
	var threads_before := _thread_count()
	var hwm_before := _status_kib("VmHWM")
	peak_threads = threads_before
	var log_start := _log_size()

	var objects := []
	var discovered := {}
	for i in OBJECTS:
		var upnp := NatUPNP.new()
		upnp.discover_completed.connect(func(r): discovered[i] = r)
		objects.append(upnp)
	var queued := 0
	for upnp in objects:
		if upnp.discover_async() == 0:
			queued += 1
	check_eq(queued, OBJECTS, "every discover_async() in the same frame returned 0 (queued)")
	var finished := await _wait_for(func(): return discovered.size() == OBJECTS)
	check(finished, "all %d discoveries delivered within %d ms (got %d)" % [OBJECTS, PHASE_BOUND_MS, discovered.size()])
	var bad_discoveries := []
	for i in OBJECTS:
		var gateway: NatUPNPDevice = objects[i].get_gateway()
		if discovered.get(i, -1) != 0 or gateway == null or not gateway.is_valid_gateway() \
				or gateway.description_url != ROUTER_DESC or gateway.igd_our_addr != LAN_ADDR:
			bad_discoveries.append("object %d: result %s, gateway %s" % [i, discovered.get(i, "none"),
				"none" if gateway == null else "%s status %d" % [gateway.description_url, gateway.igd_status]])
	check(bad_discoveries.is_empty(), "every discovery gave 0 and the bed's valid gateway, as one alone does (bad: %s)" % [bad_discoveries])

	# The validation requests the router saw during the discovery burst (before any upnpc run).
	var text = _log_since(log_start)
	if check(text != null, "miniupnpd's log read after the discoveries"):
		var descs := _count_lines(text, "GET /rootDesc.xml")
		var status := _count_lines(text, "#GetStatusInfo")
		var external := _count_lines(text, "#GetExternalIPAddress")
		check(descs == 1 and status == 1 and external == 1,
			"the router saw each validation request once in the burst of %d discoveries (description GETs %d, GetStatusInfo %d, GetExternalIPAddress %d)" % [OBJECTS, descs, status, external])

	var added := {}
	for i in OBJECTS:
		objects[i].port_mapping_added.connect(func(r, p, proto): added[i] = [r, p, proto])
	for i in OBJECTS:
		objects[i].add_port_mapping_async(FIRST_PORT + i, 0, DESC, "UDP")
	finished = await _wait_for(func(): return added.size() == OBJECTS)
	check(finished, "all %d adds delivered (got %d)" % [OBJECTS, added.size()])
	var bad_adds := []
	for i in OBJECTS:
		if added.get(i, []) != [0, FIRST_PORT + i, "UDP"]:
			bad_adds.append("object %d: %s" % [i, added.get(i, "none")])
	check(bad_adds.is_empty(), "every add gave [0, port, \"UDP\"] (bad: %s)" % [bad_adds])

	var table := RouterTable.read(ROUTER_DESC)
	if check(table.ok, "upnpc -l after the adds: %s" % ("ok" if table.ok else table.error)):
		var wrong := []
		for i in OBJECTS:
			var rows := RouterTable.rows_of_port(table, FIRST_PORT + i)
			var want := ["UDP %d->%s:%d '%s'" % [FIRST_PORT + i, LAN_ADDR, FIRST_PORT + i, DESC]]
			if rows != want:
				wrong.append("port %d: %s" % [FIRST_PORT + i, rows])
		check(wrong.is_empty(), "the router's table has each object's mapping exactly once (wrong: %s)" % [wrong])

	var deleted := {}
	for i in OBJECTS:
		objects[i].port_mapping_deleted.connect(func(r, p, proto): deleted[i] = [r, p, proto])
	for i in OBJECTS:
		objects[i].delete_port_mapping_async(FIRST_PORT + i, "UDP")
	finished = await _wait_for(func(): return deleted.size() == OBJECTS)
	check(finished, "all %d deletes delivered (got %d)" % [OBJECTS, deleted.size()])
	var bad_deletes := []
	for i in OBJECTS:
		if deleted.get(i, []) != [0, FIRST_PORT + i, "UDP"]:
			bad_deletes.append("object %d: %s" % [i, deleted.get(i, "none")])
	check(bad_deletes.is_empty(), "every delete gave [0, port, \"UDP\"] (bad: %s)" % [bad_deletes])

	var final := RouterTable.read(ROUTER_DESC)
	var left := []
	if final.ok:
		for r in final.rows:
			if r.port >= FIRST_PORT and r.port < FIRST_PORT + OBJECTS:
				left.append("%s %d" % [r.proto, r.port])
	check(final.ok and left.is_empty(), "nothing of the burst is left on the router (upnpc -l: %s; left: %s)" % ["ok" if final.ok else final.error, left])

	var extra := peak_threads - threads_before
	check(extra <= MAX_EXTRA_THREADS, "peak threads %d, %d before the burst: %d extra (bound %d)" % [peak_threads, threads_before, extra, MAX_EXTRA_THREADS])
	var hwm_after := _status_kib("VmHWM")
	check(hwm_before > 0 and hwm_after > 0 and hwm_after - hwm_before <= MAX_RSS_GROWTH_KIB,
		"peak RSS (VmHWM) %d KiB, %d KiB before the burst: grew %d KiB (bound %d KiB)" % [hwm_after, hwm_before, hwm_after - hwm_before, MAX_RSS_GROWTH_KIB])
	objects.clear()
