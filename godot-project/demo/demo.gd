## gdnat demo: discover a UPnP internet gateway, map and unmap a port, query the external IP;
## and a NatPortMapping node (its own row: state, method, external endpoint, seconds to the
## next renewal; Start/Stop), which keeps a port mapped with PCP, NAT-PMP or UPnP by itself.
##
## Every router call goes through NatUPNP's async twins (`*_async` + a completion signal), so the
## UI keeps drawing while the network works; the status bar shows the frame time to prove it.
## The same functions (discover, map_port, unmap_port, query_external_ip) are used by the buttons
## and by the headless driver (demo/auto_run.gd, started with `-- --auto` or `-- --screenshot=`).
extends Control

const Names := preload("res://demo/result_names.gd")
const AutoRun := preload("res://demo/auto_run.gd")

## Description written into every mapping the demo makes.
const MAPPING_DESCRIPTION := "gdnat demo"
## How long to wait for a completion signal beyond the operation's own timeout.
const SIGNAL_SLACK_MS := 15000
## Argument count of each completion signal (used to catch them with a matching callback).
const SIGNAL_ARITY := {
	&"discover_completed": 1,
	&"port_mapping_added": 3,
	&"port_mapping_deleted": 3,
	&"external_address_queried": 2,
}
const COLOR_OK := Color(0.55, 0.85, 0.6)
const COLOR_ERROR := Color(1.0, 0.45, 0.42)
const COLOR_WARN := Color(1.0, 0.8, 0.4)
const COLOR_DIM := Color(0.55, 0.6, 0.68)

## The demo's NatPortMapping port (the NatUPNP buttons use 7777 by default).
const NODE_PORT := 7778

## Emitted for every line written to the log (the headless driver mirrors them).
signal logged(text: String)

## The demo's NatPortMapping node (made in code so that the scene still loads without the
## extension), or null when the extension is not loaded.
var port_mapping: Node

## The gdnat NatUPNP object, or null when the extension is not loaded.
var upnp: Object
## The last external address the gateway reported ("" when unknown).
var external_address := ""
## Longest frame seen so far, in milliseconds (the first frames, which load the scene, excluded).
var max_frame_ms := 0.0
## Duration of the last frame, in milliseconds.
var last_frame_ms := 0.0

var _busy_count := 0
var _busy_text := ""
var _last_frame_usec := 0
var _frames := 0
var _frame_label_refresh_usec := 0
var _mapping_rows := {}

@onready var _port_spin: SpinBox = %PortSpin
@onready var _proto_option: OptionButton = %ProtoOption
@onready var _lease_spin: SpinBox = %LeaseSpin
@onready var _discover_button: Button = %DiscoverButton
@onready var _map_button: Button = %MapButton
@onready var _unmap_button: Button = %UnmapButton
@onready var _external_ip_button: Button = %ExternalIpButton
@onready var _device_tree: Tree = %DeviceTree
@onready var _mapping_tree: Tree = %MappingTree
@onready var _log_view: RichTextLabel = %LogView
@onready var _status_label: Label = %StatusLabel
@onready var _frame_label: Label = %FrameLabel
@onready var _external_ip_label: Label = %ExternalIp
@onready var _node_state_label: Label = %NodeState
@onready var _node_method_label: Label = %NodeMethod
@onready var _node_endpoint_label: Label = %NodeEndpoint
@onready var _node_renewal_label: Label = %NodeRenewal
@onready var _node_button: Button = %NodeButton


func _ready() -> void:
	_setup_tables()
	if _proto_option.item_count == 0:
		_proto_option.add_item("UDP")
		_proto_option.add_item("TCP")
	_discover_button.pressed.connect(_on_discover_pressed)
	_map_button.pressed.connect(_on_map_pressed)
	_unmap_button.pressed.connect(_on_unmap_pressed)
	_external_ip_button.pressed.connect(_on_external_ip_pressed)
	if ClassDB.class_exists("NatUPNP"):
		upnp = ClassDB.instantiate("NatUPNP")
		upnp.connect("device_found", _on_device_found)
		log_line("gdnat loaded. Press Discover to look for your router.")
	else:
		log_line("The gdnat extension is not loaded (NatUPNP missing). Build and install it with "
				+ "tests/build.sh, then restart.", COLOR_ERROR)
	_setup_port_mapping()
	_update_buttons()
	var options := parse_options(OS.get_cmdline_user_args())
	if options.auto or options.screenshot != "":
		_show_options(options)
		var driver: Node = AutoRun.new()
		driver.name = "AutoRun"
		add_child(driver)
		driver.start(self, options)


