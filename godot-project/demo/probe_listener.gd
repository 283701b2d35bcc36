## A one-port listener that proves a mapped port is reachable: it waits for a token sent from the
## WAN side, answers `ECHO <token>` to the sender and emits `probe_received`.
##
## TCP uses a TCPServer, UDP a PacketPeerUDP. Both are non-blocking and polled from _process, so
## listening never stalls a frame. Used by the demo's --auto and --screenshot modes.
extends Node

## A token arrived. `peer` is "ip:port" of the sender as seen on this host.
signal probe_received(token: String, peer: String)

## Longest token accepted; longer input is cut (the listener never buffers more).
const MAX_TOKEN_BYTES := 256
## A TCP client that sends no complete token within this time is dropped.
const TCP_CLIENT_TIMEOUT_MS := 5000

var _proto := ""
var _port := 0
var _tcp_server: TCPServer
var _udp: PacketPeerUDP
## Open TCP clients: each is {peer: StreamPeerTCP, addr: String, buffer: PackedByteArray, since: int}.
var _tcp_clients: Array[Dictionary] = []


## Starts listening on `port` (all addresses) for `proto` ("TCP" or "UDP"). Returns a Godot Error.
func start(port: int, proto: String) -> Error:
	stop()
	_port = port
	_proto = proto
	if proto == "TCP":
		_tcp_server = TCPServer.new()
		return _tcp_server.listen(port, "*")
	if proto == "UDP":
		_udp = PacketPeerUDP.new()
		return _udp.bind(port, "*")
	return ERR_INVALID_PARAMETER


## Stops listening and closes every client.
func stop() -> void:
	if _tcp_server:
		_tcp_server.stop()
		_tcp_server = null
	if _udp:
		_udp.close()
		_udp = null
	for client in _tcp_clients:
		client.peer.disconnect_from_host()
	_tcp_clients.clear()


## True while a socket is open.
func is_listening() -> bool:
	return (_tcp_server != null and _tcp_server.is_listening()) or (_udp != null and _udp.is_bound())


func _process(_delta: float) -> void:
	if _tcp_server:
		_poll_tcp()
	if _udp:
		_poll_udp()


func _poll_udp() -> void:
	# Bounded per frame, so a flood cannot stall the frame either.
	for i in 16:
		if _udp.get_available_packet_count() == 0:
			return
		var data := _udp.get_packet()
		var ip := _udp.get_packet_ip()
		var port := _udp.get_packet_port()
		var token := _token_from(data)
		_udp.set_dest_address(ip, port)
		_udp.put_packet(("ECHO %s\n" % token).to_utf8_buffer())
		probe_received.emit(token, "%s:%d" % [ip, port])


func _poll_tcp() -> void:
	while _tcp_server.is_connection_available():
		var peer := _tcp_server.take_connection()
		var addr := "%s:%d" % [peer.get_connected_host(), peer.get_connected_port()]
		_tcp_clients.append({"peer": peer, "addr": addr, "buffer": PackedByteArray(),
				"since": Time.get_ticks_msec()})
	var still_open: Array[Dictionary] = []
	for client in _tcp_clients:
		if _poll_tcp_client(client):
			still_open.append(client)
	_tcp_clients = still_open


## Reads what one client sent; answers and closes once a line (or EOF) arrived. Returns true
## while the client stays open.
func _poll_tcp_client(client: Dictionary) -> bool:
	var peer: StreamPeerTCP = client.peer
	peer.poll()
	var status := peer.get_status()
	if status == StreamPeerTCP.STATUS_CONNECTED:
		var available := mini(peer.get_available_bytes(), MAX_TOKEN_BYTES - client.buffer.size())
		if available > 0:
			var got: Array = peer.get_partial_data(available)
			if got[0] == OK:
				client.buffer.append_array(got[1])
	var has_line: bool = client.buffer.find(10) >= 0 or client.buffer.size() >= MAX_TOKEN_BYTES
	var closed := status != StreamPeerTCP.STATUS_CONNECTED
	if has_line or (closed and client.buffer.size() > 0):
		var token := _token_from(client.buffer)
		if not closed:
			peer.put_data(("ECHO %s\n" % token).to_utf8_buffer())
		probe_received.emit(token, client.addr)
		peer.disconnect_from_host()
		return false
	if closed or Time.get_ticks_msec() - client.since > TCP_CLIENT_TIMEOUT_MS:
		peer.disconnect_from_host()
		return false
	return true


## The first line of `data`, trimmed and limited to printable ASCII so it is safe to print.
static func _token_from(data: PackedByteArray) -> String:
	var text := data.slice(0, MAX_TOKEN_BYTES).get_string_from_ascii()
	text = text.get_slice("\n", 0).strip_edges()
	var clean := ""
	for ch in text:
		if ch.unicode_at(0) >= 33 and ch.unicode_at(0) <= 126:
			clean += ch
	return clean
