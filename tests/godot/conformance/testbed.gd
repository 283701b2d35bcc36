## Test-bed conformance group: both implementations against the real miniupnpd router of
## tests/testbed/testbed.sh (run inside `ip netns exec $IGD_PREFIX-lan`, default igd-lan). The router's WAN address
## 198.51.100.1 is reserved (TEST-NET-2), so the engine reports igd_status 5 and no gateway, while
## gdnat reports a usable gateway flagged double_nat (D3). Port mappings are therefore made through a
## HAND-FILLED valid device for both (and through the discovered device for ours), verified with
## `upnpc -l`, and removed again; check_zz_cleanup deletes every port this group may have used.
extends RefCounted

const RouterTable := preload("res://tests/lib/router_table.gd")
const Docs := preload("res://tests/conformance/docs_example.gd")

const ROUTER_DESC := "http://10.77.0.1:5000/rootDesc.xml"
const ROUTER_CTL := "http://10.77.0.1:5000/ctl/IPConn"
const WANIP2 := "urn:schemas-upnp-org:service:WANIPConnection:2"
const IGD1 := "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
const IGD2 := "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
## What miniupnpd answers to the searches of either implementation (its ST values).
const ROUTER_STS := [IGD1, IGD2, "urn:schemas-upnp-org:service:WANIPConnection:1", WANIP2,
	"urn:schemas-upnp-org:service:WANPPPConnection:1", "upnp:rootdevice"]
const LAN_ADDR := "10.77.0.2"
const OTHER_HOST := "10.77.0.3"
const WAN_ADDR := "198.51.100.1"
const DESC := "gdnat-conformance"
## Every external port this group maps (cleanup deletes them all, TCP and UDP).
const PORTS := [47001, 47002, 47003, 47004, 47005, 3928]
## What _listed() and _stored_desc() return when the router's table cannot be read.
const UNREADABLE := "<router table unreadable>"

## The running suite (rows, compare()).
var t


func _init(suite) -> void:
	t = suite


# --- discovery on the real router ------------------------------------------------------------

func check_discovery() -> void:
	t.compare("T discover() -> [result, device count]", func(p):
		var u = p.new_upnp()
		return [u.discover(), u.get_device_count()], {"spec": [0, 1], "timed": true})
	var fields := [
		["description_url", ROUTER_DESC, null, null],
		["service_type", IGD1, IGD1, IGD2],
		["igd_status", 5, 5, 0],
		["igd_control_url", "", "", ROUTER_CTL],
		["igd_service_type", "", "", WANIP2],
		["igd_our_addr", "", "", LAN_ADDR],
	]
	var found := {}
	for pair in [t.engine, t.ours]:
		if pair.available():
			var u = pair.new_upnp()
			u.discover()
			found[pair.label] = u
	for f in fields:
		var opts := {"spec": f[1]}
		var note := ""
		if f[0] == "service_type":
			# One device per description URL (D2), carrying the ST of the first answer ours kept:
			# the router's IGD:2 answer (ours also searches IGD:2); the engine keeps the IGD:1
			# answer it searched for.
			opts.merge({"allowed": "D2", "engine": f[2], "ours": f[3]})
			note = " (D2: one device per description, first kept answer's ST)"
		elif f[2] != null:
			opts.merge({"allowed": "D3", "engine": f[2], "ours": f[3]})
		t.compare("T discovered device 0: %s%s" % [f[0], note], func(p):
			var d = _device0(found, p)
			return d.get(f[0]) if d != null else "<no device>", opts)
	t.compare("T discovered device 0: double_nat (gdnat-only property)", func(p):
		var d = _device0(found, p)
		return d.get("double_nat") if d != null else "<no device>",
		{"spec": null, "allowed": "D3", "engine": null, "ours": true})
	t.compare("T get_gateway() found", func(p):
		return found.has(p.label) and found[p.label].get_gateway() != null,
		{"spec": false, "allowed": "D3", "engine": false, "ours": true})
	t.compare("T UPNP.query_external_address() after discover()", func(p):
		return found[p.label].query_external_address() if found.has(p.label) else "<no list>",
		{"spec": "", "allowed": "D3", "engine": "", "ours": WAN_ADDR})


