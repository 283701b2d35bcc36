## Names and plain-language explanations for gdnat's result and gateway-status codes.
##
## The names are the ones the engine's UPNP / UPNPDevice use (NatUPNP.UPNP_RESULT_*,
## NatUPNPDevice.IGD_STATUS_*). When the gdnat extension is loaded the names are read from its
## ClassDB constants, so the demo shows exactly what the addon exposes; the tables below are the
## fallback (and the documentation) when it is not.
## Used through preload (no class_name, so a project without an editor import pass still parses).
extends RefCounted

## UPNP_RESULT_* names by value (0..28), identical to the engine's UPNP.UPNPResult.
const RESULT_NAMES: Array[String] = [
	"UPNP_RESULT_SUCCESS",
	"UPNP_RESULT_NOT_AUTHORIZED",
	"UPNP_RESULT_PORT_MAPPING_NOT_FOUND",
	"UPNP_RESULT_INCONSISTENT_PARAMETERS",
	"UPNP_RESULT_NO_SUCH_ENTRY_IN_ARRAY",
	"UPNP_RESULT_ACTION_FAILED",
	"UPNP_RESULT_SRC_IP_WILDCARD_NOT_PERMITTED",
	"UPNP_RESULT_EXT_PORT_WILDCARD_NOT_PERMITTED",
	"UPNP_RESULT_INT_PORT_WILDCARD_NOT_PERMITTED",
	"UPNP_RESULT_REMOTE_HOST_MUST_BE_WILDCARD",
	"UPNP_RESULT_EXT_PORT_MUST_BE_WILDCARD",
	"UPNP_RESULT_NO_PORT_MAPS_AVAILABLE",
	"UPNP_RESULT_CONFLICT_WITH_OTHER_MECHANISM",
	"UPNP_RESULT_CONFLICT_WITH_OTHER_MAPPING",
	"UPNP_RESULT_SAME_PORT_VALUES_REQUIRED",
	"UPNP_RESULT_ONLY_PERMANENT_LEASE_SUPPORTED",
	"UPNP_RESULT_INVALID_GATEWAY",
	"UPNP_RESULT_INVALID_PORT",
	"UPNP_RESULT_INVALID_PROTOCOL",
	"UPNP_RESULT_INVALID_DURATION",
	"UPNP_RESULT_INVALID_ARGS",
	"UPNP_RESULT_INVALID_RESPONSE",
	"UPNP_RESULT_INVALID_PARAM",
	"UPNP_RESULT_HTTP_ERROR",
	"UPNP_RESULT_SOCKET_ERROR",
	"UPNP_RESULT_MEM_ALLOC_ERROR",
	"UPNP_RESULT_NO_GATEWAY",
	"UPNP_RESULT_NO_DEVICES",
	"UPNP_RESULT_UNKNOWN_ERROR",
]

