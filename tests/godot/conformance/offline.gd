## Offline conformance group: API surface through ClassDB, defaults, list handling, argument
## validation and control-URL parsing (spec "Compatibility test ideas" 1-12 and 14). Nothing here
## sends a packet; run it inside tests/lib/isolated.sh anyway.
extends RefCounted

const SPEC_RESULTS := ["UPNP_RESULT_SUCCESS", "UPNP_RESULT_NOT_AUTHORIZED",
	"UPNP_RESULT_PORT_MAPPING_NOT_FOUND", "UPNP_RESULT_INCONSISTENT_PARAMETERS",
	"UPNP_RESULT_NO_SUCH_ENTRY_IN_ARRAY", "UPNP_RESULT_ACTION_FAILED",
	"UPNP_RESULT_SRC_IP_WILDCARD_NOT_PERMITTED", "UPNP_RESULT_EXT_PORT_WILDCARD_NOT_PERMITTED",
	"UPNP_RESULT_INT_PORT_WILDCARD_NOT_PERMITTED", "UPNP_RESULT_REMOTE_HOST_MUST_BE_WILDCARD",
	"UPNP_RESULT_EXT_PORT_MUST_BE_WILDCARD", "UPNP_RESULT_NO_PORT_MAPS_AVAILABLE",
	"UPNP_RESULT_CONFLICT_WITH_OTHER_MECHANISM", "UPNP_RESULT_CONFLICT_WITH_OTHER_MAPPING",
	"UPNP_RESULT_SAME_PORT_VALUES_REQUIRED", "UPNP_RESULT_ONLY_PERMANENT_LEASE_SUPPORTED",
	"UPNP_RESULT_INVALID_GATEWAY", "UPNP_RESULT_INVALID_PORT", "UPNP_RESULT_INVALID_PROTOCOL",
	"UPNP_RESULT_INVALID_DURATION", "UPNP_RESULT_INVALID_ARGS", "UPNP_RESULT_INVALID_RESPONSE",
	"UPNP_RESULT_INVALID_PARAM", "UPNP_RESULT_HTTP_ERROR", "UPNP_RESULT_SOCKET_ERROR",
	"UPNP_RESULT_MEM_ALLOC_ERROR", "UPNP_RESULT_NO_GATEWAY", "UPNP_RESULT_NO_DEVICES",
	"UPNP_RESULT_UNKNOWN_ERROR"]
const SPEC_STATUSES := ["IGD_STATUS_OK", "IGD_STATUS_HTTP_ERROR", "IGD_STATUS_HTTP_EMPTY",
	"IGD_STATUS_NO_URLS", "IGD_STATUS_NO_IGD", "IGD_STATUS_DISCONNECTED",
	"IGD_STATUS_UNKNOWN_DEVICE", "IGD_STATUS_INVALID_CONTROL", "IGD_STATUS_MALLOC_ERROR",
	"IGD_STATUS_UNKNOWN_ERROR"]
const WANIP1 := "urn:schemas-upnp-org:service:WANIPConnection:1"
## The engine's error messages (spec 2.1, 3.1, 3.3-3.5, 5) as print_capture.gd words them.
const M_TIMEOUT := "ERROR: The response's wait time can't be negative."
const M_TTL := "ERROR: The time-to-live must be set between 0 and 255 (inclusive)."
const M_NO_DEVICES := "ERROR: Couldn't find any UPNPDevices."
const M_INVALID_GATEWAY := "ERROR: The Internet Gateway Device must be valid."
const M_PORT := "ERROR: The port number must be set between 1 and 65535 (inclusive)."
const M_PORT_INTERNAL := "ERROR: The port number must be set between 0 and 65535 (inclusive)."
const M_PROTOCOL := "ERROR: The protocol must be either TCP or UDP."
const M_DURATION := "ERROR: The port mapping's lease duration can't be negative."
const M_NULL_DEVICE := 'ERROR: Condition "device.is_null()" is true.'
const M_ADD_FAILED := "ERROR: Couldn't add port mapping."
const M_DELETE_FAILED := "ERROR: Couldn't delete port mapping."
const M_QUERY_FAILED := "ERROR: Couldn't get external IP address."

## The running suite (rows, compare()).
var t


