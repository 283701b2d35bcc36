## Scripted-gateway discovery checks (spec "Compatibility test ideas" 22-27): an SSDP responder
## (ssdp_listener.gd) and an HTTP/SOAP responder (fake_soap.gd), both threads of this Godot
## process on 127.0.0.1, play exactly the answers each idea needs (relative control URLs, "Up",
## private or no external address, disconnected, no WANCommonInterfaceConfig, 404 or empty
## descriptions, two WAN services, rootdevice-only answers, two gateways, duplicate answers).
## Runs in sim mode as scenario "scripted" (no gdnat-simgw), inside tests/lib/isolated.sh.
extends RefCounted

const SsdpListener := preload("res://tests/conformance/ssdp_listener.gd")
const FakeSoap := preload("res://tests/conformance/fake_soap.gd")
const IGD1 := "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
const WANIP1 := "urn:schemas-upnp-org:service:WANIPConnection:1"
const WANPPP1 := "urn:schemas-upnp-org:service:WANPPPConnection:1"
const CIF1 := "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"
const UUID_A := "uuid:aaaaaaaa-0000-4000-8000-000000000001"
const UUID_B := "uuid:bbbbbbbb-0000-4000-8000-000000000002"

## The running suite (rows, compare()).
var t
var ssdp: SsdpListener = SsdpListener.new()
var http: FakeSoap = FakeSoap.new()


func _init(suite) -> void:
	t = suite


func run() -> void:
	var err := ssdp.start()
	if err != "" or not http.start():
		t.check(false, "S scripted: responders did not start (%s)" % err)
		return
	_idea_22_23()
	_idea_24()
	_idea_25()
	_idea_26()
	_idea_27()
	ssdp.stop()
	http.stop()


# --- 22/23: one gateway, varied answers -----------------------------------------------------

func _idea_22_23() -> void:
	var ctl := "http://127.0.0.1:%d/ctl/ip" % http.port
	var ok_dev := [0, ctl, WANIP1, "127.0.0.1"]
	# [title, status text, external address, with CIF, description reply (or "") , engine devices, allowed]
	var cases := [
		["22 relative controlURL 'ctl/ip', Connected, 8.8.8.8", "Connected", "8.8.8.8", true, "", [ok_dev], {}],
		["23 status 'Up' -> 0", "Up", "8.8.8.8", true, "", [ok_dev], {}],
		["23 external 10.0.0.5 -> 5 (D3)", "Connected", "10.0.0.5", true, "", [[5, "", "", ""]],
			{"allowed": "D3", "ours": [[0, ctl, WANIP1, "127.0.0.1"]]}],
		["23 status 'Disconnected' -> 6", "Disconnected", "8.8.8.8", true, "", [[6, "", "", ""]], {}],
		["23 no WANCommonInterfaceConfig -> 9 (D8: ours 0, a usable gateway)", "Connected", "8.8.8.8", false, "",
			[[9, "", "", ""]], {"allowed": "D8", "ours": [ok_dev]}],
		["23 description 404 -> 1", "Connected", "8.8.8.8", true, FakeSoap.http("404 Not Found", "nope", "text/html"),
			[[1, "", "", ""]], {}],
		["23 description 200 with an empty body -> 2", "Connected", "8.8.8.8", true, FakeSoap.http("200 OK", ""),
			[[2, "", "", ""]], {}],
	]
	for c in cases:
		var desc_reply: String = c[4] if c[4] != "" else FakeSoap.http("200 OK", _desc([[WANIP1, "ctl/ip"]], c[3]))
		var routes := {
			"/a.xml": desc_reply,
			"/ctl/ip#GetStatusInfo": _status(c[1]),
			"/ctl/ip#GetExternalIPAddress": FakeSoap.ok("GetExternalIPAddress", WANIP1, {"NewExternalIPAddress": c[2]}),
		}
		var answers := [[IGD1, SsdpListener.answer(IGD1, UUID_A + "::" + IGD1, _loc("/a.xml"))]]
		var opts := {"spec": [0, c[5]]}
		if c[6].has("allowed"):
			opts.merge({"allowed": c[6].allowed, "engine": [0, c[5]], "ours": [0, c[6].ours]})
		t.compare("S scripted: %s -> [result, [status, control_url, service_type, our_addr]]" % c[0], func(p):
			return _discover(p, routes, answers, func(d): return [d.igd_status, d.igd_control_url, d.igd_service_type, d.igd_our_addr]),
			opts)


