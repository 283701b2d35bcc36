## Runs the engine's own UPNP Thread example (issue 12). docs_thread_example.gd holds it verbatim
## as the UPNP class reference of Godot 4.4-4.6 prints it ("use Threads like this"); only its first
## line `extends Node` is ours, because the docs show the body of a Node script. For gdnat the
## class name is renamed, `UPNP.new()` -> `NatUPNP.new()`, which is all a user moving to gdnat
## does; script_for() refuses to build a variant whose text differs in anything else. The stress
## test also sets SERVER_PORT, as the example's own comment asks ("Replace this with your own
## server port"), so that every run maps its own port.
extends RefCounted

const SOURCE := "res://tests/conformance/docs_thread_example.gd"
const PORT_LINE := "const SERVER_PORT = 3928"
## What Godot 4.6 prints when the example's thread emits upnp_completed on its node (named by
## make_node()) in the tree: the engine refuses the emit, for the engine's UPNP as for ours.
const EMIT_REFUSED := "ERROR: /root/DocsThreadExample: The caller thread can't call the function `emit_signalp()` on this node. Use `call_deferred()` or `call_deferred_thread_group()` instead."


## The example's source text as published, or "" when the file is not as expected.
static func published_text() -> String:
	var text := FileAccess.get_file_as_string(SOURCE)
	if text.count("UPNP.new()") != 1 or text.count(PORT_LINE) != 1:
		return ""
	return text


## The example's text for `upnp_class` ("UPNP" is the text as published) and `port` (0 keeps 3928).
static func text_for(upnp_class: String, port := 0) -> String:
	var text := published_text()
	if text.is_empty():
		return ""
	text = text.replace("UPNP.new()", "%s.new()" % upnp_class)
	if port > 0:
		text = text.replace(PORT_LINE, "const SERVER_PORT = %d" % port)
	return text


## The example compiled for `upnp_class` and `port`, or null (bad source, compile error).
static func script_for(upnp_class: String, port := 0) -> GDScript:
	var text := text_for(upnp_class, port)
	if text.is_empty():
		return null
	var script := GDScript.new()
	script.source_code = text
	if script.reload() != OK:
		return null
	return script


## What differs between the published text and `upnp_class`'s variant, line by line, as
## ["published line", "variant line"] pairs (the check that only the class name changed).
static func changed_lines(upnp_class: String) -> Array:
	var a := published_text().split("\n")
	var b := text_for(upnp_class).split("\n")
	var changed := []
	for i in maxi(a.size(), b.size()):
		var x := a[i] if i < a.size() else "<none>"
		var y := b[i] if i < b.size() else "<none>"
		if x != y:
			changed.append([x.strip_edges(), y.strip_edges()])
	return changed


## A node named `node_name` running the example: when added to the tree its _ready() starts the
## thread. Every `upnp_completed` emission that reaches a handler is appended to
## node.get_meta("emitted") (the handler runs on the example's thread; read it only after the
## thread was joined). Note: Godot 4.6 refuses `emit()` on a node inside the tree from another
## thread ("The caller thread can't call the function `emit_signalp()` on this node"), whichever
## class the example uses, so the example's own upnp_completed never reaches a handler there.
static func make_node(script: GDScript, node_name := "DocsThreadExample") -> Node:
	var node := Node.new()
	node.name = node_name
	node.set_script(script)
	var emitted := []
	node.set_meta("emitted", emitted)
	node.connect("upnp_completed", func(error): emitted.append(error))
	return node
