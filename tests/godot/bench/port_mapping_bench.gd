## One sample of issue 9's speed rows (tests/bench/port-mapping.sh starts one Godot process per
## sample, inside the real-router bed's LAN namespace, each with a user:// of its choosing).
##
##   godot --headless --path godot-project -s res://tests/bench/port_mapping_bench.gd --
##       --mode=node|engine --port=P [--allowed=FLAGS] [--expect-source=probe|record]
##       [--expect-method=PCP|UPNP]
##       [--renew=yes] [--hook=tests/bench/port-mapping.sh]
##
## node:   NatPortMapping added to the tree -> its `mapped` signal (time of the emission);
##         with --renew=yes then, in the same process: an idle window and a refresh() -> renewed
##         window (longest frame of each), the requests the router received during the renewal
##         (the hook reads nft counters in the router's namespace before and after), stop() ->
##         released (the router's entry deleted).
## engine: the engine's best manual path on this router: UPNP.new() + discover() + a device
##         filled by hand with the router's control URL + add_port_mapping (then deleted).
## Prints `SAMPLE <measure> <value>`, `INFO <text>` and `BENCH-FAIL <text>` lines; exit 0 only
## when the sample is valid. Never judges a number.
extends "res://tests/bench/bench_loop.gd"

const CONTROL_URL := "http://10.77.0.1:5000/ctl/IPConn"
const SERVICE_TYPE := "urn:schemas-upnp-org:service:WANIPConnection:2"
const OUR_ADDR := "10.77.0.2"
## Idle frames recorded as the frame reference, and frames recorded around a renewal.
const IDLE_FRAMES := 100
const AROUND_FRAMES := 5


func wait_frames(n: int) -> void:
	for i in n:
		await process_frame


## Waits frame by frame until `condition` holds or `seconds` passed; true if it held.
func until(condition: Callable, seconds: float) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000.0)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return false
		await process_frame
	return true


## The router's request counters through the stage script's hook: {pmp, http, ssdp} or {}.
func counters() -> Dictionary:
	var out := []
	var rc := OS.execute("bash", [args.get("hook", ""), "hook", "count"], out, true)
	var text := "".join(PackedStringArray(out)).strip_edges()
	var found := {}
	for word in text.split(" "):
		var kv := word.split("=")
		if kv.size() == 2 and kv[1].is_valid_int():
			found[kv[0]] = int(kv[1])
	if rc != 0 or found.size() != 3:
		fail("the counter hook failed (exit %d): %s" % [rc, text])
		return {}
	return found


func _main() -> void:
	var mode: String = args.get("mode", "")
	if mode == "engine":
		await bench_engine()
	elif mode == "node":
		await bench_node()
	else:
		fail("unknown --mode=%s" % mode)
	print("INFO done failures=%d" % failures)
	quit(0 if failures == 0 else 1)


func bench_engine() -> void:
	var port := int(args.get("port", "0"))
	var t0 := Time.get_ticks_usec()
	var upnp := UPNP.new()
	var r := upnp.discover()
	var dev := UPNPDevice.new()
	dev.description_url = CONTROL_URL.get_base_dir().get_base_dir() + "/rootDesc.xml"
	dev.service_type = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
	dev.igd_control_url = CONTROL_URL
	dev.igd_service_type = SERVICE_TYPE
	dev.igd_our_addr = OUR_ADDR
	dev.igd_status = UPNPDevice.IGD_STATUS_OK
	var a := dev.add_port_mapping(port, port, "gdnat-bench", "UDP", 0)
	var ms := (Time.get_ticks_usec() - t0) / 1000.0
	var gw := upnp.get_gateway()
	print("INFO engine discover=%d devices=%d gateway=%s add=%d" % [r, upnp.get_device_count(), "null" if gw == null else "found", a])
	if r == OK and a == OK:
		sample("engine_manual_ms", ms)
	else:
		fail("engine: discover %d, add_port_mapping %d" % [r, a])
	var d := dev.delete_port_mapping(port, "UDP")
	if d != OK:
		fail("engine: delete_port_mapping(%d) = %d" % [port, d])


func bench_node() -> void:
	var port := int(args.get("port", "0"))
	var node := NatPortMapping.new()
	node.port = port
	node.description = "gdnat-bench"
	node.allowed_protocols = int(args.get("allowed", "7"))
	var got := {}
	node.mapped.connect(func(address, external_port, method):
		if not got.has("mapped_us"):
			got.merge({"mapped_us": Time.get_ticks_usec(), "address": address, "port": external_port, "method": method}))
	node.failed.connect(func(result, message): got.merge({"failed": "%d %s" % [result, message]}))
	node.renewed.connect(func(): got["renewed_us"] = Time.get_ticks_usec())
	node.released.connect(func(): got["released"] = true)
	var t0 := Time.get_ticks_usec()
	root.add_child(node)   # autostart: starts on _ready, inside add_child
	if not await until(func(): return got.has("mapped_us") or got.has("failed"), 15.0):
		fail("no mapped/failed signal within 15 s")
		return
	if got.has("failed") or not got.has("mapped_us"):
		fail("failed: %s" % got.get("failed", "?"))
		return
	var source: String = node.gateway_source
	print("INFO mapped %s:%d method=%s source=%s" % [got.address, got.port, got.method, source])
	var want: String = args.get("expect-source", "")
	var method: String = args.get("expect-method", "")
	if not want.is_empty() and source != want:
		fail("gateway_source is '%s', not '%s'" % [source, want])
	elif not method.is_empty() and String(got.method).to_upper() != method:
		fail("mapped with %s, not %s" % [got.method, method])
	else:
		sample("mapped_ms", (got.mapped_us - t0) / 1000.0)
	if args.get("renew", "") == "yes":
		await renewal(node, got)
	node.stop()
	if not await until(func(): return got.has("released"), 10.0):
		fail("no released within 10 s of stop()")


## An idle window (the frame reference), then refresh() -> renewed with the router's
## counters read before and after.
func renewal(node: Node, got: Dictionary) -> void:
	# Let anything the mapping itself sent settle before counting.
	await create_timer(0.5).timeout
	frames_start()
	await wait_frames(IDLE_FRAMES)
	sample("idle_frame_max_ms", frames_stop())
	sample("idle_work_max_ms", work_max_ms)
	var before := counters()
	if before.is_empty():
		return
	frames_start()
	await wait_frames(AROUND_FRAMES)
	var t0 := Time.get_ticks_usec()
	node.refresh()
	var ok: bool = await until(func(): return got.has("renewed_us") or got.has("failed"), 10.0)
	await wait_frames(AROUND_FRAMES)
	var longest := frames_stop()
	var work := work_max_ms
	if not ok or not got.has("renewed_us"):
		fail("refresh() gave no renewed within 10 s (%s)" % got.get("failed", "no signal"))
		return
	var frames := frame_deltas.size()
	# Anything sent right after the answer (there should be nothing) is counted too.
	await create_timer(0.3).timeout
	var after := counters()
	if after.is_empty():
		return
	var pmp: int = after.pmp - before.pmp
	var http: int = after.http - before.http
	var ssdp: int = after.ssdp - before.ssdp
	print("INFO renewal %.1f ms, %d frames; router saw pmp=%d http=%d ssdp=%d" % [
		(got.renewed_us - t0) / 1000.0, frames, pmp, http, ssdp])
	sample("renew_requests", pmp + http + ssdp)
	sample("renew_frame_max_ms", longest)
	sample("renew_work_max_ms", work)
	sample("renew_ms", (got.renewed_us - t0) / 1000.0)
