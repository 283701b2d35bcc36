## A scripted SOAP/HTTP responder on 127.0.0.1, served from a GDScript thread of the same Godot
## process, so the (blocking) port-mapping calls of both implementations can be answered with any
## reply a check wants (UPnP faults, HTML error pages, empty bodies, ...) and every request is
## recorded for comparison. One reply per connection; every read is capped in size and time.
extends RefCounted

## Marker reply: accept the connection, read the request, close without writing anything.
const CLOSE := "<close>"
const MAX_REQUEST := 65536
const READ_MS := 3000

## Port the responder listens on (valid after start()).
var port := 0

var _server := TCPServer.new()
var _thread := Thread.new()
var _mutex := Mutex.new()
var _stop := false
## The reply: a String (sent as UTF-8), CLOSE, or a PackedByteArray sent byte for byte.
var _reply: Variant = CLOSE
var _routes := {}
var _requests: Array[String] = []
var _connections := 0


## Starts listening on an ephemeral loopback port. Returns false if it could not.
func start() -> bool:
	if _server.listen(0, "127.0.0.1") != OK:
		return false
	port = _server.get_local_port()
	_thread.start(_loop)
	return true


## Stops the thread and closes the listener.
func stop() -> void:
	_mutex.lock()
	_stop = true
	_mutex.unlock()
	if _thread.is_started():
		_thread.wait_to_finish()
	_server.stop()


## The control URL for `path` on this responder.
func url(path := "/ctl") -> String:
	return "http://127.0.0.1:%d%s" % [port, path]


## Sets the raw HTTP reply for the next connections and forgets earlier requests: a String
## (sent as UTF-8), CLOSE, or a PackedByteArray (sent exactly, e.g. a recorded router answer).
func begin(raw_reply: Variant) -> void:
	_mutex.lock()
	_reply = raw_reply
	_requests.clear()
	_connections = 0
	_mutex.unlock()


## Sets per-request replies: keys "<path>" or "<path>#<SOAP action>" (the more specific wins);
## anything else gets the reply given to begin().
func set_routes(routes: Dictionary) -> void:
	_mutex.lock()
	_routes = routes.duplicate()
	_mutex.unlock()


## Requests received since begin() (raw text, headers and body).
func requests() -> Array[String]:
	_mutex.lock()
	var out := _requests.duplicate()
	_mutex.unlock()
	return out


## Connections accepted since begin().
func connections() -> int:
	_mutex.lock()
	var n := _connections
	_mutex.unlock()
	return n


## A complete HTTP response with the given status line and body.
static func http(status: String, body: String, content_type := "text/xml; charset=\"utf-8\"") -> String:
	var b := body.to_utf8_buffer()
	return "HTTP/1.1 %s\r\nContent-Type: %s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" \
		% [status, content_type, b.size(), body]


## A UPnP fault (HTTP 500, SOAP Fault with UPnPError/errorCode) as miniupnpd sends it.
static func fault(code: String, description := "Error") -> String:
	return http("500 Internal Server Error",
		'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>%s</errorCode><errorDescription>%s</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>' % [code, description])


## A successful SOAP response for `action` with `out_args` (name -> value) under `service_type`.
static func ok(action: String, service_type: String, out_args := {}) -> String:
	var inner := ""
	for k in out_args:
		inner += "<%s>%s</%s>" % [k, out_args[k], k]
	return http("200 OK",
		'<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:%sResponse xmlns:u="%s">%s</u:%sResponse></s:Body></s:Envelope>\r\n' % [action, service_type, inner, action])


## The exact bytes of a recorded HTTP response (tests/data/...), or an empty array if unreadable.
static func recorded(path: String) -> PackedByteArray:
	if not FileAccess.file_exists(path):
		return PackedByteArray()
	return FileAccess.get_file_as_bytes(path)


