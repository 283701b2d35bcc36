## Records the M-SEARCH datagrams sent to 239.255.255.250:1900 on the loopback of an isolated
## namespace (tests/lib/isolated.sh routes 239/8 to lo), from a GDScript thread of this process,
## so the (blocking) discover() of both implementations can be observed: search targets, MX and
## source port. It never answers. Capped in packets and bytes.
extends RefCounted

const GROUP := "239.255.255.250"
const MAX_PACKETS := 256

var _udp := PacketPeerUDP.new()
var _thread := Thread.new()
var _mutex := Mutex.new()
var _stop := false
var _packets: Array = []


## Binds 0.0.0.0:1900 and joins the group on lo. Returns an error text, or "" on success.
func start() -> String:
	var err := _udp.bind(1900, "0.0.0.0")
	if err != OK:
		return "bind 1900: %s" % error_string(err)
	err = _udp.join_multicast_group(GROUP, "lo")
	if err != OK:
		return "join %s on lo: %s" % [GROUP, error_string(err)]
	_thread.start(_loop)
	return ""


## Stops the thread and closes the socket.
func stop() -> void:
	_mutex.lock()
	_stop = true
	_mutex.unlock()
	if _thread.is_started():
		_thread.wait_to_finish()
	_udp.close()


## Forgets the packets seen so far.
func clear() -> void:
	_mutex.lock()
	_packets.clear()
	_mutex.unlock()


## M-SEARCHes seen since clear(): [{st, mx, port, host}], in arrival order.
func searches() -> Array:
	_mutex.lock()
	var out := _packets.duplicate(true)
	_mutex.unlock()
	return out


func _loop() -> void:
	while true:
		_mutex.lock()
		var stop := _stop
		_mutex.unlock()
		if stop:
			return
		if _udp.get_available_packet_count() == 0:
			OS.delay_msec(2)
			continue
		var data := _udp.get_packet()
		var entry := {"st": "", "mx": "", "host": "", "port": _udp.get_packet_port()}
		var text := data.get_string_from_utf8()
		if not text.begins_with("M-SEARCH"):
			continue
		for line in text.split("\r\n"):
			var colon := line.find(":")
			if colon < 0:
				continue
			var key := line.substr(0, colon).strip_edges().to_lower()
			var value := line.substr(colon + 1).strip_edges()
			if entry.has(key) and key != "port":
				entry[key] = value
		_mutex.lock()
		if _packets.size() < MAX_PACKETS:
			_packets.append(entry)
		_mutex.unlock()