func _process(_delta: float) -> void:
	var now := Time.get_ticks_usec()
	if _last_frame_usec != 0:
		last_frame_ms = (now - _last_frame_usec) / 1000.0
		_frames += 1
		if _frames > 3:
			max_frame_ms = maxf(max_frame_ms, last_frame_ms)
	_last_frame_usec = now
	if now - _frame_label_refresh_usec > 100000:
		_frame_label_refresh_usec = now
		_frame_label.text = "frame %.1f ms · longest %.1f ms" % [last_frame_ms, max_frame_ms]
		update_node_labels()


# ---------------------------------------------------------------------------------------------
# Operations (shared by the buttons and the headless driver)
# ---------------------------------------------------------------------------------------------

## Searches for gateways; fills the device list. Returns the UPNP_RESULT_* code.
func discover(timeout_ms: int = 2000) -> int:
	if not _require_upnp():
		return Names.RESULT_NAMES.find("UPNP_RESULT_UNKNOWN_ERROR")
	_device_tree.clear()
	_device_tree.create_item()
	_begin_busy("discovering gateways…")
	log_line("Discover: searching for InternetGatewayDevice (timeout %d ms)…" % timeout_ms)
	var t0 := Time.get_ticks_msec()
	var got := await _call_async("discover_async", [timeout_ms, 2, "InternetGatewayDevice"],
			&"discover_completed", timeout_ms + SIGNAL_SLACK_MS)
	_end_busy()
	var elapsed := Time.get_ticks_msec() - t0
	if got.is_empty():
		log_line("Discover: no answer from gdnat within %d ms." % (timeout_ms + SIGNAL_SLACK_MS),
				COLOR_ERROR)
		return Names.RESULT_NAMES.find("UPNP_RESULT_UNKNOWN_ERROR")
	var result: int = got[0]
	_refresh_devices()
	if result != 0:
		log_line("Discover failed after %d ms: %s" % [elapsed, Names.describe_result(result)],
				COLOR_ERROR)
		return result
	var count := device_count()
	log_line("Discover: %d device(s) in %d ms." % [count, elapsed], COLOR_OK)
	var gateway := gateway_device()
	if gateway == null:
		log_line("No usable internet gateway among them; Map will answer UPNP_RESULT_NO_GATEWAY.",
				COLOR_WARN)
	else:
		log_line("Gateway: %s (control %s, our address %s)." % [gateway.description_url,
				gateway.igd_control_url, gateway.igd_our_addr], COLOR_OK)
		if gateway.get("double_nat"):
			log_line("Double NAT: the router's WAN address is private/reserved, so another NAT sits "
					+ "upstream; a mapping only opens this router.", COLOR_WARN)
	return result


## Maps `port` (external = internal) for `proto` with a lease of `lease_s` seconds.
## Returns the UPNP_RESULT_* code.
func map_port(port: int, proto: String, lease_s: int) -> int:
	if not _require_upnp():
		return Names.RESULT_NAMES.find("UPNP_RESULT_UNKNOWN_ERROR")
	var row := _mapping_row(port, proto)
	row.set_text(2, "%d s" % lease_s if lease_s > 0 else "permanent")
	_set_result(row, "mapping…", COLOR_DIM)
	_begin_busy("mapping %d/%s…" % [port, proto])
	log_line("Map: asking for %s %d -> this host:%d, lease %d s…" % [proto, port, port, lease_s])
	var t0 := Time.get_ticks_msec()
	var got := await _call_async("add_port_mapping_async",
			[port, port, MAPPING_DESCRIPTION, proto, lease_s], &"port_mapping_added", SIGNAL_SLACK_MS)
	_end_busy()
	var result := _result_of(got)
	var elapsed := Time.get_ticks_msec() - t0
	if result == 0:
		_set_result(row, "mapped (%s)" % _short(result), COLOR_OK)
		log_line("Map: %s %d is forwarded to this host (%d ms)." % [proto, port, elapsed], COLOR_OK)
	else:
		_set_result(row, "map failed: " + _short(result), COLOR_ERROR)
		log_line("Map %s %d failed: %s" % [proto, port, _explain(got, result)], COLOR_ERROR)
	return result


