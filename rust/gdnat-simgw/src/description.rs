//! Device descriptions (generated, shaped like miniupnpd's rootDesc.xml) and the SSDP
//! targets each device advertises.

use crate::config::{ConnectionKind, DeviceConfig, DeviceKind, RouterConfig, UrlStyle};
use crate::xml::escape_text;

/// The UPnP device namespace of description documents.
const DEVICE_NS: &str = "urn:schemas-upnp-org:device-1-0";

/// Service type of the router's WAN connection service, e.g.
/// `urn:schemas-upnp-org:service:WANIPConnection:2`.
pub fn connection_service_type(router: &RouterConfig) -> String {
    match router.connection {
        ConnectionKind::WanIp => format!(
            "urn:schemas-upnp-org:service:WANIPConnection:{}",
            igd_version(router)
        ),
        ConnectionKind::WanPpp => "urn:schemas-upnp-org:service:WANPPPConnection:1".to_string(),
    }
}

/// Path (without leading slash handling: always starts with `/`) the WAN connection service
/// is controlled at.
pub fn connection_control_path(router: &RouterConfig) -> &'static str {
    match router.connection {
        ConnectionKind::WanIp => "/ctl/IPConn",
        ConnectionKind::WanPpp => "/ctl/PPPConn",
    }
}

/// The effective IGD version (1 or 2).
pub fn igd_version(router: &RouterConfig) -> u8 {
    if router.igd_version == 1 {
        1
    } else {
        2
    }
}

/// UUIDs of the root device and of its embedded devices (WANDevice, WANConnectionDevice),
/// derived from the configured root UUID like miniupnpd's …07b/…07c/…07d.
fn embedded_uuid(root: &str, n: u8) -> String {
    let mut base: String = root.to_string();
    let last = base.pop().unwrap_or('0');
    let candidates = [['c', 'e'], ['d', 'f']];
    let pick = candidates[usize::from(n.min(1))];
    let c = if pick[0] == last { pick[1] } else { pick[0] };
    base.push(c);
    base
}

/// One SSDP search target a device answers, with the USN it answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsdpTarget {
    /// The `ST` value (device or service type, `upnp:rootdevice` or `uuid:…`).
    pub st: String,
    /// The `USN` value.
    pub usn: String,
}

impl SsdpTarget {
    fn new(uuid: &str, st: &str) -> Self {
        let usn = if st.starts_with("uuid:") {
            st.to_string()
        } else {
            format!("uuid:{uuid}::{st}")
        };
        SsdpTarget {
            st: st.to_string(),
            usn,
        }
    }
}

/// Every target the device advertises (the answers to `ssdp:all`, one per target).
pub fn ssdp_targets(device: &DeviceConfig) -> Vec<SsdpTarget> {
    let root = device.uuid.as_str();
    match &device.kind {
        DeviceKind::Router(r) => {
            let v = igd_version(r);
            let wan = embedded_uuid(root, 0);
            let conn = embedded_uuid(root, 1);
            vec![
                SsdpTarget::new(root, "upnp:rootdevice"),
                SsdpTarget::new(root, &format!("uuid:{root}")),
                SsdpTarget::new(
                    root,
                    &format!("urn:schemas-upnp-org:device:InternetGatewayDevice:{v}"),
                ),
                SsdpTarget::new(root, "urn:schemas-upnp-org:service:Layer3Forwarding:1"),
                SsdpTarget::new(&wan, &format!("uuid:{wan}")),
                SsdpTarget::new(&wan, &format!("urn:schemas-upnp-org:device:WANDevice:{v}")),
                SsdpTarget::new(
                    &wan,
                    "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1",
                ),
                SsdpTarget::new(&conn, &format!("uuid:{conn}")),
                SsdpTarget::new(
                    &conn,
                    &format!("urn:schemas-upnp-org:device:WANConnectionDevice:{v}"),
                ),
                SsdpTarget::new(&conn, &connection_service_type(r)),
            ]
        }
        DeviceKind::Printer => vec![
            SsdpTarget::new(root, "upnp:rootdevice"),
            SsdpTarget::new(root, &format!("uuid:{root}")),
            SsdpTarget::new(root, "urn:schemas-upnp-org:device:Printer:1"),
            SsdpTarget::new(root, "urn:schemas-upnp-org:service:PrintBasic:1"),
        ],
    }
}

/// Matches an M-SEARCH `ST` against the device's targets. Returns the answers to send
/// (`ST` echoed as asked). `ssdp:all` yields one answer per target. A versioned type also
/// matches a target of the same type with a higher version (an IGD:2 answers an IGD:1
/// search, as the UDA requires and miniupnpd does), answering with the version asked.
pub fn match_search(device: &DeviceConfig, st: &str) -> Vec<SsdpTarget> {
    let targets = ssdp_targets(device);
    if st == "ssdp:all" {
        return targets;
    }
    for t in &targets {
        if t.st == st {
            return vec![t.clone()];
        }
        if let (Some((t_base, t_ver)), Some((s_base, s_ver))) =
            (split_version(&t.st), split_version(st))
        {
            if t_base == s_base && s_ver <= t_ver && s_ver >= 1 {
                let uuid_part = t.usn.split("::").next().unwrap_or_default();
                return vec![SsdpTarget {
                    st: st.to_string(),
                    usn: format!("{uuid_part}::{st}"),
                }];
            }
        }
    }
    Vec::new()
}