func _init(suite) -> void:
	t = suite


# --- 1. API surface --------------------------------------------------------------------------

func check_surface() -> void:
	if not t.ours.available():
		t.record("surface: ours loaded", "yes", t.ours.unavailable_reason(), "DIFF")
	for kind in ["upnp", "device"]:
		var ecls: String = _cls(t.engine, kind)
		t.compare("surface %s: parent class" % kind,
			func(p): return String(ClassDB.get_parent_class(_cls(p, kind))), {"spec": "RefCounted"})
		var engine_methods := []
		for m in ClassDB.class_get_method_list(ecls, true):
			engine_methods.append(m.name)
		engine_methods.sort()
		for name in engine_methods:
			t.compare("surface %s: method %s" % [kind, name], func(p): return _method_sig(p, kind, name),
				_surface_limit_l2(kind, name))
		var engine_props := []
		for prop in ClassDB.class_get_property_list(ecls, true):
			if prop.usage & PROPERTY_USAGE_CATEGORY or prop.usage & PROPERTY_USAGE_GROUP:
				continue
			engine_props.append(prop.name)
		for name in engine_props:
			t.compare("surface %s: property %s" % [kind, name], func(p): return _prop_sig(p, kind, name))
		var engine_consts := ClassDB.class_get_integer_constant_list(ecls, true)
		for name in engine_consts:
			t.compare("surface %s: constant %s" % [kind, name],
				func(p): return _const_value(p, kind, name))
		# L1 (a known surface limit of gdext 0.5, issue #890): `#[constant]` cannot put a
		# constant into a class enum, so ours have no enum name. Values are compared above.
		t.compare("surface %s: constants' enum names" % kind,
			func(p): return _enum_names(p, kind, engine_consts),
			{"allowed": "L1", "engine": ["UPNPResult" if kind == "upnp" else "IGDStatus"], "ours": [""]})
		t.compare("surface %s: signals (engine has none)" % kind,
			func(p): return _engine_signals_in(p, kind), {"spec": []})
		if t.ours.available():
			var ocls: String = _cls(t.ours, kind)
			var ours_methods := []
			for m in ClassDB.class_get_method_list(ocls, true):
				if not engine_methods.has(m.name) and not m.name.begins_with("_"):
					ours_methods.append(m.name)
			ours_methods.sort()
			for name in ours_methods:
				t.extra("surface %s: method %s" % [kind, name], _method_sig(t.ours, kind, name))
			for prop in ClassDB.class_get_property_list(ocls, true):
				if not engine_props.has(prop.name) and not (prop.usage & (PROPERTY_USAGE_CATEGORY | PROPERTY_USAGE_GROUP)):
					t.extra("surface %s: property %s" % [kind, prop.name], _prop_sig(t.ours, kind, prop.name))
			for name in ClassDB.class_get_integer_constant_list(ocls, true):
				if not engine_consts.has(name):
					t.extra("surface %s: constant %s" % [kind, name], str(ClassDB.class_get_integer_constant(ocls, name)))
			for s in ClassDB.class_get_signal_list(ocls, true):
				t.extra("surface %s: signal %s" % [kind, s.name], _signal_sig(t.ours, s))


# --- 2. enum values in the spec's order ------------------------------------------------------

func check_enum_values() -> void:
	t.compare("2 UPNP_RESULT_* values in spec order", func(p):
		var out := []
		for n in SPEC_RESULTS:
			out.append(ClassDB.class_get_integer_constant(p.upnp_class, n) if ClassDB.class_has_integer_constant(p.upnp_class, n) else -1)
		return out, {"spec": range(29)})
	t.compare("2 IGD_STATUS_* values in spec order", func(p):
		var out := []
		for n in SPEC_STATUSES:
			out.append(ClassDB.class_get_integer_constant(p.device_class, n) if ClassDB.class_has_integer_constant(p.device_class, n) else -1)
		return out, {"spec": range(10)})


# --- 1. defaults -----------------------------------------------------------------------------

