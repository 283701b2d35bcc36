## Side-by-side conformance suite: the same GDScript checks run against the engine's
## UPNP/UPNPDevice and gdnat's NatUPNP/NatUPNPDevice, in one engine process, and every result is
## compared. Run (always inside a network namespace, see tests/godot/run-conformance.sh):
##   godot --headless --path godot-project -s res://tests/conformance/conformance.gd -- --mode=offline
## Modes: offline | soap | testbed | sim (sim also takes --scenario=NAME and --location=URL).
## Prints one `PASS|FAIL` line per compared check, then the table `check | engine | ours | verdict`
## and `N passed, N failed`. Verdicts: SAME, ALLOWED(Dn) (a listed allowed difference whose exact
## engine and gdnat values are encoded in the check), ALLOWED(Ln) (a known surface limit of gdext
## 0.5, encoded the same way), DIFF (failure), EXTRA (gdnat-only surface), INFO (printed, not
## compared), SKIP (not runnable here, with the reason).
extends "res://tests/lib/suite.gd"

const Pair := preload("res://tests/conformance/pair.gd")
## The ids a check may name in `opts.allowed` (docs/conformance.md, "Allowed differences"):
## D1-D12 deliberate differences, L1-L2 known surface limits of gdext 0.5. Any other id is a DIFF.
const ALLOWED_IDS := ["D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9", "D10", "D11", "D12", "L1", "L2"]
## The engine's messages for a failed command; D10 lets ours add the router's answer to these.
const COMMAND_FAILURE_MESSAGES := ["ERROR: Couldn't add port mapping.", "ERROR: Couldn't delete port mapping.",
	"ERROR: Couldn't get external IP address."]

## The engine's pair and ours.
var engine: Pair = Pair.new("engine", "UPNP", "UPNPDevice")
var ours: Pair = Pair.new("ours", "NatUPNP", "NatUPNPDevice")
## Rows of the final table: [check, engine, ours, verdict].
var rows: Array = []
## Selected mode.
var mode := "offline"
## Captures what each side prints during a compared call (print_capture.gd, a Logger; null when
## the engine has no Logger class, Godot < 4.5: "printed" rows are then SKIP).
var capture = null


func before_all() -> void:
	watchdog_seconds = float(arg("watchdog", "600"))
	mode = arg("mode", "offline")
	if ClassDB.class_exists("Logger"):
		capture = load("res://tests/conformance/print_capture.gd").new()
		OS.add_logger(capture)
	print("conformance: mode=%s engine=%s ours=%s (%s)" % [mode, Engine.get_version_info().string,
		ours.upnp_class, "loaded" if ours.available() else ours.unavailable_reason()])


func after_all() -> void:
	if capture != null:
		OS.remove_logger(capture)
	print_table()


func test_conformance() -> void:
	var path := "res://tests/conformance/%s.gd" % mode
	if not ResourceLoader.exists(path):
		check(false, "unknown mode %s" % mode)
		return
	var group = load(path).new(self)
	for method in group.get_script().get_script_method_list():
		var name: String = method["name"]
		if not name.begins_with("check_") or not _selected(name):
			continue
		_current = name
		await group.call(name)
	_current = "test_conformance"


## Runs `fn(pair)` for both pairs and records one row. `opts`:
##   allowed: "Dn" or "Ln" (one of ALLOWED_IDS) with engine: <value|Callable> and
##            ours: <value|Callable> — the exact allowed pattern;
##   spec: the value the spec says the engine returns (a mismatch marks the row SPEC?, a failure,
##         because then the check itself is wrong);
##   timed: true to print each side's wall time next to its value (never compared);
##   printed: also compare what each side PRINTED during the call (errors and messages, as
##            print_capture.gd words them: the message text without the C++/Rust source
##            location), in a second row "<title> | printed"; the value is the spec's list of
##            the engine's lines (a mismatch is SPEC?), or true for no spec;
##   printed_allowed: {allowed: id, engine: lines, ours: lines} for an allowed difference in
##            the printed lines (exact, as for values); or "D10": this check lets ours add the
##            router's answer to each of the engine's command-failure messages (D10). A check
##            that does not name D10 never gets it.
func compare(title: String, fn: Callable, opts := {}) -> void:
	var e := _run_side(engine, fn)
	var o := _run_side(ours, fn)
	var verdict := _verdict(e.value, o.value, opts)
	if opts.has("spec") and not _matches(e.value, opts.spec):
		verdict = "SPEC? engine should be %s" % fmt(opts.spec)
	var e_text: String = e.text + (" (%d ms)" % e.ms if opts.get("timed", false) else "")
	var o_text: String = o.text + (" (%d ms)" % o.ms if opts.get("timed", false) and ours.available() else "")
	record(title, e_text, o_text, verdict)
	if opts.has("printed"):
		_compare_printed(title, e, o, opts)


## Records a row where only gdnat has something (verdict EXTRA, a pass).
func extra(title: String, ours_text: String) -> void:
	record(title, "-", ours_text, "EXTRA")


## Records a row that was not run, with the reason (neither pass nor fail).
func skip(title: String, reason: String) -> void:
	record(title, "-", "-", "SKIP: " + reason)


## Records an informational row (values printed, not compared).
func info(title: String, e_text: String, o_text: String) -> void:
	record(title, e_text, o_text, "INFO")


## Records a finished row, and a pass/fail for the summary line.
func record(title: String, e_text: String, o_text: String, verdict: String) -> void:
	rows.append([title, e_text, o_text, verdict])
	var line := "%s | %s | %s | %s" % [title, e_text, o_text, verdict]
	if verdict == "SAME" or verdict.begins_with("ALLOWED") or verdict == "EXTRA":
		check(true, line)
	elif verdict.begins_with("SKIP") or verdict == "INFO":
		print("%s %s: %s" % [verdict.get_slice(":", 0), _current, line])
	else:
		check(false, line)