# --- 24: two WAN services, the first disconnected -------------------------------------------

func _idea_24() -> void:
	var routes := {
		"/a.xml": FakeSoap.http("200 OK", _desc([[WANIP1, "/ctl/ip"], [WANPPP1, "/ctl/ppp"]], true)),
		"/ctl/ip#GetStatusInfo": _status("Disconnected"),
		"/ctl/ip#GetExternalIPAddress": FakeSoap.ok("GetExternalIPAddress", WANIP1, {"NewExternalIPAddress": ""}),
		"/ctl/ppp#GetStatusInfo": _status("Connected"),
		"/ctl/ppp#GetExternalIPAddress": FakeSoap.ok("GetExternalIPAddress", WANPPP1, {"NewExternalIPAddress": "8.8.4.4"}),
	}
	var answers := [[IGD1, SsdpListener.answer(IGD1, UUID_A + "::" + IGD1, _loc("/a.xml"))]]
	var ppp := "http://127.0.0.1:%d/ctl/ppp" % http.port
	t.compare("S scripted: 24 WANIP disconnected, WANPPP connected -> [result, [status, control_url, service_type]]", func(p):
		return _discover(p, routes, answers, func(d): return [d.igd_status, d.igd_control_url, d.igd_service_type]),
		{"spec": [0, [[0, ppp, WANPPP1]]]})


# --- 25: a device that answers only upnp:rootdevice ---------------------------------------------

func _idea_25() -> void:
	var routes := {
		"/a.xml": FakeSoap.http("200 OK", _desc([[WANIP1, "/ctl/ip"]], true)),
		"/ctl/ip#GetStatusInfo": _status("Connected"),
		"/ctl/ip#GetExternalIPAddress": FakeSoap.ok("GetExternalIPAddress", WANIP1, {"NewExternalIPAddress": "8.8.8.8"}),
	}
	var answers := [["upnp:rootdevice", SsdpListener.answer("upnp:rootdevice", UUID_A + "::upnp:rootdevice", _loc("/a.xml"))]]
	for filter in ["InternetGatewayDevice", "", "rootdevice"]:
		var engine_count := 0 if filter == "InternetGatewayDevice" else 1
		var opts := {"spec": [0, engine_count]}
		t.compare("S scripted: 25 only rootdevice answers, filter %s -> [result, count]" % t.fmt(filter), func(p):
			ssdp.set_answers(answers)
			http.set_routes(routes)
			var u = p.new_upnp()
			return [u.discover(2000, 2, filter), u.get_device_count()], opts.merged({"timed": true}))


# --- 26: two gateways, answers A then B ---------------------------------------------------------

func _idea_26() -> void:
	var routes := {
		"/a.xml": FakeSoap.http("200 OK", _desc([[WANIP1, "/ctl/a"]], true)),
		"/b.xml": FakeSoap.http("200 OK", _desc([[WANIP1, "/ctl/b"]], true)),
		"/ctl/a#GetStatusInfo": _status("Connected"),
		"/ctl/b#GetStatusInfo": _status("Connected"),
		"/ctl/a#GetExternalIPAddress": FakeSoap.ok("GetExternalIPAddress", WANIP1, {"NewExternalIPAddress": "8.8.8.8"}),
		"/ctl/b#GetExternalIPAddress": FakeSoap.ok("GetExternalIPAddress", WANIP1, {"NewExternalIPAddress": "8.8.4.4"}),
	}
	var answers := [
		[IGD1, SsdpListener.answer(IGD1, UUID_A + "::" + IGD1, _loc("/a.xml"))],
		[IGD1, SsdpListener.answer(IGD1, UUID_B + "::" + IGD1, _loc("/b.xml"))],
	]
	var ctl_a := "http://127.0.0.1:%d/ctl/a" % http.port
	var ctl_b := "http://127.0.0.1:%d/ctl/b" % http.port
	# Engine: reverse arrival order, and both devices carry the best IGD's (B's) control URL.
	var engine_v := [0, [["b.xml", ctl_b], ["a.xml", ctl_b]]]
	t.compare("S scripted: 26 two gateways answer A then B -> [result, [description, control_url] per device]", func(p):
		return _discover(p, routes, answers, func(d): return [d.description_url.get_file(), d.igd_control_url]),
		{"spec": engine_v, "allowed": "D2", "engine": engine_v,
		# Ours: each device with its own control URL, in either order.
		"ours": func(v): return v is Array and v.size() == 2 and v[0] == 0 and v[1].size() == 2 \
			and v[1].has(["a.xml", ctl_a]) and v[1].has(["b.xml", ctl_b])})