## Removes the mapping of `port`/`proto`. Returns the UPNP_RESULT_* code.
func unmap_port(port: int, proto: String) -> int:
	if not _require_upnp():
		return Names.RESULT_NAMES.find("UPNP_RESULT_UNKNOWN_ERROR")
	var row := _mapping_row(port, proto)
	_set_result(row, "removing…", COLOR_DIM)
	_begin_busy("unmapping %d/%s…" % [port, proto])
	log_line("Unmap: removing %s %d…" % [proto, port])
	var t0 := Time.get_ticks_msec()
	var got := await _call_async("delete_port_mapping_async", [port, proto],
			&"port_mapping_deleted", SIGNAL_SLACK_MS)
	_end_busy()
	var result := _result_of(got)
	var elapsed := Time.get_ticks_msec() - t0
	if result == 0:
		_set_result(row, "removed (%s)" % _short(result), COLOR_DIM)
		log_line("Unmap: %s %d removed (%d ms)." % [proto, port, elapsed], COLOR_OK)
	else:
		_set_result(row, "unmap failed: " + _short(result), COLOR_ERROR)
		log_line("Unmap %s %d failed: %s" % [proto, port, _explain(got, result)], COLOR_ERROR)
	return result


## Asks the gateway for its external address. Returns [result code, address].
func query_external_ip() -> Array:
	if not _require_upnp():
		return [Names.RESULT_NAMES.find("UPNP_RESULT_UNKNOWN_ERROR"), ""]
	_begin_busy("querying external address…")
	var got := await _call_async("query_external_address_async", [],
			&"external_address_queried", SIGNAL_SLACK_MS)
	_end_busy()
	var result := _result_of(got)
	var address: String = got[1] if got.size() > 1 else ""
	if result == 0:
		external_address = address
		_external_ip_label.text = "external IP: %s" % (address if address != "" else "(empty)")
		log_line("External IP: %s" % (address if address != "" else "(router reported none)"),
				COLOR_OK)
	else:
		log_line("External IP failed: %s" % _explain(got, result), COLOR_ERROR)
	return [result, address]


## Starts the demo's NatPortMapping on `port` (UDP). Returns start()'s RESULT_* code (-1
## without the extension). The node's signals are written to the log.
func start_port_mapping(port: int = NODE_PORT) -> int:
	if port_mapping == null:
		log_line("NatPortMapping is not available (gdnat extension not loaded).", COLOR_ERROR)
		return -1
	port_mapping.port = port
	log_line("NatPortMapping: starting on UDP %d (PCP, NAT-PMP or UPnP, whichever the router speaks)…" % port)
	var result: int = port_mapping.start()
	update_node_labels()
	return result


## Stops the demo's NatPortMapping: it deletes its mapping; `released` follows.
func stop_port_mapping() -> void:
	if port_mapping != null:
		port_mapping.stop()


## The node row as shown: state, method, external endpoint, next renewal ("" without the
## extension).
func node_status_text() -> String:
	return " · ".join(PackedStringArray([_node_state_label.text, _node_method_label.text,
			_node_endpoint_label.text, _node_renewal_label.text]))