func check_defaults() -> void:
	t.compare("1 UPNP defaults [multicast_if, local_port, ipv6, device_count]", func(p):
		var u = p.new_upnp()
		return [u.discover_multicast_if, u.discover_local_port, u.discover_ipv6, u.get_device_count()],
		{"spec": ["", 0, false, 0]})
	t.compare("1 UPNP defaults via getters", func(p):
		var u = p.new_upnp()
		return [u.get_discover_multicast_if(), u.get_discover_local_port(), u.is_discover_ipv6()],
		{"spec": ["", 0, false]})
	t.compare("1 device defaults [5 strings, status, valid]", func(p):
		var d = p.new_device()
		return [d.description_url, d.service_type, d.igd_control_url, d.igd_service_type,
			d.igd_our_addr, d.igd_status, d.is_valid_gateway()],
		{"spec": ["", "", "", "", "", 9, false]})
	t.compare("1 properties store verbatim (no clamping)", func(p):
		var u = p.new_upnp()
		u.discover_local_port = 70000
		u.discover_multicast_if = " eth0 "
		u.discover_ipv6 = true
		var d = p.new_device()
		d.description_url = "not a url"
		d.igd_our_addr = "::1"
		return [u.discover_local_port, u.discover_multicast_if, u.discover_ipv6, d.description_url, d.igd_our_addr],
		{"spec": [70000, " eth0 ", true, "not a url", "::1"]})
	t.compare("1 setters/getters by name", func(p):
		var d = p.new_device()
		d.set_igd_control_url("http://x/")
		d.set_service_type("st")
		return [d.get_igd_control_url(), d.get_service_type()], {"spec": ["http://x/", "st"]})


# --- 14. class identity (adapted: compare what does not depend on the class names) ----------

func check_identity() -> void:
	t.compare("14 instance is_class(own class), is RefCounted", func(p):
		var u = p.new_upnp()
		var d = p.new_device()
		return [u.is_class(p.upnp_class), d.is_class(p.device_class), u is RefCounted, d is RefCounted],
		{"spec": [true, true, true, true]})
	t.skip("14 on a Web export UPNP.new() == null", "no Web export in this test run")
	t.info("14 get_class()", t.engine.new_upnp().get_class() + " / " + t.engine.new_device().get_class(),
		(t.ours.new_upnp().get_class() + " / " + t.ours.new_device().get_class()) if t.ours.available() else "-")


# --- 4. discover() argument validation (no discovery is started) ----------------------------

func check_discover_validation() -> void:
	for a in [[-1, 2, M_TIMEOUT], [2000, -1, M_TTL], [2000, 256, M_TTL], [-5, 300, M_TIMEOUT]]:
		_pcompare("4 discover(%d, %d) -> 22, list kept" % [a[0], a[1]], func(p):
			var u = p.upnp_with([p.new_device()])
			var r = u.discover(a[0], a[1])
			return [r, u.get_device_count()], {"spec": [22, 1]}, [a[2]])


# --- 5. empty list ---------------------------------------------------------------------------

func check_empty_list() -> void:
	_pcompare("5 empty: get_gateway() null", func(p): return p.new_upnp().get_gateway() == null, {"spec": true}, [M_NO_DEVICES])
	_pcompare("5 empty: add_port_mapping(1234) -> 26", func(p): return p.new_upnp().add_port_mapping(1234), {"spec": 26})
	_pcompare("5 empty: add_port_mapping(0) -> 26 (gateway before validation)",
		func(p): return p.new_upnp().add_port_mapping(0), {"spec": 26})
	_pcompare("5 empty: add_port_mapping(1, 0, '', 'x', -1) -> 26",
		func(p): return p.new_upnp().add_port_mapping(1, 0, "", "x", -1), {"spec": 26})
	_pcompare("5 empty: delete_port_mapping(1234) -> 26",
		func(p): return p.new_upnp().delete_port_mapping(1234), {"spec": 26})
	_pcompare("5 empty: delete_port_mapping(0, 'x') -> 26",
		func(p): return p.new_upnp().delete_port_mapping(0, "x"), {"spec": 26})
	_pcompare("5 empty: query_external_address() -> ''",
		func(p): return p.new_upnp().query_external_address(), {"spec": ""})


# --- 6. list edge cases ----------------------------------------------------------------------