/// Splits `urn:…:Name:2` into (`urn:…:Name:`, 2).
fn split_version(st: &str) -> Option<(&str, u32)> {
    if !st.starts_with("urn:") {
        return None;
    }
    let idx = st.rfind(':')?;
    let ver = st[idx + 1..].parse::<u32>().ok()?;
    Some((&st[..=idx], ver))
}

/// A tiny element writer that optionally prefixes every element name.
struct XmlOut {
    out: String,
    prefix: String,
}

impl XmlOut {
    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(&self.prefix);
        self.out.push_str(name);
        self.out.push('>');
    }
    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(&self.prefix);
        self.out.push_str(name);
        self.out.push('>');
    }
    fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        self.out.push_str(&escape_text(text));
        self.close(name);
    }
    fn device_header(&mut self, device_type: &str, friendly: &str, uuid: &str) {
        self.leaf("deviceType", device_type);
        self.leaf("friendlyName", friendly);
        self.leaf("manufacturer", "gdnat");
        self.leaf("manufacturerURL", "http://example.invalid/");
        self.leaf("modelDescription", "gdnat simulated device");
        self.leaf("modelName", "SimGW");
        self.leaf("modelNumber", "1");
        self.leaf("serialNumber", "12345678");
        self.leaf("UDN", &format!("uuid:{uuid}"));
    }
    fn service(
        &mut self,
        service_type: &str,
        service_id: &str,
        scpd: &str,
        control: &str,
        event: &str,
    ) {
        self.open("service");
        self.leaf("serviceType", service_type);
        self.leaf("serviceId", service_id);
        self.leaf("SCPDURL", scpd);
        self.leaf("controlURL", control);
        self.leaf("eventSubURL", event);
        self.close("service");
    }
}

