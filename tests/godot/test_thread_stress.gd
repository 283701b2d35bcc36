## Stress test of issue 12 on the real miniupnpd test bed (run inside the bed's LAN namespace by
## tests/godot/run-async.sh, step threads-stress): eight GDScript threads run the engine docs'
## Thread example at once (gdnat's NatUPNP, the published text with only the class name changed,
## each run with its own SERVER_PORT so that its mappings can be told apart), wave after wave
## until it has run 100 times, while async objects add, query and delete mappings on the main
## thread. Every run must leave exactly its two mappings (UDP and TCP, the project's name as
## description) in the router's own table (upnpc -l; a failed or unparseable listing is a
## failure), and its thread must have ended. Its `upnp_completed.emit(OK)` never reaches a handler:
## Godot 4.6 refuses emit() from a thread on a node in the tree (for the engine's UPNP too, see
## docs_example.gd); an emission with an error code would fail the run. The main thread deletes each wave's mappings with the
## async twins during the next wave; at the end nothing of this test may be left on the router.
## run-suite.sh fails the run on any panic, script error or leak report.
extends "res://tests/lib/suite.gd"

const Docs := preload("res://tests/conformance/docs_example.gd")
const RouterTable := preload("res://tests/lib/router_table.gd")
const ROUTER_DESC := "http://10.77.0.1:5000/rootDesc.xml"
const LAN_ADDR := "10.77.0.2"
const RUNS := 100
const PARALLEL := 8
## Run i (0-based) maps FIRST_PORT + i, UDP and TCP.
const FIRST_PORT := 47600
## Wave w's main-thread async mapping (UDP).
const ASYNC_FIRST_PORT := 47750
const ASYNC_DESC := "gdnat-stress-async"
## Generous bound for one wave (8 discoveries and 16 mappings take well under a second here).
const WAVE_BOUND_MS := 30000

var project_name := ""
## Signal results of the main-thread async objects, as [signal, args...].
var async_events := []


func before_all() -> void:
	watchdog_seconds = 240.0
	project_name = str(ProjectSettings.get_setting("application/config/name"))


func _expected_rows(port: int) -> Array:
	return ["UDP %d->%s:%d '%s'" % [port, LAN_ADDR, port, project_name],
		"TCP %d->%s:%d '%s'" % [port, LAN_ADDR, port, project_name]]


func _count(signal_name: String) -> int:
	return async_events.filter(func(e): return e[0] == signal_name).size()


