## Drives the demo without a person: the headless end-to-end run (`--auto`) and the screenshot run
## (`--screenshot=PATH`). It calls the same functions the buttons call, and talks to the runner
## script (tests/demo/run-demo.sh) through stdout lines and marker files:
##
##   STEP <name> PASS|FAIL <detail>         one line per demo-side step (no-gateway, discover,
##                                          external-ip, map-/probe-/unmap-/leak-<proto>,
##                                          node-mapped, node-released)
##   NODE_MAPPED <address>:<port> <method>  the demo's NatPortMapping reached `mapped`
##   EXTERNAL_IP <address>                  what the gateway reported
##   DOUBLE_NAT yes|no                      the gateway's double_nat flag
##   READY_FOR_PROBE <port> <proto>         the port is mapped and the demo listens on it
##   PROBE_RECEIVED <token> from <peer>     a token arrived while mapped
##   READY_FOR_NEGATIVE_PROBE <port> <proto>  unmapped; still listening to catch leaks
##   PROBE_RECEIVED_AFTER_UNMAP <token> from <peer>  a token arrived although unmapped (a failure)
##   MAX_FRAME_MS <ms>                      longest frame of the run
##   DEMO_DONE <exit code>
##
## With --control-dir=DIR the demo waits after READY_FOR_NEGATIVE_PROBE until the runner creates
## DIR/negative-<proto>-done (bounded by --probe-timeout); without it, it listens for 3 s.
extends Node

const Names := preload("res://demo/result_names.gd")
const ProbeListener := preload("res://demo/probe_listener.gd")

var _demo: Node
var _options: Dictionary
var _failed := false
var _finished := false


## Starts the run; `demo` is the demo scene's root, `options` its parsed command line.
func start(demo: Node, options: Dictionary) -> void:
	_demo = demo
	_options = options
	Engine.max_fps = 120  # headless has no vsync; do not spin a core for nothing
	_arm_deadline(options.deadline)
	if options.screenshot != "":
		_screenshot_run.call_deferred()
	else:
		_auto_run.call_deferred()


func _auto_run() -> void:
	say("DEMO_START port=%d protos=%s lease=%d" % [_options.port, ",".join(PackedStringArray(_options.protos)),
			_options.lease])
	await _map_before_discovery()
	if not await _discover_and_query():
		_finish(1)
		return
	for proto in _options.protos:
		await _prove_mapping(_options.port, proto)
	await _prove_node()
	_finish(1 if _failed else 0)


## The demo's NatPortMapping: Start (as the button does), wait (bounded) for `mapped`, check
## that the node row shows it (state, method, endpoint, a renewal time), then Stop and wait for
## `released`.
func _prove_node() -> void:
	var node: Node = _demo.port_mapping
	if node == null:
		step("node-mapped", false, "NatPortMapping is missing (the gdnat extension is not loaded)")
		return
	var t0 := Time.get_ticks_msec()
	var result: int = _demo.start_port_mapping(_options.node_port)
	var deadline := t0 + 15000
	while node.get_state_name() not in ["mapped", "failed", "released"] and Time.get_ticks_msec() < deadline:
		await get_tree().process_frame
	_demo.update_node_labels()
	var shown: String = _demo.node_status_text()
	var mapped: bool = node.get_state_name() == "mapped"
	var endpoint := "%s:%d" % [node.external_address, node.external_port]
	var ok: bool = result == 0 and mapped and shown.contains("state: mapped") \
			and shown.contains("method: %s" % node.method) and shown.contains("external: %s" % endpoint) \
			and node.seconds_to_renewal > 0.0 and not shown.contains("next renewal: -")
	step("node-mapped", ok, "start() %d, %s in %d ms; the row shows: %s" % [result,
			node.get_state_name(), Time.get_ticks_msec() - t0, shown])
	if mapped:
		say("NODE_MAPPED %s %s" % [endpoint, node.method])
	var released := [false]
	node.released.connect(func() -> void: released[0] = true, CONNECT_ONE_SHOT)
	_demo.stop_port_mapping()
	deadline = Time.get_ticks_msec() + 10000
	while not released[0] and node.get_state_name() != "released" and Time.get_ticks_msec() < deadline:
		await get_tree().process_frame
	step("node-released", node.get_state_name() == "released", "after Stop: %s" % node.get_state_name())


## Map before any discovery: must fail cleanly with UPNP_RESULT_NO_GATEWAY, as the engine does.
func _map_before_discovery() -> void:
	var proto: String = _options.protos[0]
	var result: int = await _demo.map_port(_options.port, proto, _options.lease)
	step("no-gateway", result == Names.RESULT_NAMES.find("UPNP_RESULT_NO_GATEWAY"),
			"Map before Discover answered %s" % Names.result_name(result))


## Discovery + external address. Returns false when nothing usable was found.
func _discover_and_query() -> bool:
	if _demo.upnp == null:
		step("discover", false, "the gdnat extension is not loaded (NatUPNP missing): run tests/build.sh")
		return false
	var t0 := Time.get_ticks_msec()
	var result: int = await _demo.discover(_options.discover_timeout)
	var gateway: Object = _demo.gateway_device()
	var ms := Time.get_ticks_msec() - t0
	if result != 0 or gateway == null:
		var why: String = Names.describe_result(result) if result != 0 else "no valid gateway"
		step("discover", false, "%s (%d device(s), %d ms)" % [why, _demo.device_count(), ms])
		return false
	step("discover", true, "%s status=%s control=%s our_addr=%s (%d device(s), %d ms)" % [
			gateway.description_url, Names.igd_status_name(gateway.igd_status),
			gateway.igd_control_url, gateway.igd_our_addr, _demo.device_count(), ms])
	say("DOUBLE_NAT %s" % ("yes" if gateway.get("double_nat") else "no"))
	t0 = Time.get_ticks_msec()
	var external: Array = await _demo.query_external_ip()
	ms = Time.get_ticks_msec() - t0
	step("external-ip", external[0] == 0 and external[1] != "", "%s %s (%d ms)" % [
			external[1] if external[1] != "" else "(empty)",
			Names.result_name(external[0]), ms])
	say("EXTERNAL_IP %s" % (external[1] if external[1] != "" else "-"))
	return true