func check_list_edges() -> void:
	_pcompare("6 get_device(0)/(-1)/(1) on empty -> null", func(p):
		var u = p.new_upnp()
		return [u.get_device(0) == null, u.get_device(-1) == null, u.get_device(1) == null],
		{"spec": [true, true, true]}, [m_index(0, 0), m_index(-1, 0), m_index(1, 0)])
	_pcompare("6 set_device(0, dev) on empty -> count 0", func(p):
		var u = p.new_upnp()
		u.set_device(0, p.new_device())
		return u.get_device_count(), {"spec": 0}, [m_index(0, 0)])
	_pcompare("6 add_device(null) -> count unchanged", func(p):
		var u = p.upnp_with([p.new_device()])
		u.add_device(null)
		return u.get_device_count(), {"spec": 1}, [M_NULL_DEVICE])
	_pcompare("6 set_device(0, null) -> element unchanged (same instance)", func(p):
		var d = p.new_device()
		var u = p.upnp_with([d])
		u.set_device(0, null)
		return [u.get_device_count(), u.get_device(0) == d], {"spec": [1, true]}, [M_NULL_DEVICE])
	_pcompare("6 set_device(0, other) replaces; set_device(-1/1, x) no-op", func(p):
		var a = p.new_device()
		var b = p.new_device()
		var u = p.upnp_with([a])
		u.set_device(1, b)
		u.set_device(-1, b)
		var kept = u.get_device(0) == a
		u.set_device(0, b)
		return [kept, u.get_device(0) == b, u.get_device_count()], {"spec": [true, true, 1]},
		[m_index(1, 1), m_index(-1, 1)])
	_pcompare("6 remove_device(5)/(-1) unchanged; remove_device(0) shifts", func(p):
		var a = p.new_device()
		var b = p.new_device()
		var u = p.upnp_with([a, b])
		u.remove_device(5)
		u.remove_device(-1)
		var n = u.get_device_count()
		u.remove_device(0)
		return [n, u.get_device_count(), u.get_device(0) == b], {"spec": [2, 1, true]},
		[m_index(5, 2), m_index(-1, 2)])
	_pcompare("6 same device added twice -> count 2, same instance", func(p):
		var a = p.new_device()
		var u = p.upnp_with([a, a])
		return [u.get_device_count(), u.get_device(0) == u.get_device(1)], {"spec": [2, true]}, [])
	_pcompare("6 devices held by reference (edit via get_device)", func(p):
		var a = p.new_device()
		var u = p.upnp_with([a])
		u.get_device(0).igd_our_addr = "10.1.2.3"
		return a.igd_our_addr, {"spec": "10.1.2.3"}, [])
	_pcompare("6 clear_devices() -> 0", func(p):
		var u = p.upnp_with([p.new_device(), p.new_device()])
		u.clear_devices()
		return u.get_device_count(), {"spec": 0}, [])


# --- 7. get_gateway() --------------------------------------------------------------------------

func check_gateway_choice() -> void:
	_pcompare("7 statuses [5,0,0] -> get_gateway() is index 1", func(p):
		var ds := []
		for s in [5, 0, 0]:
			var d = p.new_device()
			d.igd_status = s
			ds.append(d)
		var u = p.upnp_with(ds)
		var g = u.get_gateway()
		return [g == ds[0], g == ds[1], g == ds[2]], {"spec": [false, true, false]}, [])
	_pcompare("7 all invalid -> null, add_port_mapping(1234) -> 26, delete -> 26, query ''", func(p):
		var ds := []
		for s in [9, 5, 1, 42]:
			var d = p.new_device()
			d.igd_status = s
			ds.append(d)
		var u = p.upnp_with(ds)
		return [u.get_gateway() == null, u.add_port_mapping(1234), u.delete_port_mapping(1234), u.query_external_address()],
		{"spec": [true, 26, 26, ""]})
	_pcompare("7 hand-built valid device is the gateway (fields untouched)", func(p):
		var d = p.hand_device("http://127.0.0.1:9/ctl", WANIP1, "192.168.1.50")
		var u = p.upnp_with([d])
		var g = u.get_gateway()
		return [g == d, g.igd_control_url, g.igd_service_type, g.igd_our_addr],
		{"spec": [true, "http://127.0.0.1:9/ctl", WANIP1, "192.168.1.50"]})


