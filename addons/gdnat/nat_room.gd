## Connects two players behind NATs directly: give it a room name, call [method host] on one
## side and [method join] on the other, and each gets a connected [ENetMultiplayerPeer], already
## installed as the multiplayer peer.
##
## How: [NatStun] reads the public endpoint of a fresh UDP port (and, in parallel, the NAT's
## behaviour); [NatRendezvous] announces it in the room on a BitTorrent UDP tracker and waits
## for the other player; [NatPunch] punches a hole through both NATs from that port; then the
## punch socket is closed and the same port becomes ENet's ([method ENetMultiplayerPeer.create_server]
## on the host, [method ENetMultiplayerPeer.create_client] with [code]local_port[/code] on the
## joiner). Nothing blocks a frame: every network step runs on gdnat's background threads.
## [codeblock]
## var room := NatRoom.new()   # or preload("res://addons/gdnat/nat_room.gd").new()
## room.stun_address = "198.18.0.10"      # your STUN server (RFC 5780 for the NAT verdict), IP or name
## room.tracker_address = "198.18.0.10"   # your BitTorrent UDP tracker, IP or name
## var peer := await room.host("my-game/match-42")   # the other player: await room.join(...)
## if peer:
##     print(room.describe())   # how the connection was made
## else:
##     print("failed (%d): %s" % [room.last_result, room.last_error])
## [/codeblock]
## A room holds one host and one joiner at a time: use a fresh room name per match. When both
## NATs give every destination another public port ("symmetric"), no hole can be punched: the
## call fails with [constant RESULT_PUNCH_FAILED] and a message saying a relay is needed.
## Pitfalls of the hand-off (compression, ports, keep-alive): docs/p2p.md, "ENet hand-off".
@icon("res://addons/gdnat/icons/NatRoom.svg")
class_name NatRoom
extends RefCounted

## Emitted at each step ("stun", "room", "punch", "enet") with a short text, for a lobby UI.
signal progressed(step: String, text: String)
## Emitted when ENet is connected: the same peer [method host] / [method join] return.
signal connected(peer: ENetMultiplayerPeer)
## Emitted on failure with a [code]RESULT_*[/code] constant and a message.
signal failed(result: int, message: String)

## Connected.
const RESULT_OK := 0
## No public endpoint: the STUN server did not answer (see [member last_error]).
const RESULT_STUN_FAILED := 1
## The tracker did not accept or answer the announce.
const RESULT_RENDEZVOUS_FAILED := 2
## Nobody else came into the room within [member wait_for_peer_ms].
const RESULT_NO_PEER := 3
## The hole punch failed (for example two symmetric NATs: a relay is needed).
const RESULT_PUNCH_FAILED := 4
## ENet could not take the punched port ([code]ERR_CANT_CREATE[/code]: still in use).
const RESULT_ENET_FAILED := 5
## ENet did not connect within [member connect_timeout_ms].
const RESULT_CONNECT_TIMEOUT := 6
## A setting is missing or invalid, or a call is already running.
const RESULT_INVALID := 7

## The STUN server: an IP address or a host name (resolved to IPv4 with Godot's asynchronous
## resolver, bounded by [member resolve_timeout_ms]; no frame waits for it).
var stun_address := ""
## The STUN server's port.
var stun_port := 3478
## The BitTorrent UDP tracker: an IP address or a host name (resolved like [member stun_address]).
var tracker_address := ""
## The tracker's UDP port.
var tracker_port := 6969
## The router's external address from UPnP/NAT-PMP/PCP, if known (sharpens the NAT verdict).
var router_external := ""
## How long to wait for the other player in the room.
var wait_for_peer_ms := 30000
## How long ENet may take to connect after the punch.
var connect_timeout_ms := 5000
## Milliseconds between announces while waiting (how fast the other player is seen).
var announce_interval_ms := 500
## How long a host name in [member stun_address] or [member tracker_address] may take to
## resolve.
var resolve_timeout_ms := 5000
## The MultiplayerAPI that receives the peer; null: the SceneTree's main one.
var multiplayer_api: MultiplayerAPI = null

## The [code]RESULT_*[/code] of the last call.
var last_result := RESULT_OK
## Why the last call failed ("" after a success).
var last_error := ""
## How the last connection was made: role, local_port, public, peer, announced_peer, mapping,
## filtering, verdict, first_contact_ms, room_ms (room joined until the peer was seen),
## punch_ms, enet_ms, total_ms.
var report := {}

var _busy := false
var _rendezvous: NatRendezvous


## Hosts room [param room]: waits for a player, punches, serves ENet on the punched port
## ([code]max_clients[/code] 1). Returns the connected peer, or null (see [member last_result]).
func host(room: String) -> ENetMultiplayerPeer:
	return await _run(room, true)


## Joins room [param room]: finds its host, punches, connects ENet from the punched port.
## Returns the connected peer, or null (see [member last_result]).
func join(room: String) -> ENetMultiplayerPeer:
	return await _run(room, false)


