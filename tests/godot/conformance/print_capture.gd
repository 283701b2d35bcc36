## Captures what an implementation prints while one call runs, through Godot's script Logger API
## (class Logger, OS.add_logger; Godot 4.5+). Registered once by conformance.gd; between begin()
## and finish() every error and message Godot logs is kept as one line:
##   "ERROR: <text>" / "WARNING: <text>" / "SCRIPT ERROR: <text>" / "SHADER ERROR: <text>"
##   for errors, where <text> is what the console shows after "ERROR: " (the message given to the
##   error macro, or the failed condition when there is none). The source location (C++ file and
##   line for the engine, Rust file and line for gdnat, the "at:" line) and the backtraces are
##   not part of it: they are passed separately and dropped here.
##   "print: <text>" / "printerr: <text>" for plain messages (print(), printerr(), godot_print!).
## Loggers may be called from any thread, so the lines are guarded by a mutex.
extends Logger

var _mutex := Mutex.new()
var _active := false
var _lines: PackedStringArray = []


## Starts a fresh capture.
func begin() -> void:
	_mutex.lock()
	_lines.clear()
	_active = true
	_mutex.unlock()


## Ends the capture and returns the lines logged since begin(), in order.
func finish() -> PackedStringArray:
	_mutex.lock()
	_active = false
	var out := _lines.duplicate()
	_mutex.unlock()
	return out


func _log_error(_function: String, _file: String, _line: int, code: String, rationale: String,
		_editor_notify: bool, error_type: int, _script_backtraces: Array[ScriptBacktrace]) -> void:
	var kind := "ERROR"
	match error_type:
		ERROR_TYPE_WARNING:
			kind = "WARNING"
		ERROR_TYPE_SCRIPT:
			kind = "SCRIPT ERROR"
		ERROR_TYPE_SHADER:
			kind = "SHADER ERROR"
	_add("%s: %s" % [kind, rationale if rationale != "" else code])


func _log_message(message: String, error: bool) -> void:
	_add("%s: %s" % ["printerr" if error else "print", message.strip_edges(false, true)])


func _add(line: String) -> void:
	_mutex.lock()
	if _active and _lines.size() < 64:
		_lines.append(line)
	_mutex.unlock()