## What each result means for the person running the demo, keyed by result name.
const RESULT_HINTS := {
	"UPNP_RESULT_SUCCESS": "done",
	"UPNP_RESULT_NOT_AUTHORIZED": "the router refused: this port or client is not allowed (UPnP 606/403)",
	"UPNP_RESULT_PORT_MAPPING_NOT_FOUND": "no such port mapping",
	"UPNP_RESULT_INCONSISTENT_PARAMETERS": "the router found the request's parameters inconsistent (733)",
	"UPNP_RESULT_NO_SUCH_ENTRY_IN_ARRAY": "the router has no such mapping (714)",
	"UPNP_RESULT_ACTION_FAILED": "the router could not do it (501), e.g. port forwarding is disabled on it",
	"UPNP_RESULT_SRC_IP_WILDCARD_NOT_PERMITTED": "the router needs a specific remote host (715)",
	"UPNP_RESULT_EXT_PORT_WILDCARD_NOT_PERMITTED": "external port 0 (wildcard) is not allowed (716)",
	"UPNP_RESULT_INT_PORT_WILDCARD_NOT_PERMITTED": "internal port 0 (wildcard) is not allowed (732)",
	"UPNP_RESULT_REMOTE_HOST_MUST_BE_WILDCARD": "the router only accepts mappings for any remote host (726)",
	"UPNP_RESULT_EXT_PORT_MUST_BE_WILDCARD": "the router wants external port 0 (727)",
	"UPNP_RESULT_NO_PORT_MAPS_AVAILABLE": "the router's mapping table is full (728)",
	"UPNP_RESULT_CONFLICT_WITH_OTHER_MECHANISM": "the port is used by another mechanism on the router (729)",
	"UPNP_RESULT_CONFLICT_WITH_OTHER_MAPPING": "the port is already mapped to another host (718)",
	"UPNP_RESULT_SAME_PORT_VALUES_REQUIRED": "external and internal port must be equal (724)",
	"UPNP_RESULT_ONLY_PERMANENT_LEASE_SUPPORTED": "the router only accepts lease 0 (permanent) (725)",
	"UPNP_RESULT_INVALID_GATEWAY": "this device is not a usable internet gateway",
	"UPNP_RESULT_INVALID_PORT": "the port must be 1..65535",
	"UPNP_RESULT_INVALID_PROTOCOL": "the protocol must be exactly \"UDP\" or \"TCP\"",
	"UPNP_RESULT_INVALID_DURATION": "the lease must not be negative",
	"UPNP_RESULT_INVALID_ARGS": "the router rejected the arguments (402)",
	"UPNP_RESULT_INVALID_RESPONSE": "the router's answer could not be understood",
	"UPNP_RESULT_INVALID_PARAM": "invalid discovery parameter (timeout or TTL)",
	"UPNP_RESULT_HTTP_ERROR": "the router did not answer over HTTP (unreachable, timed out or garbled)",
	"UPNP_RESULT_SOCKET_ERROR": "could not open the discovery socket",
	"UPNP_RESULT_MEM_ALLOC_ERROR": "out of memory",
	"UPNP_RESULT_NO_GATEWAY": "no valid internet gateway was found: run Discover first",
	"UPNP_RESULT_NO_DEVICES": "no UPnP device answered on this network",
	"UPNP_RESULT_UNKNOWN_ERROR": "the router answered with an unexpected error",
}

## IGD_STATUS_* names by value (0..9), identical to the engine's UPNPDevice.IGDStatus.
const IGD_STATUS_NAMES: Array[String] = [
	"IGD_STATUS_OK",
	"IGD_STATUS_HTTP_ERROR",
	"IGD_STATUS_HTTP_EMPTY",
	"IGD_STATUS_NO_URLS",
	"IGD_STATUS_NO_IGD",
	"IGD_STATUS_DISCONNECTED",
	"IGD_STATUS_UNKNOWN_DEVICE",
	"IGD_STATUS_INVALID_CONTROL",
	"IGD_STATUS_MALLOC_ERROR",
	"IGD_STATUS_UNKNOWN_ERROR",
]


## The UPNP_RESULT_* name for `code`, taken from the extension's constants when it is loaded.
static func result_name(code: int) -> String:
	var name := _constant_name("NatUPNP", "UPNP_RESULT_", code)
	if name != "":
		return name
	if code >= 0 and code < RESULT_NAMES.size():
		return RESULT_NAMES[code]
	return "UPNP_RESULT_#%d" % code


## A one-line explanation of `code`, e.g. "UPNP_RESULT_CONFLICT_WITH_OTHER_MAPPING: the port is...".
static func describe_result(code: int) -> String:
	var name := result_name(code)
	return "%s: %s" % [name, RESULT_HINTS.get(name, "result code %d" % code)]


## The IGD_STATUS_* name for `status`, taken from the extension's constants when it is loaded.
static func igd_status_name(status: int) -> String:
	var name := _constant_name("NatUPNPDevice", "IGD_STATUS_", status)
	if name != "":
		return name
	if status >= 0 and status < IGD_STATUS_NAMES.size():
		return IGD_STATUS_NAMES[status]
	return "IGD_STATUS_#%d" % status


## Finds the constant of `klass` whose name starts with `prefix` and whose value is `value`.
static func _constant_name(klass: String, prefix: String, value: int) -> String:
	if not ClassDB.class_exists(klass):
		return ""
	for constant in ClassDB.class_get_integer_constant_list(klass, true):
		if constant.begins_with(prefix) and ClassDB.class_get_integer_constant(klass, constant) == value:
			return constant
	return ""