## Refreshes the node row from the node's properties (every 100 ms and on each state change).
func update_node_labels() -> void:
	if port_mapping == null:
		return
	var state: String = port_mapping.get_state_name()
	_node_state_label.text = "state: %s" % state
	_node_state_label.add_theme_color_override("font_color", COLOR_OK if state == "mapped"
			else COLOR_ERROR if state == "failed" else COLOR_WARN if state == "lost" else COLOR_DIM)
	_node_method_label.text = "method: %s" % (port_mapping.method if port_mapping.method != "" else "-")
	_node_endpoint_label.text = "external: %s" % ("%s:%d" % [port_mapping.external_address,
			port_mapping.external_port] if port_mapping.external_port > 0 else "-")
	var next: float = port_mapping.seconds_to_renewal
	_node_renewal_label.text = "next renewal: %s" % ("%d s" % ceili(next) if next >= 0.0 else "-")
	var running := state not in ["idle", "released"]
	_node_button.text = "Stop node" if running else "Start node"


## Number of devices the last discovery found.
func device_count() -> int:
	if upnp == null or not upnp.has_method("get_device_count"):
		return 0
	return upnp.get_device_count()


## The first valid gateway (NatUPNPDevice), or null.
func gateway_device() -> Object:
	# get_gateway() on an empty list prints an engine error (as UPNP does), so ask only after
	# a discovery found something.
	if upnp == null or not upnp.has_method("get_gateway") or device_count() == 0:
		return null
	return upnp.get_gateway()


## Writes a timestamped line to the log view (and to stdout, for headless runs).
func log_line(text: String, color: Color = Color(0.85, 0.87, 0.9)) -> void:
	var stamp := _timestamp()
	_log_view.append_text("[color=#%s]%s[/color]  [color=#%s]%s[/color]\n" % [
			COLOR_DIM.to_html(false), stamp, color.to_html(false), _escape_bbcode(text)])
	print("[demo %s] %s" % [stamp, text])
	logged.emit(text)


## Parses the demo's command-line options (the arguments after `--`).
## --auto, --port=N, --proto=TCP|UDP|BOTH, --lease=S, --control-dir=DIR, --screenshot=PATH,
## --discover-timeout=MS, --probe-timeout=S, --deadline=S, --node-port=N (the NatPortMapping's).
static func parse_options(args: PackedStringArray) -> Dictionary:
	var options := {
		"auto": false, "port": 7777, "protos": ["TCP"], "lease": 3600, "control_dir": "",
		"screenshot": "", "discover_timeout": 2000, "probe_timeout": 20, "deadline": 120,
		"node_port": NODE_PORT,
	}
	for arg in args:
		var key := arg.get_slice("=", 0)
		var value := arg.substr(key.length() + 1)
		match key:
			"--auto": options.auto = true
			"--port": options.port = value.to_int()
			"--proto":
				var upper := value.to_upper()
				options.protos = ["TCP", "UDP"] if upper == "BOTH" else Array(upper.split(","))
			"--lease": options.lease = value.to_int()
			"--control-dir": options.control_dir = value
			"--screenshot": options.screenshot = value
			"--discover-timeout": options.discover_timeout = value.to_int()
			"--probe-timeout": options.probe_timeout = value.to_int()
			"--deadline": options.deadline = value.to_int()
			"--node-port": options.node_port = value.to_int()
	return options


# ---------------------------------------------------------------------------------------------
# Buttons
# ---------------------------------------------------------------------------------------------

func _on_discover_pressed() -> void:
	await discover()


func _on_map_pressed() -> void:
	await map_port(int(_port_spin.value), _selected_proto(), int(_lease_spin.value))


func _on_unmap_pressed() -> void:
	await unmap_port(int(_port_spin.value), _selected_proto())


func _on_external_ip_pressed() -> void:
	await query_external_ip()


func _on_node_button_pressed() -> void:
	if port_mapping == null:
		return
	# A failed node may still be waiting for its retry: Stop first, then Start.
	if port_mapping.get_state_name() in ["idle", "released"]:
		start_port_mapping()
	else:
		stop_port_mapping()