func test_eight_threads_run_the_docs_example_100_times() -> void:
	var upnp := NatUPNP.new()
	upnp.discover_async()
	if not check_eq(await upnp.discover_completed, 0, "main thread: discover_async() finds the router"):
		return
	var gateway := upnp.get_gateway()
	if not check(gateway != null, "main thread: a gateway for the async work"):
		return
	gateway.port_mapping_added.connect(func(r, p, proto): async_events.append(["added", r, p, proto]))
	gateway.port_mapping_deleted.connect(func(r, p, proto): async_events.append(["deleted", r, p, proto]))
	upnp.external_address_queried.connect(func(r, a): async_events.append(["queried", r, a]))

	var runs := 0
	var wave := 0
	var bad_runs := []        # runs whose emissions were not [OK]
	var bad_tables := []      # table problems, one text each
	var bad_async := []       # main-thread async results that were not 0
	var previous_ports := []  # the ports of the wave before, deleted during this wave
	var longest_wave_ms := 0
	while runs < RUNS:
		var n := mini(PARALLEL, RUNS - runs)
		var t0 := Time.get_ticks_msec()
		var nodes := []
		for i in n:
			var port := FIRST_PORT + runs + i
			var script := Docs.script_for("NatUPNP", port)
			if script == null:
				check(false, "the docs example compiles for port %d" % port)
				return
			var node := Docs.make_node(script, "DocsThreadExample%d" % i)
			node.set_meta("port", port)
			root.add_child(node)  # _ready(): its thread starts
			nodes.append(node)
		# Meanwhile, on the main thread: the async twins.
		async_events.clear()
		var async_port := ASYNC_FIRST_PORT + wave
		gateway.add_port_mapping_async(async_port, 0, ASYNC_DESC, "UDP")
		upnp.query_external_address_async()
		for port in previous_ports:
			gateway.delete_port_mapping_async(port, "UDP")
			gateway.delete_port_mapping_async(port, "TCP")
		var expected_deletes := previous_ports.size() * 2
		while nodes.any(func(node): return node.thread.is_alive()) \
				or _count("added") < 1 or _count("queried") < 1 or _count("deleted") < expected_deletes:
			if Time.get_ticks_msec() - t0 > WAVE_BOUND_MS:
				check(false, "wave %d did not finish within %d ms (threads alive: %d, async events: %s)" % [wave,
					WAVE_BOUND_MS, nodes.filter(func(node): return node.thread.is_alive()).size(), async_events])
				for node in nodes:
					root.remove_child(node)  # joins the thread
					node.free()
				return
			await process_frame
		var ports := []
		for node in nodes:
			root.remove_child(node)  # _exit_tree(): waits for the (finished) thread
			var emitted: Array = node.get_meta("emitted")
			if emitted != [] and emitted != [OK]:
				bad_runs.append("port %d emitted %s" % [node.get_meta("port"), emitted])
			ports.append(node.get_meta("port"))
			node.free()
		runs += n
		longest_wave_ms = maxi(longest_wave_ms, Time.get_ticks_msec() - t0)
		for e in async_events:
			if e[1] != 0 or (e[0] == "queried" and e[2] == ""):
				bad_async.append(e)
		# The router's own table: this wave's mappings, the async one; the previous wave's gone.
		var table := RouterTable.read(ROUTER_DESC)
		if not table.ok:
			bad_tables.append("wave %d: %s" % [wave, table.error])
		else:
			for port in ports:
				var rows := RouterTable.rows_of_port(table, port)
				rows.sort()
				var want := _expected_rows(port)
				want.sort()
				if rows != want:
					bad_tables.append("wave %d: port %d has %s, expected %s" % [wave, port, rows, want])
			for port in previous_ports:
				if not RouterTable.rows_of_port(table, port).is_empty():
					bad_tables.append("wave %d: port %d of the wave before is still mapped" % [wave, port])
			var async_rows := RouterTable.rows_of_port(table, async_port)
			if async_rows != ["UDP %d->%s:%d '%s'" % [async_port, LAN_ADDR, async_port, ASYNC_DESC]]:
				bad_tables.append("wave %d: async port %d has %s" % [wave, async_port, async_rows])
		gateway.delete_port_mapping_async(async_port, "UDP")
		var deleted: Array = await gateway.port_mapping_deleted
		if deleted != [0, async_port, "UDP"]:
			bad_async.append(["deleted", deleted])
		previous_ports = ports
		wave += 1
	# The last wave's mappings.
	async_events.clear()
	for port in previous_ports:
		gateway.delete_port_mapping_async(port, "UDP")
		gateway.delete_port_mapping_async(port, "TCP")
	var t_end := Time.get_ticks_msec()
	while _count("deleted") < previous_ports.size() * 2 and Time.get_ticks_msec() - t_end < WAVE_BOUND_MS:
		await process_frame
	for e in async_events:
		if e[1] != 0:
			bad_async.append(e)

	check_eq(runs, RUNS, "the docs example ran %d times in %d waves of up to %d threads (longest wave %d ms)" % [runs, wave, PARALLEL, longest_wave_ms])
	check(bad_runs.is_empty(), "no run emitted an error through upnp_completed (bad: %s)" % [bad_runs])
	check(bad_tables.is_empty(), "after every wave the router's table (upnpc -l) had exactly each run's UDP and TCP mapping, the async one, and none of the wave before (problems: %s)" % [bad_tables])
	check(bad_async.is_empty() and _count("deleted") == previous_ports.size() * 2,
		"every main-thread async add/query/delete during the waves gave 0 (bad: %s)" % [bad_async])
	var final := RouterTable.read(ROUTER_DESC)
	var left := []
	if final.ok:
		for r in final.rows:
			if (r.port >= FIRST_PORT and r.port < FIRST_PORT + RUNS) or (r.port >= ASYNC_FIRST_PORT and r.port < ASYNC_FIRST_PORT + wave):
				left.append("%s %d" % [r.proto, r.port])
	check(final.ok and left.is_empty(), "nothing of this test is left on the router (upnpc -l: %s; left: %s)" % ["ok" if final.ok else final.error, left])
