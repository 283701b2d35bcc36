## Base for headless gdnat test suites. A suite `extends "res://tests/lib/suite.gd"`, defines
## methods named `test_*` (they may `await`), and is run with
## `godot --headless --path godot-project -s res://tests/<suite>.gd -- [args]`.
## It prints one `PASS|FAIL <test>: <detail>` line per check, then `N passed, N failed`,
## and quits with 0 only when nothing failed. A watchdog quits with 3 if the suite hangs.
extends SceneTree

var passed := 0
var failed := 0
var _current := ""
## Arguments after `--` on the command line.
var args := PackedStringArray()
## Seconds before the watchdog ends a hung suite.
var watchdog_seconds := 120.0


func _initialize() -> void:
	args = OS.get_cmdline_user_args()
	_run.call_deferred()


func _run() -> void:
	create_timer(watchdog_seconds).timeout.connect(_on_watchdog)
	await before_all()
	for method in get_script().get_script_method_list():
		var name: String = method["name"]
		if not name.begins_with("test_") or not _selected(name):
			continue
		_current = name
		await call(name)
	await after_all()
	print("%d passed, %d failed" % [passed, failed])
	quit(0 if failed == 0 and passed > 0 else 1)


## Hook: runs once before the tests. Override and `await` freely.
func before_all() -> void:
	pass


## Hook: runs once after the tests.
func after_all() -> void:
	pass


## Records one check. `detail` is printed either way.
func check(condition: bool, detail: String) -> bool:
	if condition:
		passed += 1
		print("PASS %s: %s" % [_current, detail])
	else:
		failed += 1
		print("FAIL %s: %s" % [_current, detail])
	return condition


## Says that the current test does not apply to this run, and why: prints `SKIP <test>: reason`
## (neither a pass nor a failure). Call it, then return, instead of returning silently.
func skip_test(reason: String) -> void:
	print("SKIP %s: %s" % [_current, reason])


## Records `actual == expected` with both values in the message.
func check_eq(actual, expected, detail: String) -> bool:
	return check(typeof(actual) == typeof(expected) and actual == expected,
		"%s (got %s, expected %s)" % [detail, var_to_str(actual), var_to_str(expected)])


## Value of `--name=value` from the user arguments, or `fallback`.
func arg(name: String, fallback := "") -> String:
	for a in args:
		if a.begins_with("--%s=" % name):
			return a.substr(name.length() + 3)
	return fallback


func _selected(test_name: String) -> bool:
	var only := arg("only")
	return only.is_empty() or test_name.contains(only)


func _on_watchdog() -> void:
	print("FAIL watchdog: suite still running after %.0f s (in %s)" % [watchdog_seconds, _current])
	print("%d passed, %d failed" % [passed, failed + 1])
	quit(3)