# --- 27: duplicate answers -------------------------------------------------------------------

func _idea_27() -> void:
	var routes := {
		"/a.xml": FakeSoap.http("200 OK", _desc([[WANIP1, "/ctl/ip"]], true)),
		"/ctl/ip#GetStatusInfo": _status("Connected"),
		"/ctl/ip#GetExternalIPAddress": FakeSoap.ok("GetExternalIPAddress", WANIP1, {"NewExternalIPAddress": "8.8.8.8"}),
	}
	var same := SsdpListener.answer(IGD1, UUID_A + "::" + IGD1, _loc("/a.xml"))
	t.compare("S scripted: 27 the same answer twice -> [result, count]", func(p):
		ssdp.set_answers([[IGD1, same], [IGD1, same]])
		http.set_routes(routes)
		var u = p.new_upnp()
		return [u.discover(), u.get_device_count()], {"spec": [0, 1]})
	var other_usn := SsdpListener.answer(IGD1, UUID_B + "::" + IGD1, _loc("/a.xml"))
	t.compare("S scripted: 27 same LOCATION, another USN -> [result, count] (D2: one device per description)", func(p):
		ssdp.set_answers([[IGD1, same], [IGD1, other_usn]])
		http.set_routes(routes)
		var u = p.new_upnp()
		return [u.discover(), u.get_device_count()],
		{"spec": [0, 2], "allowed": "D2", "engine": [0, 2], "ours": [0, 1]})


# --- helpers ----------------------------------------------------------------------------------

## discover() with the given scripted answers; [result, [fields(device) for each device]].
func _discover(p, routes: Dictionary, answers: Array, fields: Callable) -> Array:
	ssdp.set_answers(answers)
	http.set_routes(routes)
	var u = p.new_upnp()
	var r = u.discover()
	var devs := []
	for i in u.get_device_count():
		devs.append(fields.call(u.get_device(i)))
	return [r, devs]


func _loc(path: String) -> String:
	return "http://127.0.0.1:%d%s" % [http.port, path]


func _status(text: String) -> String:
	return FakeSoap.ok("GetStatusInfo", WANIP1, {"NewConnectionStatus": text,
		"NewLastConnectionError": "ERROR_NONE", "NewUptime": "100"})


## An IGD:1 description whose WANConnectionDevice holds `services` ([[type, controlURL], ...]),
## with or without the WANCommonInterfaceConfig service that marks an IGD.
func _desc(services: Array, with_cif: bool) -> String:
	var svc := ""
	for s in services:
		svc += "<service><serviceType>%s</serviceType><serviceId>urn:upnp-org:serviceId:%s</serviceId><controlURL>%s</controlURL><eventSubURL>/evt</eventSubURL><SCPDURL>/scpd.xml</SCPDURL></service>" \
			% [s[0], s[0].get_slice(":", 3), s[1]]
	var cif := ""
	if with_cif:
		cif = "<serviceList><service><serviceType>%s</serviceType><serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId><controlURL>/ctl/cif</controlURL><eventSubURL>/evt</eventSubURL><SCPDURL>/cif.xml</SCPDURL></service></serviceList>" % CIF1
	return '<?xml version="1.0"?>\r\n<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion><device><deviceType>%s</deviceType><friendlyName>scripted</friendlyName><UDN>%s</UDN><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><UDN>uuid:wan</UDN>%s<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><UDN>uuid:wcd</UDN><serviceList>%s</serviceList></device></deviceList></device></deviceList></device></root>' \
		% [IGD1, UUID_A, cif, svc]
