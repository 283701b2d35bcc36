## The crash test's two Godot runs (tests/e2e/port-mapping-e2e.sh, in the bed's LAN namespace):
##
##   --phase=hold    forgets the remembered gateway (user://gdnat/gateway.rec), maps
##                   --port with PCP, prints `HOLDING port=<p> source=<probe|record> ms=<n>` and
##                   idles until it is killed (kill -9 by the stage script; its own watchdog
##                   quits with 3 after 60 s)
##   --phase=resume  maps the same port again (the records left by the killed run make it take
##                   the crashed run's mapping over by its PCP nonce, and skip the probe), reads
##                   the router's table, prints
##                   `RESUMED port=<p> source=<s> ms=<n> external=<p> rows=<n> other_rows=<n>`
##                   (rows of --port and of --other-port in upnpc -l, -1 when upnpc failed;
##                   with --stale-port=<p> also ` stale_rows=<n>`, the rows of that port: where
##                   the killed run's mapping sat when it got another port than it asked), then
##                   quits holding it (the quit deletes it)
##
## Any failure prints `CRASH-FAIL <what>` and quits with 1.
extends SceneTree

const RouterTable = preload("res://tests/lib/router_table.gd")
const DESC_URL := "http://10.77.0.1:5000/rootDesc.xml"


func _initialize() -> void:
	_run.call_deferred()


func _arg(name: String, fallback := "") -> String:
	for a in OS.get_cmdline_user_args():
		if a.begins_with("--%s=" % name):
			return a.substr(name.length() + 3)
	return fallback


func _fail(what: String) -> void:
	print("CRASH-FAIL %s" % what)
	quit(1)


func _run() -> void:
	create_timer(60.0).timeout.connect(func(): print("CRASH-FAIL watchdog"); quit(3))
	var phase := _arg("phase")
	var port := int(_arg("port", "7795"))
	var other_port := int(_arg("other-port", "7796"))
	var stale_port := int(_arg("stale-port", "0"))
	if phase == "hold":
		DirAccess.remove_absolute("user://gdnat/gateway.rec")
	elif phase != "resume":
		_fail("unknown phase %s" % phase)
		return
	var node := NatPortMapping.new()
	node.port = port
	node.description = "gdnat e2e crash"
	node.allowed_protocols = NatPortMapping.PROTOCOL_PCP
	var outcome := []
	node.mapped.connect(func(a, p, m): outcome.append(["mapped", a, p, m]))
	node.failed.connect(func(r, m): outcome.append(["failed", r, m]))
	var t0 := Time.get_ticks_msec()
	root.add_child(node)
	var deadline := t0 + 15000
	while outcome.is_empty() and Time.get_ticks_msec() < deadline:
		await process_frame
	var ms := Time.get_ticks_msec() - t0
	if outcome.is_empty() or outcome[0][0] != "mapped":
		_fail("%s: not mapped within 15 s: %s" % [phase, var_to_str(outcome)])
		return
	if phase == "hold":
		print("HOLDING port=%d source=%s ms=%d" % [node.external_port, node.gateway_source, ms])
		return  # idles until killed
	var table := RouterTable.read(DESC_URL)
	var rows := -1
	var other_rows := -1
	var stale_rows := -1
	if table["ok"]:
		rows = RouterTable.rows_of_port(table, port).size()
		other_rows = RouterTable.rows_of_port(table, other_port).size()
		stale_rows = RouterTable.rows_of_port(table, stale_port).size()
	else:
		print("router table: %s" % table["error"])
	var stale := " stale_rows=%d" % stale_rows if stale_port > 0 else ""
	print("RESUMED port=%d source=%s ms=%d external=%d rows=%d other_rows=%d%s" % [port, node.gateway_source, ms, node.external_port, rows, other_rows, stale])
	quit(0)