## Prints the whole table (markdown, so it can be pasted into docs/conformance.md).
func print_table() -> void:
	print("")
	print("| check | engine | ours | verdict |")
	print("|---|---|---|---|")
	for r in rows:
		print("| %s | %s | %s | %s |" % [_cell(r[0]), _cell(r[1]), _cell(r[2]), _cell(r[3])])
	var counts := {}
	for r in rows:
		var v: String = r[3].get_slice("(", 0).get_slice(":", 0).get_slice(" ", 0)
		counts[v] = counts.get(v, 0) + 1
	print("")
	print("conformance %s: %s" % [mode, JSON.stringify(counts)])


## Short, stable text for a value.
func fmt(v) -> String:
	match typeof(v):
		TYPE_NIL:
			return "null"
		TYPE_STRING, TYPE_STRING_NAME:
			var s := String(v)
			if s.length() > 140:
				s = s.substr(0, 137) + "..."
			return '"%s"' % s.c_escape()
		TYPE_ARRAY:
			var parts := PackedStringArray()
			for x in v:
				parts.append(fmt(x))
			return "[%s]" % ", ".join(parts)
		TYPE_DICTIONARY:
			var parts := PackedStringArray()
			for k in v:
				parts.append("%s: %s" % [k, fmt(v[k])])
			return "{%s}" % ", ".join(parts)
		TYPE_CALLABLE:
			return "<pattern>"
		TYPE_OBJECT:
			return "<%s>" % (v.get_class() if v != null else "null")
		_:
			return str(v)


func _run_side(pair: Pair, fn: Callable) -> Dictionary:
	if not pair.available():
		return {"value": "<%s>" % pair.unavailable_reason(), "text": pair.unavailable_reason(), "ms": 0,
			"printed": ["<%s>" % pair.unavailable_reason()]}
	if capture != null:
		capture.begin()
	var t0 := Time.get_ticks_msec()
	var v = fn.call(pair)
	var ms := Time.get_ticks_msec() - t0
	var printed: Array = Array(capture.finish()) if capture != null else []
	return {"value": v, "text": fmt(v), "ms": ms, "printed": printed}


## The "printed" row of compare(): each side's printed lines, compared exactly.
func _compare_printed(title: String, e: Dictionary, o: Dictionary, opts: Dictionary) -> void:
	var row := "%s | printed" % title
	if capture == null:
		skip(row, "this Godot has no Logger class (4.5+), printed lines cannot be captured")
		return
	var verdict := printed_verdict(e.printed, o.printed, opts.get("printed_allowed", {}))
	if typeof(opts.printed) == TYPE_ARRAY and not _matches(e.printed, opts.printed):
		verdict = "SPEC? engine should print %s" % fmt(opts.printed)
	record(row, fmt(e.printed), fmt(o.printed), verdict)


## The verdict for the printed lines of one check: as _verdict() for an exact allowed pattern
## ({allowed, engine, ours}); with "D10", ALLOWED(D10) when ours printed exactly the engine's
## command-failure lines, each followed by " (<what the router answered>)".
func printed_verdict(e_lines: Array, o_lines: Array, allowed) -> String:
	if typeof(allowed) == TYPE_DICTIONARY:
		return _verdict(e_lines, o_lines, allowed)
	if typeof(allowed) != TYPE_STRING or allowed != "D10":
		return "DIFF: printed_allowed must be {allowed, engine, ours} or \"D10\", not %s" % fmt(allowed)
	var verdict := _verdict(e_lines, o_lines, {})
	if verdict == "DIFF" and ours.available() and _appends_detail(e_lines, o_lines):
		return "ALLOWED(D10)"
	return verdict


## The verdict for one pair of values: SAME; ALLOWED(id) when `allowed` ({allowed, engine,
## ours}) names a listed id and both values match its encoded engine and ours values; else DIFF.
func _verdict(e_value, o_value, allowed: Dictionary) -> String:
	if not ours.available():
		return "DIFF"
	if _same(e_value, o_value):
		return "SAME"
	if not allowed.has("allowed"):
		return "DIFF"
	if not ALLOWED_IDS.has(allowed.allowed):
		return "DIFF: unknown allowed id %s" % allowed.allowed
	if _matches(e_value, allowed.engine) and _matches(o_value, allowed.ours):
		return "ALLOWED(%s)" % allowed.allowed
	return "DIFF"


## D10: true when the engine printed only command-failure messages and each of ours' lines is
## exactly the engine's line followed by " (<what the router answered>)", the detail not empty.
func _appends_detail(e_lines: Array, o_lines: Array) -> bool:
	if e_lines.is_empty() or e_lines.size() != o_lines.size():
		return false
	for i in e_lines.size():
		var e_line := String(e_lines[i])
		var o_line := String(o_lines[i])
		if not COMMAND_FAILURE_MESSAGES.has(e_line):
			return false
		if not (o_line.begins_with(e_line + " (") and o_line.ends_with(")") and o_line.length() > e_line.length() + 3):
			return false
	return true


func _same(a, b) -> bool:
	return typeof(a) == typeof(b) and a == b


func _matches(v, pattern) -> bool:
	if typeof(pattern) == TYPE_CALLABLE:
		return bool(pattern.call(v))
	return _same(v, pattern)


func _cell(s: String) -> String:
	return s.replace("|", "\\|").replace("\n", " ")