## Makes the demo's NatPortMapping (not autostarted: it maps when Start is pressed or the
## headless run starts it) and logs its signals.
func _setup_port_mapping() -> void:
	_node_button.pressed.connect(_on_node_button_pressed)
	if not ClassDB.class_exists("NatPortMapping"):
		_node_button.disabled = true
		_node_state_label.text = "state: extension not loaded"
		return
	port_mapping = ClassDB.instantiate("NatPortMapping")
	port_mapping.name = "PortMapping"
	port_mapping.autostart = false
	port_mapping.port = NODE_PORT
	port_mapping.description = "gdnat demo node"
	add_child(port_mapping)
	port_mapping.state_changed.connect(func(_state: int) -> void: update_node_labels())
	port_mapping.mapped.connect(func(address: String, port: int, method: String) -> void:
		log_line("NatPortMapping: mapped, reachable at %s:%d through %s." % [address, port, method], COLOR_OK))
	port_mapping.renewed.connect(func() -> void: log_line("NatPortMapping: renewed.", COLOR_DIM))
	port_mapping.lost.connect(func(reason: String) -> void:
		log_line("NatPortMapping: lost (%s); mapping again…" % reason, COLOR_WARN))
	port_mapping.failed.connect(func(result: int, message: String) -> void:
		log_line("NatPortMapping: failed (%d): %s" % [result, message], COLOR_ERROR))
	port_mapping.released.connect(func() -> void: log_line("NatPortMapping: released (mapping deleted)."))
	update_node_labels()


## Shows the headless run's port, protocol and lease in the input fields.
func _show_options(options: Dictionary) -> void:
	_port_spin.value = options.port
	_lease_spin.value = options.lease
	for i in _proto_option.item_count:
		if _proto_option.get_item_text(i) == options.protos[0]:
			_proto_option.select(i)


func _selected_proto() -> String:
	return _proto_option.get_item_text(_proto_option.selected)


# ---------------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------------

func _on_device_found(device: Object) -> void:
	log_line("Found %s (%s)." % [device.description_url,
			Names.igd_status_name(device.igd_status)], COLOR_DIM)
	_add_device_row(device)


## Rebuilds the device list from NatUPNP's device list (the authoritative one after discovery).
func _refresh_devices() -> void:
	if upnp == null or not upnp.has_method("get_device_count"):
		return
	_device_tree.clear()
	_device_tree.create_item()
	for i in upnp.get_device_count():
		_add_device_row(upnp.get_device(i))


func _add_device_row(device: Object) -> void:
	var item := _device_tree.create_item(_device_tree.get_root())
	var ok: bool = device.igd_status == 0
	item.set_text(0, device.description_url)
	item.set_tooltip_text(0, "%s\nservice: %s" % [device.service_type, device.igd_service_type])
	item.set_text(1, Names.igd_status_name(device.igd_status))
	item.set_custom_color(1, COLOR_OK if ok else COLOR_ERROR)
	item.set_text(2, device.igd_control_url)
	item.set_text(3, device.igd_our_addr)
	var double_nat: bool = device.get("double_nat") == true
	item.set_text(4, "yes" if double_nat else "no")
	item.set_custom_color(4, COLOR_WARN if double_nat else COLOR_OK)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

## Calls `method` on NatUPNP and waits (frame by frame, never blocking) for `signal_name`.
## Returns the signal's arguments, or [] when it did not come within `timeout_ms`.
## The callback is connected before the call, so a signal emitted at once is not missed.
func _call_async(method: String, args: Array, signal_name: StringName, timeout_ms: int) -> Array:
	var box := {"done": false, "args": []}
	var callback: Callable
	match SIGNAL_ARITY[signal_name]:
		1:
			callback = func(a):
				box.args = [a]
				box.done = true
		2:
			callback = func(a, b):
				box.args = [a, b]
				box.done = true
		_:
			callback = func(a, b, c):
				box.args = [a, b, c]
				box.done = true
	upnp.connect(signal_name, callback, CONNECT_ONE_SHOT)
	upnp.callv(method, args)
	var deadline := Time.get_ticks_msec() + timeout_ms
	while not box.done and Time.get_ticks_msec() < deadline:
		await get_tree().process_frame
	if upnp.is_connected(signal_name, callback):
		upnp.disconnect(signal_name, callback)
	return box.args