func check_discovery_filters() -> void:
	t.compare("T discover(2000, 2, '') -> [result, count, service_type of 0] (D2: one device per description, first kept answer's ST)", func(p):
		var u = p.new_upnp()
		var r = u.discover(2000, 2, "")
		return [r, u.get_device_count(), u.get_device(0).service_type if u.get_device_count() > 0 else ""],
		{"spec": [0, 1, IGD1], "timed": true, "allowed": "D2", "engine": [0, 1, IGD1],
		# One device per description URL (D2), its ST that of the first answer ours kept: one of
		# the router's answers (which one arrives first is not fixed).
		"ours": func(v): return v is Array and v.size() == 3 and v[0] == 0 and v[1] == 1 and ROUTER_STS.has(v[2])})
	for filter in ["rootdevice", "WANIPConnection"]:
		t.compare("T discover(2000, 2, %s) -> [result, count]" % t.fmt(filter), func(p):
			var u = p.new_upnp()
			return [u.discover(2000, 2, filter), u.get_device_count()],
			{"spec": [0, 0], "allowed": "D5", "engine": [0, 0], "ours": [0, 1], "timed": true})


# --- port mappings through a hand-filled valid device -------------------------------------------

func check_hand_filled_mappings() -> void:
	t.compare("T hand device: add TCP 47001 -> 0, visible in upnpc -l with its description", func(p):
		var d = _hand(p)
		var r = d.add_port_mapping(47001, 0, DESC, "TCP")
		return [r, _listed("TCP", 47001, LAN_ADDR), _stored_desc("TCP", 47001)],
		{"spec": [0, true, DESC], "timed": true})
	t.compare("T hand device: add same TCP 47001 again (refresh) -> 0", func(p):
		return _hand(p).add_port_mapping(47001, 0, DESC, "TCP"), {"spec": 0})
	t.compare("T UPNP with hand device: add UDP 47001 -> internal 47101, listed", func(p):
		var u = p.upnp_with([_hand(p)])
		var r = u.add_port_mapping(47001, 47101, DESC, "UDP")
		return [r, _listed("UDP", 47001, LAN_ADDR, 47101)], {"spec": [0, true], "timed": true})
	t.compare("T hand device: add TCP 47002 lease 3600, default desc -> 0, listed as libminiupnpc", func(p):
		var r = _hand(p).add_port_mapping(47002, 0, "", "TCP", 3600)
		return [r, _listed("TCP", 47002, LAN_ADDR), _stored_desc("TCP", 47002)],
		{"spec": [0, true, "libminiupnpc"]})
	t.compare("T hand device: query_external_address() -> 198.51.100.1", func(p):
		return _hand(p).query_external_address(), {"spec": WAN_ADDR, "timed": true})
	t.compare("T UPNP with hand device: query_external_address()", func(p):
		return p.upnp_with([_hand(p)]).query_external_address(), {"spec": WAN_ADDR})
	t.compare("T igd_our_addr 10.77.0.3 (another client) -> 718 -> 13", func(p):
		var d = _hand(p)
		d.igd_our_addr = OTHER_HOST
		return [d.add_port_mapping(47003, 0, DESC, "TCP"), _listed("TCP", 47003, OTHER_HOST)],
		{"spec": [13, false]})
	t.compare("T add port 80 (outside the allow rule) -> 606 -> 1", func(p):
		return _hand(p).add_port_mapping(80, 0, DESC, "TCP"), {"spec": 1})
	t.compare("T add external 47004 -> internal port 80 (outside the allow rule) -> 1", func(p):
		return _hand(p).add_port_mapping(47004, 80, DESC, "TCP"), {"spec": 1})
	t.skip("T external port 0 -> 716 -> 7", "replayed, not live: both classes reject external port 0 locally with 17 before any request (offline idea 8), so the router's 716 cannot be provoked through this API; its recorded answer is replayed to both in soap mode (row 'replay miniupnpd/soap/AddPortMapping-error-716-port-0.response.http')")
	t.compare("T D4: desc 'a<b&c' on the real router", func(p):
		var r = _hand(p).add_port_mapping(47005, 0, "a<b&c", "UDP")
		var stored := _stored_desc("UDP", 47005)
		_hand(p).delete_port_mapping(47005, "UDP")
		# Ours sends well-formed XML (a&lt;b&amp;c); miniupnpd does not decode entities and stores
		# them as sent. The engine's raw '<' breaks the request and miniupnpd stores ''.
		return [r, stored], {"allowed": "D4", "engine": [0, ""], "ours": [0, "a&lt;b&amp;c"]})
	t.compare("T delete TCP 47001 -> 0, gone from upnpc -l", func(p):
		var r = _hand(p).delete_port_mapping(47001, "TCP")
		return [r, _listed("TCP", 47001, LAN_ADDR)], {"spec": [0, false], "timed": true})
	t.compare("T UPNP with hand device: delete UDP 47001, TCP 47002 -> 0, 0", func(p):
		var u = p.upnp_with([_hand(p)])
		return [u.delete_port_mapping(47001, "UDP"), u.delete_port_mapping(47002, "TCP"),
			_listed("UDP", 47001, LAN_ADDR), _listed("TCP", 47002, LAN_ADDR)],
		{"spec": [0, 0, false, false]})
	t.compare("T delete a nonexistent mapping -> 0 (miniupnpd/nftables answers 200)", func(p):
		return _hand(p).delete_port_mapping(47099, "UDP"), {"spec": 0})
	t.skip("T 714 NoSuchEntryInArray -> 4", "replayed, not live: miniupnpd 2.3.1 answers 200 (not 714) to deleting a missing mapping (row above; fixture DeletePortMapping-nonexistent.response.http), and the Godot API has no GetSpecificPortMappingEntry; the router's recorded 714 is replayed to both in soap mode (row 'replay miniupnpd/soap/GetSpecificPortMappingEntry-error-714.response.http')")