## Summary of a raw request: [request line, SOAPAction header, [[arg, value], ...]].
static func summary(raw: String) -> Array:
	var head_end := raw.find("\r\n\r\n")
	var head := raw.substr(0, head_end) if head_end >= 0 else raw
	var body := raw.substr(head_end + 4) if head_end >= 0 else ""
	var lines := head.split("\r\n")
	var soap_action := "<none>"
	for l in lines:
		if l.to_lower().begins_with("soapaction:"):
			soap_action = l.substr(11).strip_edges()
	return [lines[0] if lines.size() > 0 else "", soap_action, soap_args(body)]


## The action's arguments in order, [[name, value], ...]; ["<malformed>"] if the body does not parse.
static func soap_args(body: String) -> Array:
	var parser := XMLParser.new()
	if parser.open_buffer(body.to_utf8_buffer()) != OK:
		return ["<malformed>"]
	var out := []
	var depth := 0
	var action_depth := -1
	var current := ""
	var value := ""
	while true:
		var err := parser.read()
		if err == ERR_FILE_EOF:
			break
		if err != OK:
			return ["<malformed>"]
		match parser.get_node_type():
			XMLParser.NODE_ELEMENT:
				depth += 1
				var name := parser.get_node_name()
				if action_depth < 0 and depth == 3:
					action_depth = depth
				elif action_depth >= 0 and depth == action_depth + 1:
					current = name
					value = ""
				if parser.is_empty():
					if current == name and depth == action_depth + 1:
						out.append([name, ""])
						current = ""
					depth -= 1
			XMLParser.NODE_TEXT:
				if current != "":
					value += parser.get_node_data()
			XMLParser.NODE_ELEMENT_END:
				if current != "" and depth == action_depth + 1:
					out.append([current, value])
					current = ""
				depth -= 1
	return out


func _loop() -> void:
	while true:
		_mutex.lock()
		var stop := _stop
		_mutex.unlock()
		if stop:
			return
		if _server.is_connection_available():
			_serve(_server.take_connection())
		else:
			OS.delay_msec(2)


func _serve(c: StreamPeerTCP) -> void:
	_mutex.lock()
	_connections += 1
	_mutex.unlock()
	var buf := PackedByteArray()
	var deadline := Time.get_ticks_msec() + READ_MS
	while Time.get_ticks_msec() < deadline and buf.size() < MAX_REQUEST:
		c.poll()
		if c.get_status() != StreamPeerTCP.STATUS_CONNECTED:
			break
		var n := c.get_available_bytes()
		if n <= 0:
			OS.delay_msec(1)
			continue
		var got := c.get_partial_data(mini(n, MAX_REQUEST - buf.size()))
		if got[0] != OK:
			break
		buf.append_array(got[1])
		if _complete(buf):
			break
	var request := buf.get_string_from_utf8()
	_mutex.lock()
	_requests.append(request)
	var reply: Variant = _route(request)
	_mutex.unlock()
	var is_close: bool = typeof(reply) == TYPE_STRING and reply == CLOSE
	if not is_close and c.get_status() == StreamPeerTCP.STATUS_CONNECTED:
		c.put_data(reply if typeof(reply) == TYPE_PACKED_BYTE_ARRAY else String(reply).to_utf8_buffer())
		c.poll()
	c.disconnect_from_host()


# Called with the mutex held.
func _route(request: String) -> Variant:
	if _routes.is_empty():
		return _reply
	var s := summary(request)
	var path: String = s[0].get_slice(" ", 1)
	var action: String = s[1].get_slice("#", 1).trim_suffix('"')
	if _routes.has(path + "#" + action):
		return _routes[path + "#" + action]
	if _routes.has(path):
		return _routes[path]
	return _reply


static func _complete(buf: PackedByteArray) -> bool:
	var text := buf.get_string_from_utf8()
	var head_end := text.find("\r\n\r\n")
	if head_end < 0:
		return false
	var length := 0
	for l in text.substr(0, head_end).split("\r\n"):
		if l.to_lower().begins_with("content-length:"):
			length = l.substr(15).strip_edges().to_int()
	var head_bytes := text.substr(0, head_end + 4).to_utf8_buffer().size()
	return buf.size() - head_bytes >= length
