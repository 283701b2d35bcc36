## One implementation under test: a UPNP-like class and its device class, named in ClassDB.
## The conformance checks only ever go through a pair, so the exact same check code runs for the
## engine's ("UPNP", "UPNPDevice") and for gdnat's ("NatUPNP", "NatUPNPDevice").
extends RefCounted

## Column label in the table ("engine" or "ours").
var label: String
## ClassDB name of the gateway-list class.
var upnp_class: String
## ClassDB name of the device class.
var device_class: String


func _init(p_label: String, p_upnp_class: String, p_device_class: String) -> void:
	label = p_label
	upnp_class = p_upnp_class
	device_class = p_device_class


## True when both classes are registered and can be created from script.
func available() -> bool:
	return ClassDB.class_exists(upnp_class) and ClassDB.class_exists(device_class) \
		and ClassDB.can_instantiate(upnp_class) and ClassDB.can_instantiate(device_class)


## Why `available()` is false, for the table.
func unavailable_reason() -> String:
	if not ClassDB.class_exists(upnp_class):
		return "not loaded (no class %s)" % upnp_class
	if not ClassDB.class_exists(device_class):
		return "not loaded (no class %s)" % device_class
	return "not instantiable"


## A fresh gateway-list object.
func new_upnp() -> Object:
	return ClassDB.instantiate(upnp_class)


## A fresh device object.
func new_device() -> Object:
	return ClassDB.instantiate(device_class)


## A device with the given `igd_*` fields filled by hand (the engine needs this on a router whose
## WAN address is reserved, see spec #87953).
func hand_device(control_url: String, service_type: String, our_addr: String, status := 0) -> Object:
	var d := new_device()
	d.igd_control_url = control_url
	d.igd_service_type = service_type
	d.igd_our_addr = our_addr
	d.igd_status = status
	return d


## A gateway list holding `devices` (in order).
func upnp_with(devices: Array) -> Object:
	var u := new_upnp()
	for d in devices:
		u.add_device(d)
	return u


## Integer constant of the gateway-list class (`UPNP_RESULT_*`).
func result_const(name: String) -> int:
	return ClassDB.class_get_integer_constant(upnp_class, name)


## Integer constant of the device class (`IGD_STATUS_*`).
func status_const(name: String) -> int:
	return ClassDB.class_get_integer_constant(device_class, name)


## Replaces this pair's class names by neutral placeholders, so signatures of both pairs compare.
func neutral(class_name_text: String) -> String:
	if class_name_text == device_class:
		return "<Device>"
	if class_name_text == upnp_class:
		return "<UPNP>"
	return class_name_text
