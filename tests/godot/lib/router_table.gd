## The router's own port-mapping table, read with miniupnpc's `upnpc -l` (run in the caller's
## network namespace, the test bed's LAN). Honest by construction: a listing counts only when
## upnpc exited 0 and printed the external address and the table header; anything else is an
## error, never "no mappings".
extends RefCounted

## Matches one table row, for example `  0 TCP  3928->10.77.0.2:3928  'gdnat demo' '' 0`.
const ROW := "^\\s*\\d+\\s+(TCP|UDP)\\s+(\\d+)->([0-9A-Fa-f.:]+):(\\d+)\\s+'([^']*)'"


## Reads the table of the router described at `desc_url`. Returns
## {ok: bool, error: String, rows: [{proto, port, addr, internal, desc}]}.
static func read(desc_url: String) -> Dictionary:
	var out := []
	var rc := OS.execute("timeout", ["20", "upnpc", "-i", "-u", desc_url, "-l"], out, true)
	var text := "\n".join(PackedStringArray(out))
	if rc != 0:
		return {"ok": false, "error": "upnpc -l exited %d: %s" % [rc, text.right(200).c_escape()], "rows": []}
	if not text.contains("ExternalIPAddress = ") or not text.contains("exPort->inAddr:inPort"):
		return {"ok": false, "error": "upnpc -l printed no table: %s" % text.right(200).c_escape(), "rows": []}
	var regex := RegEx.create_from_string(ROW)
	var rows := []
	for line in text.split("\n"):
		var m := regex.search(line)
		if m != null:
			rows.append({"proto": m.get_string(1), "port": int(m.get_string(2)), "addr": m.get_string(3),
				"internal": int(m.get_string(4)), "desc": m.get_string(5)})
	return {"ok": true, "error": "", "rows": rows}


## The rows of `table` for external `port` (any protocol), as "PROTO port->addr:internal 'desc'".
static func rows_of_port(table: Dictionary, port: int) -> Array:
	var found := []
	for r in table.rows:
		if r.port == port:
			found.append("%s %d->%s:%d '%s'" % [r.proto, r.port, r.addr, r.internal, r.desc])
	return found
