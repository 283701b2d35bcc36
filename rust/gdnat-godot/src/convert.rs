//! Conversions between the core's plain data and what the Godot classes hold.
//!
//! A leaf module: plain Rust data that may cross to a worker thread, and depends on no other
//! module of this crate (the Godot object of a [`DeviceData`] is made in [`crate::device`]).

use gdnat_igd::result_code::IgdStatus;
use gdnat_igd::{DeviceStatus, DiscoveredDevice, Gateway};
use godot::prelude::*;


/// The properties of one `NatUPNPDevice`, as plain data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceData {
    /// `description_url`.
    pub description_url: String,
    /// `service_type`.
    pub service_type: String,
    /// `igd_control_url`.
    pub igd_control_url: String,
    /// `igd_service_type`.
    pub igd_service_type: String,
    /// `igd_our_addr`.
    pub igd_our_addr: String,
    /// `igd_status`.
    pub igd_status: i32,
    /// `double_nat`.
    pub double_nat: bool,
}

impl DeviceData {
    /// What a discovered device shows in Godot. The `igd_*` fields are the device's own
    /// (improvement 2); a connected gateway is `IGD_STATUS_OK` whatever its WAN address, and
    /// `double_nat` tells whether that address was private or reserved (improvement 3).
    pub fn from_discovered(device: &DiscoveredDevice) -> Self {
        let mut data = Self {
            description_url: device.description_url.clone(),
            service_type: device.service_type.clone(),
            igd_status: IgdStatus::from_device_status(device.status).code(),
            double_nat: device.status == DeviceStatus::ConnectedPrivate,
            ..Self::default()
        };
        if let (true, Some(gateway)) = (device.status.is_connected(), &device.gateway) {
            data.igd_control_url = gateway.control_url.clone();
            data.igd_service_type = gateway.service_type.clone();
            // Kept whole, IPv6 included (improvement 6: the engine truncates to 15 bytes).
            data.igd_our_addr = gateway.local_addr.clone();
        }
        data
    }
}

/// The text of a Godot string, in one allocation (its `Display`, behind `to_string`, writes
/// it character by character through the formatting machinery: about a twentieth of a blocking
/// call's instructions for two arguments).
pub fn text_of(string: &GString) -> String {
    string.chars().iter().collect()
}

/// The connection service a device's `igd_*` properties name, as plain data for a worker.
/// Nothing is checked: a bad control URL fails the operation later with `HTTP_ERROR` (23),
/// as in the engine.
pub fn gateway_from(control_url: &GString, service_type: &GString, our_addr: &GString) -> Gateway {
    Gateway::new(text_of(control_url), text_of(service_type), text_of(our_addr))
}

/// Identifies one SSDP answer across the discovery callback and the final device list.
pub fn device_key(device: &DiscoveredDevice) -> (String, String, String) {
    (device.description_url.clone(), device.service_type.clone(), device.usn.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovered(status: DeviceStatus) -> DiscoveredDevice {
        DiscoveredDevice {
            description_url: "http://10.0.0.1:5000/rootDesc.xml".into(),
            service_type: "urn:schemas-upnp-org:device:InternetGatewayDevice:1".into(),
            usn: "uuid:x".into(),
            status,
            gateway: Some(Gateway::new("http://10.0.0.1:5000/ctl", "urn:schemas-upnp-org:service:WANIPConnection:1", "fd00::1234:5678:9abc:def0")),
            external_ip: None,
            friendly_name: None,
            detail: String::new(),
        }
    }

    #[test]
    fn a_public_gateway_is_ok_with_its_own_data() {
        let data = DeviceData::from_discovered(&discovered(DeviceStatus::ConnectedPublic));
        assert_eq!(data.igd_status, 0);
        assert!(!data.double_nat);
        assert_eq!(data.igd_control_url, "http://10.0.0.1:5000/ctl");
        assert_eq!(data.igd_service_type, "urn:schemas-upnp-org:service:WANIPConnection:1");
        assert_eq!(data.igd_our_addr, "fd00::1234:5678:9abc:def0", "IPv6 kept whole");
    }

    #[test]
    fn a_double_nat_gateway_is_ok_and_flagged() {
        let data = DeviceData::from_discovered(&discovered(DeviceStatus::ConnectedPrivate));
        assert_eq!(data.igd_status, 0);
        assert!(data.double_nat);
        assert!(!data.igd_control_url.is_empty());
    }

    #[test]
    fn a_device_that_is_not_usable_carries_no_control_data() {
        for (status, code) in [
            (DeviceStatus::NotConnected, 6),
            (DeviceStatus::NotIgd, 4),
            (DeviceStatus::HttpError, 1),
            (DeviceStatus::EmptyAnswer, 2),
        ] {
            let data = DeviceData::from_discovered(&discovered(status));
            assert_eq!(data.igd_status, code, "{status:?}");
            assert!(!data.double_nat);
            assert!(data.igd_control_url.is_empty() && data.igd_service_type.is_empty() && data.igd_our_addr.is_empty());
            assert_eq!(data.description_url, "http://10.0.0.1:5000/rootDesc.xml");
        }
    }
}