/// Builds the description document of the device. `base_url` is `http://host:port` (no
/// trailing slash) as written in LOCATION; it is used for URLBase and absolute URLs.
pub fn build_description(device: &DeviceConfig, base_url: &str) -> String {
    let (prefix, style) = match &device.kind {
        DeviceKind::Router(r) => (r.namespace_prefix.clone(), r.url_style),
        DeviceKind::Printer => (None, UrlStyle::AbsolutePath),
    };
    let mut x = XmlOut {
        out: String::from("<?xml version=\"1.0\"?>\n"),
        prefix: prefix.as_ref().map(|p| format!("{p}:")).unwrap_or_default(),
    };
    match &prefix {
        Some(p) => x.out.push_str(&format!(
            "<{p}:root xmlns:{p}=\"{DEVICE_NS}\" configId=\"1337\">"
        )),
        None => x
            .out
            .push_str(&format!("<root xmlns=\"{DEVICE_NS}\" configId=\"1337\">")),
    }
    x.open("specVersion");
    x.leaf("major", "1");
    x.leaf("minor", "1");
    x.close("specVersion");
    if style == UrlStyle::RelativeWithUrlBase {
        x.leaf("URLBase", &format!("{base_url}/"));
    }
    // Writes a URL path ("/ctl/IPConn") in the configured style.
    let url = |path: &str| -> String {
        match style {
            UrlStyle::AbsolutePath => path.to_string(),
            UrlStyle::RelativeWithUrlBase => path.trim_start_matches('/').to_string(),
            UrlStyle::AbsoluteUrl => format!("{base_url}{path}"),
        }
    };
    let root_uuid = device.uuid.as_str();
    x.open("device");
    match &device.kind {
        DeviceKind::Router(r) => {
            let v = igd_version(r);
            x.device_header(
                &format!("urn:schemas-upnp-org:device:InternetGatewayDevice:{v}"),
                &r.friendly_name,
                root_uuid,
            );
            x.open("serviceList");
            x.service(
                "urn:schemas-upnp-org:service:Layer3Forwarding:1",
                "urn:upnp-org:serviceId:L3Forwarding1",
                &url("/L3F.xml"),
                &url("/ctl/L3F"),
                &url("/evt/L3F"),
            );
            x.close("serviceList");
            x.open("deviceList");
            x.open("device");
            x.device_header(
                &format!("urn:schemas-upnp-org:device:WANDevice:{v}"),
                "WANDevice",
                &embedded_uuid(root_uuid, 0),
            );
            x.open("serviceList");
            x.service(
                "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1",
                "urn:upnp-org:serviceId:WANCommonIFC1",
                &url("/WANCfg.xml"),
                &url("/ctl/CmnIfCfg"),
                &url("/evt/CmnIfCfg"),
            );
            x.close("serviceList");
            x.open("deviceList");
            x.open("device");
            x.device_header(
                &format!("urn:schemas-upnp-org:device:WANConnectionDevice:{v}"),
                "WANConnectionDevice",
                &embedded_uuid(root_uuid, 1),
            );
            x.open("serviceList");
            let (scpd, id, evt) = match r.connection {
                ConnectionKind::WanIp => (
                    "/WANIPCn.xml",
                    "urn:upnp-org:serviceId:WANIPConn1",
                    "/evt/IPConn",
                ),
                ConnectionKind::WanPpp => (
                    "/WANPPPCn.xml",
                    "urn:upnp-org:serviceId:WANPPPConn1",
                    "/evt/PPPConn",
                ),
            };
            x.service(
                &connection_service_type(r),
                id,
                &url(scpd),
                &url(connection_control_path(r)),
                &url(evt),
            );
            x.close("serviceList");
            x.close("device");
            x.close("deviceList");
            x.close("device");
            x.close("deviceList");
            x.leaf("presentationURL", &format!("{base_url}/"));
        }
        DeviceKind::Printer => {
            x.device_header(
                "urn:schemas-upnp-org:device:Printer:1",
                "Office printer",
                root_uuid,
            );
            x.open("serviceList");
            x.service(
                "urn:schemas-upnp-org:service:PrintBasic:1",
                "urn:upnp-org:serviceId:PrintBasic1",
                "/PrintBasic.xml",
                "/ctl/PrintBasic",
                "/evt/PrintBasic",
            );
            x.close("serviceList");
        }
    }
    x.close("device");
    x.close("root");
    x.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(f: impl FnOnce(&mut RouterConfig)) -> DeviceConfig {
        let mut r = RouterConfig::default();
        f(&mut r);
        DeviceConfig::router(r)
    }

    #[test]
    fn igd2_description_has_wanip2_and_absolute_path() {
        let d = build_description(&router(|_| {}), "http://127.0.0.1:5000");
        assert!(d.contains(
            "<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>"
        ));
        assert!(
            d.contains("<serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>")
        );
        assert!(d.contains("<controlURL>/ctl/IPConn</controlURL>"));
        assert!(!d.contains("URLBase"));
    }

    #[test]
    fn igd1_ppp_relative_with_urlbase() {
        let dev = router(|r| {
            r.igd_version = 1;
            r.connection = ConnectionKind::WanPpp;
            r.url_style = UrlStyle::RelativeWithUrlBase;
        });
        let d = build_description(&dev, "http://10.0.0.1:80");
        assert!(d.contains("InternetGatewayDevice:1"));
        assert!(d.contains(
            "<serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>"
        ));
        assert!(!d.contains("WANIPConnection"));
        assert!(d.contains("<URLBase>http://10.0.0.1:80/</URLBase>"));
        assert!(d.contains("<controlURL>ctl/PPPConn</controlURL>"));
    }

    #[test]
    fn prefixed_description_prefixes_every_element() {
        let dev = router(|r| r.namespace_prefix = Some("ns0".into()));
        let d = build_description(&dev, "http://h:1");
        assert!(d.contains("<ns0:root xmlns:ns0=\"urn:schemas-upnp-org:device-1-0\""));
        assert!(d.contains("<ns0:controlURL>/ctl/IPConn</ns0:controlURL>"));
        assert!(d.ends_with("</ns0:root>"));
        assert!(!d.contains("<device>"));
    }

    #[test]
    fn search_matching() {
        let dev = router(|_| {});
        assert_eq!(
            match_search(&dev, "ssdp:all").len(),
            ssdp_targets(&dev).len()
        );
        let igd1 = match_search(&dev, "urn:schemas-upnp-org:device:InternetGatewayDevice:1");
        assert_eq!(igd1.len(), 1);
        assert_eq!(
            igd1[0].st,
            "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
        );
        assert_eq!(
            igd1[0].usn,
            "uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::urn:schemas-upnp-org:device:InternetGatewayDevice:1"
        );
        assert!(
            match_search(&dev, "urn:schemas-upnp-org:device:InternetGatewayDevice:3").is_empty()
        );
        assert!(match_search(&dev, "urn:schemas-upnp-org:service:WANPPPConnection:1").is_empty());
        let ppp = router(|r| r.connection = ConnectionKind::WanPpp);
        assert_eq!(
            match_search(&ppp, "urn:schemas-upnp-org:service:WANPPPConnection:1").len(),
            1
        );
        let printer = DeviceConfig::printer();
        assert_eq!(match_search(&printer, "upnp:rootdevice").len(), 1);
        assert!(match_search(
            &printer,
            "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
        )
        .is_empty());
        assert_eq!(
            match_search(&dev, "uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b")[0].usn,
            "uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b"
        );
    }

    #[test]
    fn embedded_uuids_follow_miniupnpd() {
        assert!(embedded_uuid("abc07b", 0).ends_with("07c"));
        assert!(embedded_uuid("abc07b", 1).ends_with("07d"));
        assert_ne!(embedded_uuid("abc", 0), "abc");
    }
}
