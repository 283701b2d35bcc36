## Finds the WAN connection service (control URL and service type) in a device description, so
## the sim group can hand-build a gateway without relying on either implementation's discovery.
## Uses Godot's own HTTPClient, bounded in time (3 s) and size (256 KiB).
extends RefCounted

const DEADLINE_MS := 3000
const MAX_BODY := 262144


## [control_url, service_type] of the first WANIPConnection/WANPPPConnection service of the
## description at `location`, or ["", ""] when there is none or the fetch fails.
static func wan_service(location: String) -> Array:
	var body := fetch(location)
	if body.is_empty():
		return ["", ""]
	var parser := XMLParser.new()
	if parser.open_buffer(body) != OK:
		return ["", ""]
	var current := ""
	var url_base := ""
	var service_type := ""
	while parser.read() == OK:
		match parser.get_node_type():
			XMLParser.NODE_ELEMENT:
				current = parser.get_node_name().get_slice(":", parser.get_node_name().count(":"))
			XMLParser.NODE_TEXT:
				var text := parser.get_node_data().strip_edges()
				if current == "URLBase":
					url_base = text
				elif current == "serviceType":
					service_type = text
				elif current == "controlURL" and (service_type.contains(":WANIPConnection:")
						or service_type.contains(":WANPPPConnection:")):
					return [resolve(url_base if url_base != "" else location, text), service_type]
			XMLParser.NODE_ELEMENT_END:
				current = ""
	return ["", ""]


## `value` resolved the way miniupnpc does: absolute if it starts with http://, else
## scheme://host:port of `base` + "/" (if missing) + value.
static func resolve(base: String, value: String) -> String:
	if value.begins_with("http://"):
		return value
	var after_scheme := base.find("://") + 3
	var path_start := base.find("/", after_scheme)
	var root := base if path_start < 0 else base.substr(0, path_start)
	return root + ("" if value.begins_with("/") else "/") + value


## GET `url` (http only); the body, or empty on any failure or timeout.
static func fetch(url: String) -> PackedByteArray:
	if not url.begins_with("http://"):
		return PackedByteArray()
	var rest := url.substr(7)
	var slash := rest.find("/")
	var host_port := rest if slash < 0 else rest.substr(0, slash)
	var path := "/" if slash < 0 else rest.substr(slash)
	var host := host_port.get_slice(":", 0)
	var port := host_port.get_slice(":", 1).to_int() if host_port.contains(":") else 80
	var http := HTTPClient.new()
	var deadline := Time.get_ticks_msec() + DEADLINE_MS
	if http.connect_to_host(host, port) != OK:
		return PackedByteArray()
	while http.get_status() in [HTTPClient.STATUS_CONNECTING, HTTPClient.STATUS_RESOLVING]:
		if Time.get_ticks_msec() > deadline:
			return PackedByteArray()
		http.poll()
		OS.delay_msec(2)
	if http.get_status() != HTTPClient.STATUS_CONNECTED:
		return PackedByteArray()
	if http.request(HTTPClient.METHOD_GET, path, ["Connection: close"]) != OK:
		return PackedByteArray()
	while http.get_status() == HTTPClient.STATUS_REQUESTING:
		if Time.get_ticks_msec() > deadline:
			return PackedByteArray()
		http.poll()
		OS.delay_msec(2)
	if not http.has_response() or http.get_response_code() != 200:
		return PackedByteArray()
	var body := PackedByteArray()
	while http.get_status() == HTTPClient.STATUS_BODY and body.size() < MAX_BODY:
		if Time.get_ticks_msec() > deadline:
			return PackedByteArray()
		http.poll()
		var chunk := http.read_response_body_chunk()
		if chunk.is_empty():
			OS.delay_msec(2)
		else:
			body.append_array(chunk)
	http.close()
	return body
