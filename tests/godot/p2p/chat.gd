## The RPC endpoint of the peer-to-peer end-to-end test: the same node path (/root/Chat) on
## both players. Each side sends hello() to the other; each answers a hello with ack().
extends Node

var got_hello := ""
var got_ack := false


@rpc("any_peer", "call_remote", "reliable")
func hello(text: String) -> void:
	got_hello = text
	print("P2P_RPC received hello from peer %d: %s" % [multiplayer.get_remote_sender_id(), text])
	ack.rpc_id(multiplayer.get_remote_sender_id())


@rpc("any_peer", "call_remote", "reliable")
func ack() -> void:
	got_ack = true
	print("P2P_RPC received ack from peer %d" % multiplayer.get_remote_sender_id())
