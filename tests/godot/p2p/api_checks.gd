## NatStun, NatRendezvous and NatPunch on their own, against the two-site bed's coturn and
## opentracker, from LAN A (tests/testbed-p2p/godot-e2e.sh step 1). Bad input must give its
## documented result code at once (and no signal), network failures a signal with a code and
## a message within the documented bound, and nothing may block a frame.
##   godot --headless -s res://tests/p2p/api_checks.gd -- --stun=IP:PORT --tracker=IP:PORT
##       --room=NAME --unlisted-room=NAME
extends SceneTree

const NatRoomScript = preload("res://addons/gdnat/nat_room.gd")
## Nothing listens there (inside the bed's "internet" /24, no host has it).
const NOWHERE := "198.18.0.99"

var failures := 0
var max_frame_ms := 0.0
var _last_frame_us := 0


func _initialize() -> void:
	Engine.max_fps = 250
	_run.call_deferred()


func _on_frame() -> void:
	var now := Time.get_ticks_usec()
	if _last_frame_us > 0:
		max_frame_ms = maxf(max_frame_ms, (now - _last_frame_us) / 1000.0)
	_last_frame_us = now


func check(condition: bool, what: String) -> void:
	print(("P2P_PASS " if condition else "P2P_FAIL ") + what)
	if not condition:
		failures += 1


## Waits until `done.call()` is true or `ms` pass; returns the milliseconds waited.
func wait_for(done: Callable, ms: int) -> int:
	var start := Time.get_ticks_msec()
	while not done.call() and Time.get_ticks_msec() - start < ms:
		await process_frame
	return Time.get_ticks_msec() - start