# --- port mappings through the discovered device (D3: only ours has a gateway) -------------------

func check_discovered_mappings() -> void:
	t.compare("T discovered: UPNP.add_port_mapping(47003, 0, desc, 'TCP') -> [result, listed]", func(p):
		var u = p.new_upnp()
		u.discover()
		var r = u.add_port_mapping(47003, 0, DESC, "TCP")
		var listed = _listed("TCP", 47003, LAN_ADDR)
		_hand(p).delete_port_mapping(47003, "TCP")
		return [r, listed],
		{"spec": [26, false], "allowed": "D3", "engine": [26, false], "ours": [0, true], "timed": true})
	t.compare("T discovered: UPNP.delete_port_mapping(47003, 'TCP') of a mapping -> [result, still listed]", func(p):
		_hand(p).add_port_mapping(47003, 0, DESC, "TCP")
		var u = p.new_upnp()
		u.discover()
		var r = u.delete_port_mapping(47003, "TCP")
		var listed = _listed("TCP", 47003, LAN_ADDR)
		_hand(p).delete_port_mapping(47003, "TCP")
		return [r, listed],
		{"spec": [26, true], "allowed": "D3", "engine": [26, true], "ours": [0, false]})
	t.compare("T discovered device (D3): device.add_port_mapping(47003) directly", func(p):
		var u = p.new_upnp()
		u.discover()
		if u.get_device_count() == 0:
			return "<no device>"
		var d = u.get_device(0)
		var r = d.add_port_mapping(47003, 0, DESC, "UDP")
		var del = d.delete_port_mapping(47003, "UDP")
		return [r, del],
		{"spec": [16, 23], "allowed": "D3", "engine": [16, 23], "ours": [0, 0]})


# --- the engine docs' Thread example, verbatim apart from the class name (issue 12) -------------

## The example maps SERVER_PORT (3928) UDP and TCP with the project's name as description.
const DOCS_PORT := 3928