## Map, prove reachability with the runner's probe, unmap, prove it is closed again.
func _prove_mapping(port: int, proto: String) -> void:
	var listener: Node = ProbeListener.new()
	add_child(listener)
	var err: Error = listener.start(port, proto)
	if err != OK:
		step("listen-%s" % proto, false, "cannot listen on %s %d: %s" % [proto, port,
				error_string(err)])
		listener.queue_free()
		return
	var received: Array[String] = []
	listener.probe_received.connect(func(token: String, peer: String) -> void:
		received.append("%s from %s" % [token, peer]))

	var t0 := Time.get_ticks_msec()
	var result: int = await _demo.map_port(port, proto, _options.lease)
	step("map-%s" % proto, result == 0, "%s %d: %s (%d ms)" % [proto, port,
			Names.result_name(result), Time.get_ticks_msec() - t0])
	if result != 0:
		listener.queue_free()
		return

	say("READY_FOR_PROBE %d %s" % [port, proto])
	var deadline: int = Time.get_ticks_msec() + _options.probe_timeout * 1000
	while received.is_empty() and Time.get_ticks_msec() < deadline:
		await get_tree().process_frame
	if received.is_empty():
		step("probe-%s" % proto, false, "no token arrived within %d s" % _options.probe_timeout)
	else:
		say("PROBE_RECEIVED %s" % received[0])
		step("probe-%s" % proto, true, "received %s" % received[0])
	received.clear()

	t0 = Time.get_ticks_msec()
	result = await _demo.unmap_port(port, proto)
	step("unmap-%s" % proto, result == 0, "%s %d: %s (%d ms)" % [proto, port,
			Names.result_name(result), Time.get_ticks_msec() - t0])

	say("READY_FOR_NEGATIVE_PROBE %d %s" % [port, proto])
	await _wait_negative_window(proto, received)
	for line in received:
		say("PROBE_RECEIVED_AFTER_UNMAP %s" % line)
	listener.stop()
	listener.queue_free()


## Keeps listening while the runner sends a probe that must not arrive.
func _wait_negative_window(proto: String, received: Array[String]) -> void:
	var marker := ""
	var deadline := Time.get_ticks_msec() + 3000
	if _options.control_dir != "":
		marker = _options.control_dir.path_join("negative-%s-done" % proto)
		deadline = Time.get_ticks_msec() + _options.probe_timeout * 1000
	while Time.get_ticks_msec() < deadline:
		if marker != "" and FileAccess.file_exists(marker):
			break
		await get_tree().process_frame
	if not received.is_empty():
		step("leak-%s" % proto, false, "token arrived after unmap: %s" % received[0])


func _screenshot_run() -> void:
	say("DEMO_START screenshot %s" % _options.screenshot)
	if not await _discover_and_query():
		_finish(1)
		return
	var mapped: Array[String] = []
	for proto in _options.protos:
		var result: int = await _demo.map_port(_options.port, proto, _options.lease)
		if result == 0:
			mapped.append(proto)
	var node: Node = _demo.port_mapping
	if node != null:
		_demo.start_port_mapping(_options.node_port)
		var deadline := Time.get_ticks_msec() + 15000
		while node.get_state_name() not in ["mapped", "failed", "released"] and Time.get_ticks_msec() < deadline:
			await get_tree().process_frame
		_demo.update_node_labels()
	# Let the UI settle (layout, scroll-following log), then grab the drawn frame.
	for i in 30:
		await get_tree().process_frame
	await RenderingServer.frame_post_draw
	var image := get_viewport().get_texture().get_image()
	var err := image.save_png(_options.screenshot)
	step("screenshot", err == OK, "%s %dx%d: %s" % [_options.screenshot, image.get_width(),
			image.get_height(), error_string(err)])
	for proto in mapped:
		await _demo.unmap_port(_options.port, proto)
	if node != null:
		_demo.stop_port_mapping()
		var deadline := Time.get_ticks_msec() + 10000
		while node.get_state_name() != "released" and Time.get_ticks_msec() < deadline:
			await get_tree().process_frame
	_finish(1 if _failed or mapped.size() != _options.protos.size() else 0)


## Prints one step verdict line and remembers failures.
func step(name: String, ok: bool, detail: String) -> void:
	if not ok:
		_failed = true
	say("STEP %s %s %s" % [name, "PASS" if ok else "FAIL", detail])


## Prints one protocol line for the runner.
func say(line: String) -> void:
	print(line)


func _finish(code: int) -> void:
	if _finished:
		return
	_finished = true
	say("MAX_FRAME_MS %.1f" % _demo.max_frame_ms)
	say("DEMO_DONE %d" % code)
	get_tree().quit(code)


## Ends the run with code 3 if it is still going after `seconds`.
func _arm_deadline(seconds: int) -> void:
	var timer := get_tree().create_timer(seconds, true, false, true)
	timer.timeout.connect(_on_deadline.bind(seconds))


func _on_deadline(seconds: int) -> void:
	if not _finished:
		say("STEP deadline FAIL the demo did not finish within %d s" % seconds)
		_finish(3)