## One line on how the last connection was made (or why it failed).
func describe() -> String:
	if last_result != RESULT_OK:
		return "not connected (result %d): %s" % [last_result, last_error]
	return ("direct UDP hole punch as %s: our NAT maps %s and filters %s (verdict %s); " +
		"we are %s (local UDP %d), the peer announced %s and its packets come from %s; " +
		"first contact after %.1f ms of punching; ENet on the punched port connected in %d ms; %d ms in all") % [
		report.get("role"), report.get("mapping", "?"), report.get("filtering", "?"),
		report.get("verdict", "?"), report.get("public"), report.get("local_port"),
		report.get("announced_peer"), report.get("peer"), report.get("first_contact_ms"),
		report.get("enet_ms"), report.get("total_ms")]


func _run(room: String, hosting: bool) -> ENetMultiplayerPeer:
	if _busy:
		return _fail(RESULT_INVALID, "NatRoom: a host() or join() is already running")
	if room.is_empty() or stun_address.is_empty() or tracker_address.is_empty():
		return _fail(RESULT_INVALID, "NatRoom: set stun_address and tracker_address, and give a room name")
	_busy = true
	var peer := await _connect(room, hosting)
	_busy = false
	return peer


## [param name] as an IPv4 address: itself when it is an IP literal, else resolved with
## Godot's resolver thread (IP.resolve_hostname_queue_item), checked once a frame, at most
## [member resolve_timeout_ms]. "" when it did not resolve.
func _resolve(name: String, tree: SceneTree) -> String:
	if name.is_valid_ip_address():
		return name
	var item := IP.resolve_hostname_queue_item(name, IP.TYPE_IPV4)
	if item == IP.RESOLVER_INVALID_ID:
		return ""
	var deadline := Time.get_ticks_msec() + resolve_timeout_ms
	while IP.get_resolve_item_status(item) == IP.RESOLVER_STATUS_WAITING and Time.get_ticks_msec() < deadline:
		await tree.process_frame
	var address := ""
	if IP.get_resolve_item_status(item) == IP.RESOLVER_STATUS_DONE:
		address = IP.get_resolve_item_address(item)
	IP.erase_resolve_item(item)
	return address if address.is_valid_ip_address() else ""