func _run() -> void:
	var args := {}
	for arg in OS.get_cmdline_user_args():
		var parts := arg.trim_prefix("--").split("=", true, 1)
		args[parts[0]] = parts[1] if parts.size() > 1 else ""
	var stun_ip: String = args.stun.split(":")[0]
	var stun_port := int(args.stun.split(":")[1])
	var tracker_ip: String = args.tracker.split(":")[0]
	var tracker_port := int(args.tracker.split(":")[1])
	var room: String = args.room
	process_frame.connect(_on_frame)

	# Slow failures first, running meanwhile: an unreachable tracker (5 s) and a peer that never
	# answers, with garbage on the punch port (8 s).
	var far := NatRendezvous.new()
	var far_failed := []
	far.rendezvous_failed.connect(func(result, message): far_failed.append([result, message]))
	check(far.join(NOWHERE, 6969, room, "198.18.0.1", 4000) == NatRendezvous.RESULT_OK, "join towards an unreachable tracker starts")
	var lonely := NatPunch.new()
	lonely.nat_mapping = "endpoint-independent"
	var lonely_failed := []
	lonely.punch_failed.connect(func(result, reason): lonely_failed.append([result, reason]))
	lonely.punched.connect(func(_a, _p, _l): lonely_failed.append([-1, "punched nobody?"]))
	var lonely_port := 40000 + randi() % 20000
	check(lonely.punch_async(lonely_port, NOWHERE, 9, room) == NatPunch.RESULT_OK, "punch towards a silent peer starts")
	var slow_start := Time.get_ticks_msec()
	var garbage := PacketPeerUDP.new()
	garbage.set_dest_address("127.0.0.1", lonely_port)

	# ---- NatStun --------------------------------------------------------------------------------
	var stun := NatStun.new()
	var queried := []
	stun.queried.connect(func(result, address, port, local_port): queried.append([result, address, port, local_port]))
	check(stun.query_async("stun.example", stun_port, 0) == NatStun.RESULT_INVALID_ARGUMENT and "not an IP address" in stun.last_error, "a host name is refused with RESULT_INVALID_ARGUMENT: " + stun.last_error)
	check(stun.query_async(stun_ip, 70000, 0) == NatStun.RESULT_INVALID_ARGUMENT, "a port out of range is refused")
	check(stun.query_async(stun_ip, stun_port, -5) == NatStun.RESULT_INVALID_ARGUMENT, "a local port out of range is refused")
	check(stun.query_async(stun_ip, stun_port, 0) == NatStun.RESULT_OK, "query_async starts")
	check(stun.query_async(stun_ip, stun_port, 0) == NatStun.RESULT_BUSY and stun.is_busy(), "a second call while busy gets RESULT_BUSY")
	await wait_for(func(): return queried.size() > 0, 4000)
	check(queried.size() == 1 and queried[0][0] == NatStun.RESULT_OK and queried[0][1] == "198.18.0.1" and queried[0][3] > 0,
		"queried: the public endpoint is router A's address, once, and the refused calls emitted nothing: %s" % [queried])
	queried.clear()
	var t := Time.get_ticks_msec()
	stun.query_async(NOWHERE, 3478, 0)
	await wait_for(func(): return queried.size() > 0, 5000)
	t = Time.get_ticks_msec() - t
	check(queried.size() == 1 and queried[0][0] in [NatStun.RESULT_TIMED_OUT, NatStun.RESULT_IO_ERROR] and stun.last_error != "" and t < 4500,
		"an unreachable STUN server: result %s in %d ms (bound 3 s): %s" % [queried[0][0] if queried else "none", t, stun.last_error])
	queried.clear()
	stun.query_async(NOWHERE, 3478, 0)
	stun.cancel()
	await wait_for(func(): return false, 300)
	check(queried.is_empty() and not stun.is_busy(), "cancel(): no signal, not busy")
	var probed := []
	stun.behaviour_probed.connect(func(result, mapping, filtering, verdict): probed.append([result, mapping, filtering, verdict]))
	check(stun.probe_behaviour_async(stun_ip, stun_port, "not-an-ip") == NatStun.RESULT_INVALID_ARGUMENT, "router_external must be an IP address")
	check(stun.probe_behaviour_async(stun_ip, stun_port, "198.18.0.1") == NatStun.RESULT_OK, "probe_behaviour_async starts")
	await wait_for(func(): return probed.size() > 0, 5000)
	check(probed.size() == 1 and probed[0] == [0, "endpoint-independent", "address-and-port-dependent", "one-nat"],
		"behaviour_probed: the home preset, one NAT (router reports the public address): %s" % [probed])

	# The punch socket is bound by now (seconds later): garbage on it must be ignored.
	check(garbage.put_packet("garbage".to_utf8_buffer()) == OK, "a garbage datagram sent to the punch port")

	# ---- NatRendezvous --------------------------------------------------------------------------
	var a := NatRendezvous.new()
	var b := NatRendezvous.new()
	a.announce_interval_ms = 250
	b.announce_interval_ms = 250
	check(a.join("tracker.example", tracker_port, room, "198.18.0.1", 1111) == NatRendezvous.RESULT_INVALID_ARGUMENT, "a tracker host name is refused")
	check(a.join(tracker_ip, tracker_port, "", "198.18.0.1", 1111) == NatRendezvous.RESULT_INVALID_ARGUMENT, "an empty room is refused")
	check(a.leave() == NatRendezvous.RESULT_NOT_JOINED, "leave() outside a room gets RESULT_NOT_JOINED")
	check(NatRendezvous.room_hash(room).length() == 40, "room_hash is 40 hex digits: " + NatRendezvous.room_hash(room))
	var seen := []
	a.peers_changed.connect(func(joined, left, members): seen.append({"joined": joined, "left": left, "members": members}))
	var a_joined := []
	a.room_joined.connect(func(members): a_joined.append(members))
	check(a.join(tracker_ip, tracker_port, room, "198.18.0.1", 1111) == NatRendezvous.RESULT_OK, "join starts")
	check(a.join(tracker_ip, tracker_port, room, "198.18.0.1", 1111) == NatRendezvous.RESULT_BUSY, "a second join gets RESULT_BUSY")
	await wait_for(func(): return a_joined.size() > 0, 6000)
	check(a_joined.size() == 1, "room_joined after the first announce: %s" % [a_joined])
	var b_left := []
	b.room_left.connect(func(result): b_left.append(result))
	b.join(tracker_ip, tracker_port, room, "198.18.0.1", 2222)
	var has := func(list, port): return list.any(func(m): return m.port == port)
	await wait_for(func(): return seen.any(func(c): return has.call(c.joined, 2222)), 3000)
	check(seen.any(func(c): return has.call(c.joined, 2222)) and not seen.any(func(c): return has.call(c.members, 1111)),
		"peers_changed: the second player joined; our own entry is filtered out: %s" % [seen])
	b.leave()
	await wait_for(func(): return seen.any(func(c): return has.call(c.left, 2222)) and b_left.size() > 0, 3000)
	check(b_left == [0] and not b.is_joined(), "room_left(0) after leave(): %s" % [b_left])
	check(seen.any(func(c): return has.call(c.left, 2222)), "peers_changed: the second player left")
	var a_left := []
	a.room_left.connect(func(result): a_left.append(result))
	a.leave()
	var refused := NatRendezvous.new()
	var refusal := []
	refused.rendezvous_failed.connect(func(result, message): refusal.append([result, message]))
	refused.join(tracker_ip, tracker_port, args["unlisted-room"], "198.18.0.1", 3333)
	await wait_for(func(): return refusal.size() > 0 and a_left.size() > 0, 6000)
	check(refusal.size() == 1 and refusal[0][0] == NatRendezvous.RESULT_NOT_WHITELISTED and not refused.is_joined(),
		"a room not on the whitelist: rendezvous_failed(RESULT_NOT_WHITELISTED): %s" % [refusal])
	check(a_left == [0], "the first player left too")

	# ---- NatPunch -------------------------------------------------------------------------------
	var punch := NatPunch.new()
	var punch_failed := []
	punch.punch_failed.connect(func(result, reason): punch_failed.append([result, reason]))
	check(punch.punch_async(0, "198.18.0.2", 4000, room) == NatPunch.RESULT_INVALID_ARGUMENT, "local port 0 is refused (the announced port is needed)")
	check(punch.punch_async(4000, "198.18.0.2", 4000, "") == NatPunch.RESULT_INVALID_ARGUMENT, "an empty room is refused")
	punch.nat_mapping = "cone"
	check(punch.punch_async(4000, "198.18.0.2", 4000, room) == NatPunch.RESULT_INVALID_ARGUMENT, "an unknown nat_mapping is refused: " + punch.last_error)
	punch.nat_mapping = ""
	var taken := PacketPeerUDP.new()
	var taken_port := 40000 + randi() % 20000
	check(taken.bind(taken_port) == OK, "a PacketPeerUDP holds UDP %d" % taken_port)
	check(punch.punch_async(taken_port, "198.18.0.2", 4000, room) == NatPunch.RESULT_OK, "punch on a port in use starts")
	await wait_for(func(): return punch_failed.size() > 0, 2000)
	check(punch_failed.size() == 1 and punch_failed[0][0] == NatPunch.RESULT_BIND_FAILED, "a port in use: punch_failed(RESULT_BIND_FAILED): %s" % [punch_failed])
	taken.close()
	var probe := NatPunch.make_probe(room)
	check(probe.size() == 32 and probe.slice(0, 4).get_string_from_ascii() == "GDNP", "make_probe: 32 bytes, GDNP")
	var freed := NatPunch.new()
	freed.punch_async(40000 + randi() % 20000, NOWHERE, 9, room)
	freed = null   # freed mid-punch: cancelled, no signal, no crash
	var nat_room = NatRoomScript.new()
	check(await nat_room.join(room) == null and nat_room.last_result == NatRoomScript.RESULT_INVALID, "NatRoom without servers: RESULT_INVALID: " + nat_room.last_error)
	var unnamed = NatRoomScript.new()
	unnamed.stun_address = "nowhere.gdnat.test"   # not in the namespace's hosts file
	unnamed.tracker_address = "tracker.gdnat.test"
	unnamed.resolve_timeout_ms = 3000
	check(await unnamed.join(room) == null and unnamed.last_result == NatRoomScript.RESULT_STUN_FAILED and "did not resolve" in unnamed.last_error,
		"NatRoom with a STUN host name that does not resolve: RESULT_STUN_FAILED: " + unnamed.last_error)

	# ---- the slow failures ----------------------------------------------------------------------
	await wait_for(func(): return far_failed.size() > 0 and lonely_failed.size() > 0, 12000)
	var took := Time.get_ticks_msec() - slow_start
	check(far_failed.size() == 1 and far_failed[0][0] in [NatRendezvous.RESULT_TIMED_OUT, NatRendezvous.RESULT_IO_ERROR] and not far.is_joined(),
		"an unreachable tracker: rendezvous_failed(%s): %s" % [far_failed[0][0] if far_failed else "none", far_failed[0][1] if far_failed else ""])
	check(lonely_failed.size() == 1 and lonely_failed[0][0] == NatPunch.RESULT_NO_CONTACT and "relay" in lonely_failed[0][1],
		"a silent peer: punch_failed(RESULT_NO_CONTACT) naming the way out: %s" % [lonely_failed])
	var strays := RegEx.create_from_string("([0-9]+) stray").search(lonely_failed[0][1] if lonely_failed else "")
	check(strays != null and int(strays.get_string(1)) >= 1, "the garbage datagram on the punch port was ignored and counted")
	check(took < 11000, "both slow failures within their bounds (5 s tracker, 8 s punch): %d ms" % took)
	print("P2P_TIMING max_frame_ms %.1f" % max_frame_ms)
	check(max_frame_ms < 450.0, "no frame waited: longest %.1f ms" % max_frame_ms)
	print("P2P_RESULT api failures=%d" % failures)
	quit(1 if failures > 0 else 0)
