## Records the M-SEARCH datagrams sent to 239.255.255.250:1900 on the loopback of an isolated
## namespace (tests/lib/isolated.sh routes 239/8 to lo), from a GDScript thread of this process,
## so the (blocking) discover() of both implementations can be observed: search targets, MX and
## source port. It answers only what set_answers() scripts (nothing by default). Capped in packets.
extends RefCounted

const GROUP := "239.255.255.250"
const MAX_PACKETS := 256

var _udp := PacketPeerUDP.new()
var _thread := Thread.new()
var _mutex := Mutex.new()
var _stop := false
var _packets: Array = []
var _answers: Array = []


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


## Scripted answers: [[search target, raw datagram], ...]; every M-SEARCH whose ST equals the
## target gets each of its datagrams (in this order) sent back to its source address and port.
func set_answers(answers: Array) -> void:
	_mutex.lock()
	_answers = answers.duplicate(true)
	_mutex.unlock()


## An SSDP answer like miniupnpd's.
static func answer(st: String, usn: String, location: String) -> String:
	return "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: %s\r\nUSN: %s\r\nEXT:\r\nSERVER: Linux UPnP/1.1 Scripted/1.0\r\nLOCATION: %s\r\n\r\n" % [st, usn, location]


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
		var from_ip := _udp.get_packet_ip()
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
		var replies := []
		for a in _answers:
			if a[0] == entry.st:
				replies.append(a[1])
		_mutex.unlock()
		for r in replies:
			_udp.set_dest_address(from_ip, entry.port)
			_udp.put_packet(r.to_utf8_buffer())
