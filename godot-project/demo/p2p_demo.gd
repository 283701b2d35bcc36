## gdnat's second demo: two players behind NATs connect directly (issue 10). Type a room name,
## press Host on one machine and Join on the other; NatRoom (addons/gdnat/nat_room.gd) reads the
## public endpoint by STUN, meets the other player on a BitTorrent UDP tracker, punches a hole
## through both NATs and hands the punched port to ENet. Then "Say hello" sends an RPC.
##
## gdnat has no default STUN server or tracker: type your own (IP:port). Headless, the same
## buttons are pressed by the command line (tests/testbed-p2p/godot-e2e.sh runs it on the bed):
##   godot --headless --path godot-project res://p2p_demo.tscn -- --auto=host|join
##       --stun=IP:PORT --tracker=IP:PORT --room=NAME
## The headless run prints how the connection was made, sends hello to the other player,
## waits for the other's hello and for the ack of its own, and quits 0 (1 on failure, 30 s bound).
extends Control

const NatRoomScript = preload("res://addons/gdnat/nat_room.gd")
## The headless run's bound.
const AUTO_TIMEOUT_MS := 30000

var room: RefCounted
var _room_edit: LineEdit
var _stun_edit: LineEdit
var _tracker_edit: LineEdit
var _host_button: Button
var _join_button: Button
var _hello_button: Button
var _log: Label
var _got_hello := false
var _got_ack := false


func _ready() -> void:
	_build_ui()
	var args := {}
	for arg in OS.get_cmdline_user_args():
		var parts := arg.trim_prefix("--").split("=", true, 1)
		args[parts[0]] = parts[1] if parts.size() > 1 else ""
	_room_edit.text = args.get("room", "my-game/lobby-1")
	_stun_edit.text = args.get("stun", "")
	_tracker_edit.text = args.get("tracker", "")
	if args.get("auto", "") in ["host", "join"]:
		_auto(args.auto == "host")


func _build_ui() -> void:
	var box := VBoxContainer.new()
	box.set_anchors_and_offsets_preset(Control.PRESET_FULL_RECT, Control.PRESET_MODE_MINSIZE, 16)
	add_child(box)
	var title := Label.new()
	title.text = "gdnat: connect two players through their NATs (STUN, tracker, hole punch, ENet)"
	box.add_child(title)
	_room_edit = _field(box, "Room")
	_stun_edit = _field(box, "STUN server (IP:port)")
	_tracker_edit = _field(box, "UDP tracker (IP:port)")
	var buttons := HBoxContainer.new()
	box.add_child(buttons)
	_host_button = _button(buttons, "Host", func(): _start(true))
	_join_button = _button(buttons, "Join", func(): _start(false))
	_hello_button = _button(buttons, "Say hello", _say_hello)
	_hello_button.disabled = true
	_log = Label.new()
	_log.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	_log.size_flags_vertical = Control.SIZE_EXPAND_FILL
	box.add_child(_log)


func _field(parent: Control, label: String) -> LineEdit:
	var row := HBoxContainer.new()
	parent.add_child(row)
	var text := Label.new()
	text.text = label
	text.custom_minimum_size.x = 200
	row.add_child(text)
	var edit := LineEdit.new()
	edit.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	row.add_child(edit)
	return edit


func _button(parent: Control, text: String, pressed: Callable) -> Button:
	var button := Button.new()
	button.text = text
	button.pressed.connect(pressed)
	parent.add_child(button)
	return button


func say(text: String) -> void:
	print("P2P_DEMO ", text)
	_log.text += text + "\n"


## Host (true) or join (false) the room typed in; returns whether ENet is connected.
func _start(hosting: bool) -> bool:
	var stun := _stun_edit.text.rsplit(":", true, 1)
	var tracker := _tracker_edit.text.rsplit(":", true, 1)
	if stun.size() != 2 or tracker.size() != 2:
		say("type the STUN server and the tracker as IP:port")
		return false
	_host_button.disabled = true
	_join_button.disabled = true
	room = NatRoomScript.new()
	room.stun_address = stun[0]
	room.stun_port = int(stun[1])
	room.tracker_address = tracker[0]
	room.tracker_port = int(tracker[1])
	room.progressed.connect(func(_step, text): say(text))
	say("%s room '%s'…" % ["hosting" if hosting else "joining", _room_edit.text])
	var peer: ENetMultiplayerPeer
	if hosting:
		peer = await room.host(_room_edit.text)
	else:
		peer = await room.join(_room_edit.text)
	if peer == null:
		say("no direct connection (result %d): %s" % [room.last_result, room.last_error])
		_host_button.disabled = false
		_join_button.disabled = false
		return false
	say("connected: " + room.describe())
	_hello_button.disabled = false
	return true


func _say_hello() -> void:
	var others := multiplayer.get_peers()
	if others.is_empty():
		say("nobody to greet")
		return
	hello.rpc_id(others[0], "hello from peer %d" % multiplayer.get_unique_id())


@rpc("any_peer", "call_remote", "reliable")
func hello(text: String) -> void:
	_got_hello = true
	say("RPC from peer %d: %s" % [multiplayer.get_remote_sender_id(), text])
	ack.rpc_id(multiplayer.get_remote_sender_id())


@rpc("any_peer", "call_remote", "reliable")
func ack() -> void:
	_got_ack = true
	say("peer %d got our hello" % multiplayer.get_remote_sender_id())


## The headless run: press Host or Join, then Say hello; wait for both RPC directions.
func _auto(hosting: bool) -> void:
	var start := Time.get_ticks_msec()
	var ok: bool = await _start(hosting)
	if ok:
		_say_hello()
		while not (_got_hello and _got_ack) and Time.get_ticks_msec() - start < AUTO_TIMEOUT_MS:
			await get_tree().process_frame
		ok = _got_hello and _got_ack
		# Let our last reliable packet (the ack) leave before closing.
		await get_tree().create_timer(0.5).timeout
	say("RESULT %s" % ("connected, RPC both ways" if ok else "FAILED"))
	if multiplayer.multiplayer_peer:
		multiplayer.multiplayer_peer.close()
	get_tree().quit(0 if ok else 1)
