//! gdnat Godot binding (being written).