# --- 8. UPNPDevice.add_port_mapping validation ------------------------------------------------

func check_device_add_validation() -> void:
	_pcompare("8 fresh device add_port_mapping(1234) -> 16", func(p): return p.new_device().add_port_mapping(1234), {"spec": 16}, [M_INVALID_GATEWAY])
	_pcompare("8 status 9, port 0, proto 'x' -> 16 (status first)", func(p):
		return p.new_device().add_port_mapping(0, 0, "", "x"), {"spec": 16}, [M_INVALID_GATEWAY])
	var cases := [
		[[0], 17, M_PORT], [[65536], 17, M_PORT], [[-5], 17, M_PORT], [[1234, -1], 17, M_PORT_INTERNAL],
		[[1234, 65536], 17, M_PORT_INTERNAL],
		[[1234, 0, "", "udp"], 18, M_PROTOCOL], [[1234, 0, "", "Tcp"], 18, M_PROTOCOL],
		[[1234, 0, "", "UDP "], 18, M_PROTOCOL], [[1234, 0, "", " UDP"], 18, M_PROTOCOL],
		[[1234, 0, "", ""], 18, M_PROTOCOL],
		[[1234, 0, "", "UDP", -1], 19, M_DURATION], [[0, 0, "", "x", -1], 17, M_PORT],
		[[1234, 70000, "", "x", -1], 17, M_PORT_INTERNAL], [[1234, 0, "", "x", -1], 18, M_PROTOCOL],
	]
	for c in cases:
		var a: Array = c[0]
		_pcompare("8 valid status, add_port_mapping%s -> %d" % [t.fmt(a), c[1]], func(p):
			var d = p.new_device()
			d.igd_status = 0
			return d.callv("add_port_mapping", a), {"spec": c[1]}, [c[2]])
	_pcompare("8 via UPNP: valid gateway, add_port_mapping(0) -> 17", func(p):
		var d = p.new_device()
		d.igd_status = 0
		return p.upnp_with([d]).add_port_mapping(0), {"spec": 17}, [M_PORT])
	_pcompare("8 via UPNP: valid gateway, delete_port_mapping(1234, 'tcp') -> 18", func(p):
		var d = p.new_device()
		d.igd_status = 0
		return p.upnp_with([d]).delete_port_mapping(1234, "tcp"), {"spec": 18}, [M_PROTOCOL])


# --- 9. valid status, empty control URL ------------------------------------------------------

func check_empty_control_url() -> void:
	_pcompare("9 status 0, empty control URL: add(1234) -> 23", func(p):
		var d = p.new_device()
		d.igd_status = 0
		return d.add_port_mapping(1234), {"spec": 23, "printed_allowed": "D10"})
	_pcompare("9 status 0, empty control URL: query_external_address() -> ''", func(p):
		var d = p.new_device()
		d.igd_status = 0
		return d.query_external_address(), {"spec": "", "printed_allowed": "D10"})
	_pcompare("9 fresh device query_external_address() -> '' (invalid gateway)", func(p):
		return p.new_device().query_external_address(), {"spec": ""}, [M_INVALID_GATEWAY])


# --- 10. UPNPDevice.delete_port_mapping on a fresh device ---------------------------------------

func check_device_delete_validation() -> void:
	for c in [[[1234], 23, true], [[0], 17, [M_PORT]], [[70000], 17, [M_PORT]], [[-1], 17, [M_PORT]],
			[[1234, "tcp"], 18, [M_PROTOCOL]], [[0, "tcp"], 17, [M_PORT]], [[1234, "TCP"], 23, true]]:
		var a: Array = c[0]
		_pcompare("10 fresh device delete_port_mapping%s -> %d" % [t.fmt(a), c[1]], func(p):
			return p.new_device().callv("delete_port_mapping", a),
			{"spec": c[1], "printed_allowed": "D10"} if c[1] == 23 else {"spec": c[1]}, c[2])


# --- 11. igd_status accepts any int ------------------------------------------------------------

