## One player of the peer-to-peer end-to-end test (tests/testbed-p2p/godot-e2e.sh runs two, one
## in each LAN of the two-site bed). Through NatRoom (addons/gdnat/nat_room.gd): STUN, tracker
## rendezvous, hole punch, ENet on the punched port; then an RPC each way.
##   godot --headless -s res://tests/p2p/e2e_peer.gd -- --role=host|join --stun=IP:PORT
##       --tracker=IP:PORT --room=NAME --expect=connected|failed [--bound-ms=N]
## Prints P2P_PASS or P2P_FAIL lines and quits 0 only when every check passed.
extends SceneTree

const NatRoomScript = preload("res://addons/gdnat/nat_room.gd")
const ChatScript = preload("res://tests/p2p/chat.gd")

## The longest frame interval that still counts as "no frame waits": a blocking NAT probe takes
## 500 ms, a blocking punch 8 s; a loaded 2-core machine has stalled a headless Godot for 260 ms.
const MAX_FRAME_MS := 450.0

var failures := 0
var max_frame_ms := 0.0
var _last_frame_us := 0


func _initialize() -> void:
	Engine.max_fps = 250   # headless would spin otherwise
	_run.call_deferred()


func _on_frame() -> void:
	var now := Time.get_ticks_usec()
	if _last_frame_us > 0:
		max_frame_ms = maxf(max_frame_ms, (now - _last_frame_us) / 1000.0)
	_last_frame_us = now


func check(condition: bool, what: String) -> void:
	if condition:
		print("P2P_PASS ", what)
	else:
		failures += 1
		print("P2P_FAIL ", what)


func _run() -> void:
	var args := {}
	for arg in OS.get_cmdline_user_args():
		var parts := arg.trim_prefix("--").split("=", true, 1)
		args[parts[0]] = parts[1] if parts.size() > 1 else ""
	var role: String = args.get("role", "")
	var expect: String = args.get("expect", "connected")
	var stun: PackedStringArray = String(args.get("stun", "")).split(":")
	var tracker: PackedStringArray = String(args.get("tracker", "")).split(":")
	var bound_ms := int(args.get("bound-ms", "20000"))
	if role not in ["host", "join"] or stun.size() != 2 or tracker.size() != 2:
		print("P2P_FAIL usage: --role=host|join --stun=IP:PORT --tracker=IP:PORT --room=NAME")
		quit(2)
		return
	process_frame.connect(_on_frame)
	var room = NatRoomScript.new()
	room.stun_address = stun[0]
	room.stun_port = int(stun[1])
	room.tracker_address = tracker[0]
	room.tracker_port = int(tracker[1])
	room.wait_for_peer_ms = 15000
	room.progressed.connect(func(step, text): print("P2P_STEP %s: %s" % [step, text]))
	var chat: Node = ChatScript.new()
	chat.name = "Chat"
	root.add_child(chat)

	var start := Time.get_ticks_msec()
	var peer: ENetMultiplayerPeer
	if role == "host":
		peer = await room.host(args.get("room", ""))
	else:
		peer = await room.join(args.get("room", ""))
	var elapsed := Time.get_ticks_msec() - start
	print("P2P_HOW ", room.describe())
	print("P2P_REPORT ", JSON.stringify(room.report))

	if expect == "failed":
		check(peer == null, "no connection between two symmetric NATs")
		check(room.last_result == NatRoomScript.RESULT_PUNCH_FAILED, "the failure is the punch's (result %d)" % room.last_result)
		check("relay" in room.last_error and "symmetric" in room.last_error, "the reason names the symmetric NAT and the relay: %s" % room.last_error)
		check(room.report.get("mapping", "") == "address-and-port-dependent", "our NAT was probed as symmetric (%s)" % room.report.get("mapping", ""))
		check(elapsed <= bound_ms, "failed within its bound: %d ms <= %d ms" % [elapsed, bound_ms])
	else:
		check(peer != null and peer.get_connection_status() == MultiplayerPeer.CONNECTION_CONNECTED, "ENet connected through both NATs (%s)" % room.last_error)
		if peer != null:
			check(room.report.get("peer", "").begins_with(args.get("expect-peer-ip", "")), "the peer's packets come from its router's public address: %s" % room.report.get("peer", ""))
			# The joiner's figure is "room join -> ENet connected" (the host's includes its wait).
			print("P2P_TIMING %s %d ms (room %d, punch %d, enet %d)" % ["join_to_connected" if role == "join" else "host_total_with_wait", elapsed, room.report.get("room_ms", -1), room.report.get("punch_ms", -1), room.report.get("enet_ms", -1)])
			await _exchange_rpcs(chat, role)
	print("P2P_TIMING max_frame_ms %.1f" % max_frame_ms)
	check(max_frame_ms < MAX_FRAME_MS, "no frame waited: longest %.1f ms < %.0f ms" % [max_frame_ms, MAX_FRAME_MS])
	print("P2P_RESULT %s failures=%d" % [role, failures])
	if get_multiplayer().multiplayer_peer:
		get_multiplayer().multiplayer_peer.close()
		get_multiplayer().multiplayer_peer = null
	room = null
	quit(1 if failures > 0 else 0)


## Both sides send hello to the other and wait for the other's hello and for the ack of theirs.
func _exchange_rpcs(chat: Node, role: String) -> void:
	var target := 1
	if role == "host":
		# The joiner's id: the only connected peer.
		var peers: PackedInt32Array = get_multiplayer().get_peers()
		target = peers[0] if peers.size() > 0 else 0
	chat.hello.rpc_id(target, "hello from the %s" % role)
	var start := Time.get_ticks_msec()
	while (chat.got_hello == "" or not chat.got_ack) and Time.get_ticks_msec() - start < 5000:
		await process_frame
	check(chat.got_hello != "", "RPC from the other player arrived: '%s'" % chat.got_hello)
	check(chat.got_ack, "our RPC arrived at the other player (its ack came back)")
	# Let the last reliable packets (our ack) leave before closing.
	var flush := Time.get_ticks_msec()
	while Time.get_ticks_msec() - flush < 500:
		await process_frame