func _result_of(got: Array) -> int:
	return got[0] if not got.is_empty() else Names.RESULT_NAMES.find("UPNP_RESULT_UNKNOWN_ERROR")


func _explain(got: Array, result: int) -> String:
	if got.is_empty():
		return "no answer from gdnat within %d s" % (SIGNAL_SLACK_MS / 1000)
	return Names.describe_result(result)


func _short(result: int) -> String:
	return Names.result_name(result).trim_prefix("UPNP_RESULT_")


func _require_upnp() -> bool:
	if upnp == null:
		log_line("NatUPNP is not available (gdnat extension not loaded).", COLOR_ERROR)
		return false
	return true


func _mapping_row(port: int, proto: String) -> TreeItem:
	var key := "%d/%s" % [port, proto]
	if not _mapping_rows.has(key):
		var item := _mapping_tree.create_item(_mapping_tree.get_root())
		item.set_text(0, str(port))
		item.set_text(1, proto)
		_mapping_rows[key] = item
	return _mapping_rows[key]


func _set_result(row: TreeItem, text: String, color: Color) -> void:
	row.set_text(3, text)
	row.set_custom_color(3, color)
	row.set_metadata(0, text.begins_with("mapped"))
	_update_buttons()


func _active_mappings() -> int:
	var count := 0
	for row in _mapping_rows.values():
		if row.get_metadata(0) == true:
			count += 1
	return count


func _setup_tables() -> void:
	var device_titles := ["Description URL", "Status", "Control URL", "Our address", "Double NAT"]
	for i in device_titles.size():
		_device_tree.set_column_title(i, device_titles[i])
		_device_tree.set_column_title_alignment(i, HORIZONTAL_ALIGNMENT_LEFT)
	_device_tree.set_column_expand_ratio(0, 3)
	_device_tree.set_column_expand_ratio(1, 2)
	_device_tree.set_column_expand_ratio(2, 3)
	_device_tree.set_column_expand(3, false)
	_device_tree.set_column_custom_minimum_width(3, 110)
	_device_tree.set_column_expand(4, false)
	_device_tree.set_column_custom_minimum_width(4, 90)
	_device_tree.create_item()
	var mapping_titles := ["Port", "Proto", "Lease", "Result"]
	for i in mapping_titles.size():
		_mapping_tree.set_column_title(i, mapping_titles[i])
		_mapping_tree.set_column_title_alignment(i, HORIZONTAL_ALIGNMENT_LEFT)
	for i in 3:
		_mapping_tree.set_column_expand(i, false)
	_mapping_tree.set_column_custom_minimum_width(0, 64)
	_mapping_tree.set_column_custom_minimum_width(1, 56)
	_mapping_tree.set_column_custom_minimum_width(2, 80)
	_mapping_tree.create_item()


func _begin_busy(text: String) -> void:
	_busy_count += 1
	_busy_text = text
	_update_buttons()


func _end_busy() -> void:
	_busy_count = maxi(_busy_count - 1, 0)
	_update_buttons()


func _update_buttons() -> void:
	var disabled := upnp == null or _busy_count > 0
	for button in [_discover_button, _map_button, _unmap_button, _external_ip_button]:
		button.disabled = disabled
	if upnp == null:
		_status_label.text = "gdnat extension not loaded"
	elif _busy_count > 0:
		_status_label.text = "working: " + _busy_text
	else:
		var parts := ["idle", "%d device(s)" % device_count()]
		var gateway := gateway_device()
		if gateway != null:
			parts.append("gateway %s" % gateway.igd_control_url.get_slice("/", 2).get_slice(":", 0))
		parts.append("%d mapping(s) active" % _active_mappings())
		_status_label.text = " · ".join(PackedStringArray(parts))


static func _timestamp() -> String:
	var now := Time.get_unix_time_from_system()
	var t := Time.get_time_dict_from_unix_time(int(now))
	return "%02d:%02d:%02d.%03d" % [t.hour, t.minute, t.second, int(fmod(now, 1.0) * 1000.0)]


static func _escape_bbcode(text: String) -> String:
	return text.replace("[", "[lb]")