func check_status_any_int() -> void:
	# The engine stores the enum unsigned: -1 reads back as 4294967295.
	_pcompare("11 igd_status 42 / -1 / 0 / 5 -> value read back, is_valid_gateway()", func(p):
		var d = p.new_device()
		var out := []
		for s in [42, -1, 0, 5]:
			d.igd_status = s
			out.append([d.igd_status, d.is_valid_gateway()])
		return out, {"spec": [[42, false], [4294967295, false], [0, true], [5, false]]})
	# The engine keeps the low 32 bits unsigned (its enum property's storage); values observed
	# in Godot 4.6.3. Through the property, the setter and set()/get().
	var wide := [-2, 4294967296, 4294967301, 2147483648, -2147483648, -2147483649,
		9223372036854775807, -9223372036854775808]
	_pcompare("11 igd_status -2 / 2^32 / 2^32+5 / 2^31 / -2^31 / -2^31-1 / 2^63-1 / -2^63 -> [property, setter, set()] read back, is_valid_gateway()", func(p):
		var d = p.new_device()
		var out := []
		for s in wide:
			d.igd_status = s
			var a := [d.igd_status, d.is_valid_gateway()]
			d.set_igd_status(s)
			a.append_array([d.get_igd_status(), d.is_valid_gateway()])
			d.set("igd_status", s)
			a.append_array([d.get("igd_status"), d.is_valid_gateway()])
			out.append(a)
		return out, {"spec": [
			[4294967294, false, 4294967294, false, 4294967294, false],
			[0, true, 0, true, 0, true],
			[5, false, 5, false, 5, false],
			[2147483648, false, 2147483648, false, 2147483648, false],
			[2147483648, false, 2147483648, false, 2147483648, false],
			[2147483647, false, 2147483647, false, 2147483647, false],
			[4294967295, false, 4294967295, false, 4294967295, false],
			[0, true, 0, true, 0, true]]})
	# What the stored value means to the commands (no traffic: port 0 is rejected after the
	# gateway check): 2^32 is stored as 0, a valid gateway (17); -1 and 2^32+5 are not (16).
	_pcompare("11 igd_status 2^32 / -1 / 2^32+5 then add_port_mapping(0), query_external_address()", func(p):
		var out := []
		for s in [4294967296, -1, 4294967301]:
			var d = p.new_device()
			d.igd_status = s
			out.append([d.add_port_mapping(0), d.query_external_address() if s != 4294967296 else "-"])
		return out, {"spec": [[17, "-"], [16, ""], [16, ""]]})


# --- 12. control URL parsing (no traffic) --------------------------------------------------------

func check_control_url_parsing() -> void:
	for url in ["ftp://x/y", "127.0.0.1:80/ctl", "", "http//127.0.0.1/ctl", "htp://127.0.0.1/ctl"]:
		_pcompare("12 control URL %s: add/delete/query -> 23/23/''" % t.fmt(url), func(p):
			var d = p.hand_device(url, WANIP1, "192.168.1.50")
			return [d.add_port_mapping(1234), d.delete_port_mapping(1234), d.query_external_address()],
			{"spec": [23, 23, ""], "printed_allowed": "D10"})


# --- the suite's own verdict rules (pure; nothing is called on either class) ------------------

func check_zz_suite_verdict_rules() -> void:
	var e := ["ERROR: Couldn't add port mapping."]
	var o := ["ERROR: Couldn't add port mapping. (router answered UPnP error 718 ConflictInMappingEntry)"]
	var v: String = t.printed_verdict(e, o, {})
	t.check(v == "DIFF", "suite rule: a check that does not name D10 does not get it (%s)" % v)
	v = t.printed_verdict(e, o, "D10")
	t.check(v == "ALLOWED(D10)", "suite rule: a check that names D10 gets it for the router's answer appended (%s)" % v)
	v = t.printed_verdict(e, ["ERROR: Couldn't add port mapping."], "D10")
	t.check(v == "SAME", "suite rule: D10 named, the same lines are SAME (%s)" % v)
	v = t.printed_verdict(e, ["ERROR: Something else. (x)"], "D10")
	t.check(v == "DIFF", "suite rule: D10 allows only the engine's line plus a detail (%s)" % v)
	v = t.printed_verdict(["ERROR: The Internet Gateway Device must be valid."],
		["ERROR: The Internet Gateway Device must be valid. (x)"], "D10")
	t.check(v == "DIFF", "suite rule: D10 covers only the command-failure messages (%s)" % v)
	v = t.printed_verdict(e, o, "D4")
	t.check(v.begins_with("DIFF"), "suite rule: an unknown printed_allowed is a DIFF (%s)" % v)