func _connect(room: String, hosting: bool) -> ENetMultiplayerPeer:
	var tree := Engine.get_main_loop() as SceneTree
	var start := Time.get_ticks_msec()
	report = {"role": "host" if hosting else "joiner"}
	# 0. Host names to addresses (IP literals pass through at once).
	var stun_ip := await _resolve(stun_address, tree)
	if stun_ip.is_empty():
		return _fail(RESULT_STUN_FAILED, "NatRoom: the STUN server '%s' did not resolve to an IPv4 address within %d ms" % [stun_address, resolve_timeout_ms])
	var tracker_ip := await _resolve(tracker_address, tree)
	if tracker_ip.is_empty():
		return _fail(RESULT_RENDEZVOUS_FAILED, "NatRoom: the tracker '%s' did not resolve to an IPv4 address within %d ms" % [tracker_address, resolve_timeout_ms])
	if stun_ip != stun_address or tracker_ip != tracker_address:
		report.merge({"resolved": "%s -> %s, %s -> %s" % [stun_address, stun_ip, tracker_address, tracker_ip]})
	# 1. Our NAT's behaviour (in parallel; only to explain a failure) and our public endpoint.
	var behaviour := {}
	var probe := NatStun.new()
	probe.behaviour_probed.connect(func(result, mapping, filtering, verdict):
		behaviour.merge({"result": result, "mapping": mapping, "filtering": filtering, "verdict": verdict}))
	probe.probe_behaviour_async(stun_ip, stun_port, router_external)
	var stun := NatStun.new()
	if stun.query_async(stun_ip, stun_port, 0) != NatStun.RESULT_OK:
		return _fail(RESULT_STUN_FAILED, stun.last_error)
	var queried: Array = await stun.queried
	if queried[0] != NatStun.RESULT_OK:
		return _fail(RESULT_STUN_FAILED, stun.last_error)
	var public_address: String = queried[1]
	var public_port: int = queried[2]
	var local_port: int = queried[3]
	report.merge({"public": "%s:%d" % [public_address, public_port], "local_port": local_port})
	progressed.emit("stun", "public endpoint %s:%d (local UDP %d)" % [public_address, public_port, local_port])
	# 2. The room: announce from a second socket, wait for the other player.
	_rendezvous = NatRendezvous.new()
	_rendezvous.announce_interval_ms = announce_interval_ms
	var state := {"members": [], "failed": []}
	_rendezvous.room_joined.connect(func(members): state.members = members)
	_rendezvous.peers_changed.connect(func(_joined, _left, members): state.members = members)
	_rendezvous.rendezvous_failed.connect(func(result, message): state.failed = [result, message])
	if _rendezvous.join(tracker_ip, tracker_port, room, public_address, public_port) != NatRendezvous.RESULT_OK:
		return _fail(RESULT_RENDEZVOUS_FAILED, _rendezvous.last_error)
	progressed.emit("room", "announced in room '%s', waiting for the %s" % [room, "player" if hosting else "host"])
	var room_start := Time.get_ticks_msec()
	while state.members.is_empty() and state.failed.is_empty() and Time.get_ticks_msec() - room_start < wait_for_peer_ms:
		await tree.process_frame
	if not state.failed.is_empty():
		return _fail(RESULT_RENDEZVOUS_FAILED, state.failed[1])
	if state.members.is_empty():
		_leave()
		return _fail(RESULT_NO_PEER, "nobody else came into room '%s' within %d ms" % [room, wait_for_peer_ms])
	var other: Dictionary = state.members[0]
	report.merge({"announced_peer": "%s:%d" % [other.address, other.port], "room_ms": Time.get_ticks_msec() - room_start})
	# 3. Punch from the announced port (the probe ends within ~0.5 s; wait for it, bounded, so
	# a failure can name our NAT's behaviour).
	var probe_start := Time.get_ticks_msec()
	while behaviour.is_empty() and Time.get_ticks_msec() - probe_start < 4000:
		await tree.process_frame
	report.merge({"mapping": behaviour.get("mapping", ""), "filtering": behaviour.get("filtering", ""), "verdict": behaviour.get("verdict", "")})
	progressed.emit("punch", "punching towards %s:%d from UDP %d" % [other.address, other.port, local_port])
	var punch := NatPunch.new()
	punch.nat_mapping = behaviour.get("mapping", "")
	var outcome := {}
	punch.punched.connect(func(address, port, _local): outcome.merge({"ok": true, "address": address, "port": port}))
	punch.punch_failed.connect(func(result, reason): outcome.merge({"ok": false, "result": result, "reason": reason}))
	var punch_start := Time.get_ticks_msec()
	if punch.punch_async(local_port, other.address, other.port, room) != NatPunch.RESULT_OK:
		_leave()
		return _fail(RESULT_PUNCH_FAILED, punch.last_error)
	while outcome.is_empty():   # bounded by NatPunch: rounds x 8 s
		await tree.process_frame
	_leave()
	report["punch_ms"] = Time.get_ticks_msec() - punch_start
	if not outcome.ok:
		return _fail(RESULT_PUNCH_FAILED, outcome.reason)
	var peer_address: String = outcome.address
	var peer_port: int = outcome.port
	report.merge({"peer": "%s:%d" % [peer_address, peer_port], "first_contact_ms": punch.first_contact_ms})
	# 4. The hand-off: the punch socket is closed; ENet binds the same port at once.
	var enet := ENetMultiplayerPeer.new()
	var error: Error = enet.create_server(local_port, 1) if hosting else enet.create_client(peer_address, peer_port, 0, 0, 0, local_port)
	if error != OK:
		return _fail(RESULT_ENET_FAILED, "ENet could not take the punched UDP port %d (%s): is another socket still on it?" % [local_port, error_string(error)])
	var api := multiplayer_api if multiplayer_api else tree.get_multiplayer()
	var up := {}
	var on_peer := func(_id): up["ok"] = true
	var on_server := func(): up["ok"] = true
	if hosting:
		api.peer_connected.connect(on_peer)
	else:
		api.connected_to_server.connect(on_server)
	api.multiplayer_peer = enet
	progressed.emit("enet", "ENet on UDP %d, %s %s:%d" % [local_port, "waiting for" if hosting else "connecting to", peer_address, peer_port])
	var enet_start := Time.get_ticks_msec()
	var probe_packet := NatPunch.make_probe(room)
	var next_keepalive := 0
	while up.is_empty() and Time.get_ticks_msec() - enet_start < connect_timeout_ms:
		# The host keeps its NAT entry towards the joiner open until ENet's handshake arrives.
		if hosting and Time.get_ticks_msec() >= next_keepalive and enet.host:
			enet.host.socket_send(peer_address, peer_port, probe_packet)
			next_keepalive = Time.get_ticks_msec() + 100
		await tree.process_frame
	if hosting:
		api.peer_connected.disconnect(on_peer)
	else:
		api.connected_to_server.disconnect(on_server)
	if up.is_empty():
		api.multiplayer_peer = null
		enet.close()
		return _fail(RESULT_CONNECT_TIMEOUT, "ENet did not connect to %s:%d within %d ms after the punch" % [peer_address, peer_port, connect_timeout_ms])
	report.merge({"enet_ms": Time.get_ticks_msec() - enet_start, "total_ms": Time.get_ticks_msec() - start})
	last_result = RESULT_OK
	last_error = ""
	connected.emit(enet)
	return enet


func _leave() -> void:
	if _rendezvous and _rendezvous.is_joined():
		_rendezvous.leave()


func _fail(result: int, message: String) -> ENetMultiplayerPeer:
	last_result = result
	last_error = message
	report["error"] = message
	failed.emit(result, message)
	return null