func check_docs_thread_example() -> void:
	var docs = Docs
	var changed: Array = docs.changed_lines(t.ours.upnp_class)
	t.check(docs.published_text() != "" and changed == [["var upnp = UPNP.new()", "var upnp = %s.new()" % t.ours.upnp_class]],
		"T docs Thread example: ours runs the published text with only UPNP.new() renamed (changed lines: %s)" % [changed])
	var project_name := str(ProjectSettings.get_setting("application/config/name"))
	# One run as the docs show it: the node enters the tree (_ready starts the thread, which
	# discovers and maps) and leaves it (_exit_tree joins the thread). Then the router's own
	# table, then the two mappings are deleted again (the example itself never deletes).
	t.compare("T docs Thread example: [upnp_completed emissions, router table rows of 3928, rows after delete]", func(p):
		var script = docs.script_for(p.upnp_class)
		if script == null:
			return "<the example did not compile for %s>" % p.upnp_class
		var node: Node = docs.make_node(script)
		t.root.add_child(node)
		t.root.remove_child(node)
		var emitted: Array = node.get_meta("emitted").duplicate()
		node.free()
		var table: Dictionary = RouterTable.read(ROUTER_DESC)
		var rows: Variant = RouterTable.rows_of_port(table, DOCS_PORT) if table.ok else "<%s>" % table.error
		if rows is Array:
			rows.sort()
		for proto in ["UDP", "TCP"]:
			_hand(p).delete_port_mapping(DOCS_PORT, proto)
		var after: Dictionary = RouterTable.read(ROUTER_DESC)
		var rows_after: Variant = RouterTable.rows_of_port(after, DOCS_PORT) if after.ok else "<%s>" % after.error
		return [emitted, rows, rows_after],
		# D3: the bed's WAN address is reserved, so the engine finds no valid gateway and the
		# example maps nothing; ours finds the double-NAT gateway and maps both. Neither emits:
		# the engine's example has no emit on that path, and ours reaches `upnp_completed.emit(OK)`,
		# which Godot 4.6 refuses on a node in the tree from a thread (printed row below; the same
		# happens to the engine's UPNP on a public gateway, see sim igd2-public).
		{"allowed": "D3", "engine": [[], [], []],
		"ours": [[], ["TCP %d->%s:%d '%s'" % [DOCS_PORT, LAN_ADDR, DOCS_PORT, project_name],
			"UDP %d->%s:%d '%s'" % [DOCS_PORT, LAN_ADDR, DOCS_PORT, project_name]], []],
		"timed": true, "printed": [],
		"printed_allowed": {"allowed": "D3", "engine": [], "ours": [Docs.EMIT_REFUSED]}})


# --- a mapping owned by the other LAN host (10.77.0.3, made with curl from that address) ----------

func check_other_client_mapping() -> void:
	var made := _soap_from_other_host("AddPortMapping", "<NewRemoteHost></NewRemoteHost><NewExternalPort>47006</NewExternalPort><NewProtocol>TCP</NewProtocol><NewInternalPort>47006</NewInternalPort><NewInternalClient>%s</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>%s</NewPortMappingDescription><NewLeaseDuration>600</NewLeaseDuration>" % [OTHER_HOST, DESC])
	var listed = _listed("TCP", 47006, OTHER_HOST)
	if not t.check(made and typeof(listed) == TYPE_BOOL and listed,
			"T setup: TCP 47006 mapped to %s by a SOAP request from %s (curl)" % [OTHER_HOST, OTHER_HOST]):
		return
	t.compare("T TCP 47006 owned by 10.77.0.3: add from 10.77.0.2 -> 718 -> 13", func(p):
		return [_hand(p).add_port_mapping(47006, 0, DESC, "TCP"), _listed("TCP", 47006, OTHER_HOST)],
		{"spec": [13, true]})
	t.compare("T TCP 47006 owned by 10.77.0.3: delete from 10.77.0.2 -> 606 -> 1, still listed", func(p):
		return [_hand(p).delete_port_mapping(47006, "TCP"), _listed("TCP", 47006, OTHER_HOST)],
		{"spec": [1, true]})
	_soap_from_other_host("DeletePortMapping", "<NewRemoteHost></NewRemoteHost><NewExternalPort>47006</NewExternalPort><NewProtocol>TCP</NewProtocol>")


func check_zz_cleanup() -> void:
	_soap_from_other_host("DeletePortMapping", "<NewRemoteHost></NewRemoteHost><NewExternalPort>47006</NewExternalPort><NewProtocol>TCP</NewProtocol>")
	if _listed("TCP", 47006, OTHER_HOST):
		t.check(false, "T cleanup: TCP 47006 of %s still mapped" % OTHER_HOST)
	var pair = t.engine
	var left := []
	for port in PORTS:
		for proto in ["TCP", "UDP"]:
			_hand(pair).delete_port_mapping(port, proto)
			if _listed(proto, port, LAN_ADDR):
				left.append("%s %d" % [proto, port])
	t.check(left.is_empty(), "T cleanup: no mapping of this group left on the router (left: %s)" % [left])