# --- helpers ----------------------------------------------------------------------------------

## t.compare() that also compares what both sides printed during the call (a second row
## "<title> | printed", see conformance.gd): `lines` is the spec's list of the engine's lines,
## or true where the spec states no exact text.
func _pcompare(title: String, fn: Callable, opts := {}, lines = true) -> void:
	var o := opts.duplicate()
	o["printed"] = lines
	t.compare(title, fn, o)


## The index error of ERR_FAIL_INDEX as the engine words it (spec 5).
static func m_index(index: int, size: int) -> String:
	return "ERROR: Index index = %d is out of bounds (devices.size() = %d)." % [index, size]


func _cls(p, kind: String) -> String:
	return p.upnp_class if kind == "upnp" else p.device_class


## L2 (a known surface limit of gdext 0.5): the setters' argument `type` is a Rust keyword and
## gdext registers the raw identifier `type_` literally. Only these two methods, exact texts.
func _surface_limit_l2(kind: String, name: String) -> Dictionary:
	if kind != "device" or not name in ["set_service_type", "set_igd_service_type"]:
		return {}
	return {"allowed": "L2", "engine": "%s(type: String) -> Nil" % name, "ours": "%s(type_: String) -> Nil" % name}


func _type_text(p, info: Dictionary) -> String:
	var s := type_string(info.type)
	if info.type == TYPE_OBJECT:
		s += "<%s>" % p.neutral(String(info.class_name))
	return s


func _method_sig(p, kind: String, name: String) -> String:
	for m in ClassDB.class_get_method_list(_cls(p, kind), true):
		if m.name != name:
			continue
		var args := PackedStringArray()
		var n_args: int = m.args.size()
		var first_default: int = n_args - m.default_args.size()
		for i in n_args:
			var a: Dictionary = m.args[i]
			var s := "%s: %s" % [a.name, _type_text(p, a)]
			if i >= first_default:
				s += " = %s" % var_to_str(m.default_args[i - first_default])
			args.append(s)
		var flags := ""
		if m.flags & METHOD_FLAG_CONST:
			flags += " const"
		if m.flags & METHOD_FLAG_VARARG:
			flags += " vararg"
		if m.flags & METHOD_FLAG_STATIC:
			flags += " static"
		return "%s(%s) -> %s%s" % [name, ", ".join(args), _type_text(p, m["return"]), flags]
	return "<missing>"


func _prop_sig(p, kind: String, name: String) -> String:
	var cls := _cls(p, kind)
	for prop in ClassDB.class_get_property_list(cls, true):
		if prop.name != name:
			continue
		return "%s set=%s get=%s hint=%d%s" % [_type_text(p, prop),
			ClassDB.class_get_property_setter(cls, name), ClassDB.class_get_property_getter(cls, name),
			prop.hint, (" '%s'" % prop.hint_string) if prop.hint_string != "" else ""]
	return "<missing>"


func _const_value(p, kind: String, name: String):
	var cls := _cls(p, kind)
	if not ClassDB.class_has_integer_constant(cls, name):
		return "<missing>"
	return ClassDB.class_get_integer_constant(cls, name)


func _enum_names(p, kind: String, names: PackedStringArray) -> Array:
	var cls := _cls(p, kind)
	var out := []
	for n in names:
		var e := String(ClassDB.class_get_integer_constant_enum(cls, n, true))
		if not out.has(e):
			out.append(e)
	return out


func _engine_signals_in(p, kind: String) -> Array:
	var engine_names := []
	for s in ClassDB.class_get_signal_list(_cls(t.engine, kind), true):
		engine_names.append(s.name)
	var out := []
	for s in ClassDB.class_get_signal_list(_cls(p, kind), true):
		if engine_names.has(s.name):
			out.append(_signal_sig(p, s))
	return out


func _signal_sig(p, s: Dictionary) -> String:
	var args := PackedStringArray()
	for a in s.args:
		args.append("%s: %s" % [a.name, _type_text(p, a)])
	return "%s(%s)" % [s.name, ", ".join(args)]
