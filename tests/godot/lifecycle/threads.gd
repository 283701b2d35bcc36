## Counts this process's threads by name, read from /proc/self/task/*/comm (Linux). gdnat
## names its worker threads "gdnat-worker" and the core's description downloads
## "gdnat-validate", so the tests can see whether a thread really ended.
extends RefCounted


## How many threads of this process are named exactly `name`; -1 if /proc is not readable.
static func count(name: String) -> int:
	var tasks := DirAccess.get_directories_at("/proc/self/task")
	if tasks.is_empty():
		return -1
	var n := 0
	for task in tasks:
		var f := FileAccess.open("/proc/self/task/%s/comm" % task, FileAccess.READ)
		if f == null:
			continue  # the thread ended while we looked
		if f.get_line().strip_edges() == name:
			n += 1
	return n