# --- helpers ----------------------------------------------------------------------------------

func _hand(p) -> Object:
	return p.hand_device(ROUTER_CTL, WANIP2, LAN_ADDR)


func _device0(found: Dictionary, p):
	if not found.has(p.label) or found[p.label].get_device_count() == 0:
		return null
	return found[p.label].get_device(0)


## True when `upnpc -l` (run in this same namespace) lists <proto> <port> -> <addr>:<internal>,
## false when it does not, UNREADABLE (a failure is recorded) when the table cannot be read: an
## unreadable table never counts as "not listed".
func _listed(proto: String, port: int, addr: String, internal := 0):
	var needle := "%s %d->%s:%d " % [proto, port, addr, internal if internal > 0 else port]
	var table = _upnpc_list()
	if table == null:
		return UNREADABLE
	for line: String in table:
		if line.contains(needle):
			return true
	return false


## The description the router stored for <proto> <port> (as `upnpc -l` shows it), or "<absent>".
## The engine sends the description unescaped (spec 3.3), so miniupnpd stores '' for 'a<b&c'.
func _stored_desc(proto: String, port: int) -> String:
	var needle := " %s %d->" % [proto, port]
	var table = _upnpc_list()
	if table == null:
		return UNREADABLE
	for line: String in table:
		if line.contains(needle):
			var first := line.find("'")
			var second := line.find("'", first + 1)
			if first >= 0 and second > first:
				return line.substr(first + 1, second - first - 1)
	return "<absent>"


## Sends one SOAP action to the router from the other LAN address (curl --interface 10.77.0.3);
## true when the router answered 200. Body and headers go through files: OS.execute drops the
## double quotes inside arguments.
func _soap_from_other_host(action: String, args: String) -> bool:
	var base := "%s/gdnat-conformance-%d" % [OS.get_environment("TMPDIR") if OS.get_environment("TMPDIR") != "" else "/tmp", OS.get_process_id()]
	var body := FileAccess.open(base + ".xml", FileAccess.WRITE)
	body.store_string('<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:%s xmlns:u="%s">%s</u:%s></s:Body></s:Envelope>\r\n' % [action, WANIP2, args, action])
	body.close()
	var headers := FileAccess.open(base + ".headers", FileAccess.WRITE)
	headers.store_string('SOAPAction: "%s#%s"\nContent-Type: text/xml; charset="utf-8"\n' % [WANIP2, action])
	headers.close()
	var out := []
	OS.execute("timeout", ["10", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", OTHER_HOST,
		"-H", "@" + base + ".headers", "--data-binary", "@" + base + ".xml", ROUTER_CTL], out, true)
	DirAccess.remove_absolute(base + ".xml")
	DirAccess.remove_absolute(base + ".headers")
	return out.size() > 0 and String(out[0]).strip_edges() == "200"


## The mapping lines of the router's table: `upnpc -i -u <router> -l` (the real miniupnpc client,
## in this namespace) through tests/lib/router-table.sh, which fails when upnpc fails, prints
## nothing or stops before the end of the table. Then a failure is recorded and null returned.
func _upnpc_list():
	var repo := OS.get_environment("GDNAT_REPO")
	var helper := repo.path_join("tests/lib/router-table.sh")
	if repo == "" or not FileAccess.file_exists(helper):
		t.check(false, "T router table: GDNAT_REPO (%s) has no tests/lib/router-table.sh; run through tests/godot/run-conformance.sh" % repo)
		return null
	var out := []
	var rc := OS.execute("bash", [helper, "upnpc-table", "-", ROUTER_DESC], out, true)
	var text := "".join(PackedStringArray(out))
	if rc != 0:
		t.check(false, "T router table: cannot read the router's mappings (exit %d): %s" % [rc, text.strip_edges()])
		return null
	return text.split("\n", false)
