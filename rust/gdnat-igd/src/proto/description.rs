//! Device descriptions: URLBase, the root friendlyName and every `<service>`, namespace
//! prefixes ignored (godot-upnp-spec §7.2).

use super::xml::{walk, Node};

/// Longest value kept for URLs and types (miniupnpc keeps 127 bytes; we are more generous but
/// still bounded).
const MAX_VALUE: usize = 1024;
/// Most services kept from one description.
const MAX_SERVICES: usize = 64;

/// What a service is, judged from its `serviceType` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// `urn:schemas-upnp-org:service:WANIPConnection:<version>`.
    WanIpConnection(u32),
    /// `urn:schemas-upnp-org:service:WANPPPConnection:<version>`.
    WanPppConnection(u32),
    /// `urn:schemas-upnp-org:service:WANCommonInterfaceConfig:<version>`.
    WanCommonInterfaceConfig,
    /// `urn:schemas-upnp-org:service:WANIPv6FirewallControl:<version>`.
    WanIpv6FirewallControl,
    /// Anything else.
    Other,
}

impl ServiceKind {
    /// Classifies a service type.
    pub fn of(service_type: &str) -> Self {
        const PREFIX: &str = "urn:schemas-upnp-org:service:";
        let Some(rest) = service_type.trim().strip_prefix(PREFIX) else { return Self::Other };
        let (name, version) = rest.split_once(':').unwrap_or((rest, ""));
        let version = version.trim().parse().unwrap_or(0);
        match name {
            "WANIPConnection" => Self::WanIpConnection(version),
            "WANPPPConnection" => Self::WanPppConnection(version),
            "WANCommonInterfaceConfig" => Self::WanCommonInterfaceConfig,
            "WANIPv6FirewallControl" => Self::WanIpv6FirewallControl,
            _ => Self::Other,
        }
    }

    /// Whether port mapping actions live on this service.
    pub fn is_connection(self) -> bool {
        matches!(self, Self::WanIpConnection(_) | Self::WanPppConnection(_))
    }
}

/// One `<service>` element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// `serviceType`, trimmed.
    pub service_type: String,
    /// `controlURL` as written (relative or absolute), trimmed.
    pub control_url: String,
    /// `SCPDURL` as written, trimmed.
    pub scpd_url: String,
}

impl Service {
    /// The classification of `service_type`.
    pub fn kind(&self) -> ServiceKind {
        ServiceKind::of(&self.service_type)
    }
}

/// What a device description says, as far as it could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Description {
    /// `URLBase`, when present and non-empty.
    pub url_base: Option<String>,
    /// `friendlyName` of the root device.
    pub friendly_name: Option<String>,
    /// Every `<service>` anywhere in the tree, in document order.
    pub services: Vec<Service>,
    /// Why reading stopped early (malformed XML), when it did. What came before is kept.
    pub error: Option<String>,
}

impl Description {
    /// The WANIPConnection / WANPPPConnection services, in document order.
    pub fn connection_services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(|s| s.kind().is_connection())
    }

    /// Whether a WANCommonInterfaceConfig service is present.
    pub fn has_common_interface_config(&self) -> bool {
        self.services.iter().any(|s| s.kind() == ServiceKind::WanCommonInterfaceConfig)
    }
}

/// Parses a device description. Never fails: malformed XML yields what was read before the
/// error, with [`Description::error`] set.
pub fn parse_description(xml: &str) -> Description {
    let mut description = Description::default();
    let mut current = Service::default();
    let mut first_friendly_name: Option<String> = None;
    let result = walk(xml, |node| match node {
        Node::Leaf(path, value) => {
            let name = path.last().unwrap_or_default();
            let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
            let value = bounded(value.trim());
            match (name, parent) {
                ("URLBase", _) if description.url_base.is_none() && !value.is_empty() => description.url_base = Some(value),
                ("friendlyName", Some("device")) => {
                    if path.len() == 3 && description.friendly_name.is_none() {
                        description.friendly_name = Some(value.clone());
                    }
                    first_friendly_name.get_or_insert(value);
                }
                ("serviceType", Some("service")) => current.service_type = value,
                ("controlURL", Some("service")) => current.control_url = value,
                ("SCPDURL", Some("service")) => current.scpd_url = value,
                _ => {}
            }
        }
        Node::End(path) => {
            if path.last() == Some("service") {
                let service = std::mem::take(&mut current);
                if description.services.len() < MAX_SERVICES && !service.service_type.is_empty() {
                    description.services.push(service);
                }
            }
        }
    });
    if description.friendly_name.is_none() {
        description.friendly_name = first_friendly_name.filter(|n| !n.is_empty());
    }
    description.error = result.err();
    description
}

fn bounded(value: &str) -> String {
    let mut end = value.len().min(MAX_VALUE);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IGD2: &str = include_str!("../../../../tests/data/miniupnpd/description/rootDesc.xml");
    const IGD1: &str = include_str!("../../../../tests/data/miniupnpd/igdv1/rootDesc.xml");

    #[test]
    fn real_igd2_description() {
        let d = parse_description(IGD2);
        assert_eq!(d.error, None);
        assert_eq!(d.friendly_name.as_deref(), Some("IGD testbed router"));
        assert_eq!(d.url_base, None);
        let connections: Vec<_> = d.connection_services().collect();
        assert_eq!(connections.len(), 1);
        assert_eq!(connections[0].service_type, "urn:schemas-upnp-org:service:WANIPConnection:2");
        assert_eq!(connections[0].control_url, "/ctl/IPConn");
        assert_eq!(connections[0].scpd_url, "/WANIPCn.xml");
        assert_eq!(connections[0].kind(), ServiceKind::WanIpConnection(2));
        assert!(d.has_common_interface_config());
        assert!(d.services.iter().any(|s| s.kind() == ServiceKind::WanIpv6FirewallControl && s.control_url == "/ctl/IP6FCtl"));
        assert_eq!(d.services.len(), 5);
    }

    #[test]
    fn real_igd1_description() {
        let d = parse_description(IGD1);
        assert_eq!(d.error, None);
        let connections: Vec<_> = d.connection_services().collect();
        assert_eq!(connections.len(), 1);
        assert_eq!(connections[0].kind(), ServiceKind::WanIpConnection(1));
    }

    #[test]
    fn namespace_prefixes_and_url_base() {
        let xml = r#"<d:root xmlns:d="urn:schemas-upnp-org:device-1-0"><d:URLBase> http://192.168.0.1:49152/ </d:URLBase>
            <d:device><d:friendlyName>Box &amp; Co</d:friendlyName><d:deviceList><d:device><d:friendlyName>Inner</d:friendlyName>
            <d:serviceList><d:service><d:serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</d:serviceType>
            <d:controlURL>upnp/control/WANPPPConn1</d:controlURL><d:SCPDURL>/ppp.xml</d:SCPDURL></d:service></d:serviceList>
            </d:device></d:deviceList></d:device></d:root>"#;
        let d = parse_description(xml);
        assert_eq!(d.error, None);
        assert_eq!(d.url_base.as_deref(), Some("http://192.168.0.1:49152/"));
        assert_eq!(d.friendly_name.as_deref(), Some("Box & Co"));
        let services: Vec<_> = d.connection_services().collect();
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].kind(), ServiceKind::WanPppConnection(1));
        assert_eq!(services[0].control_url, "upnp/control/WANPPPConn1");
    }

    #[test]
    fn classification() {
        assert_eq!(ServiceKind::of("urn:schemas-upnp-org:service:WANIPConnection:1"), ServiceKind::WanIpConnection(1));
        assert_eq!(ServiceKind::of("urn:schemas-upnp-org:service:WANPPPConnection:1"), ServiceKind::WanPppConnection(1));
        assert_eq!(ServiceKind::of("urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"), ServiceKind::WanCommonInterfaceConfig);
        assert_eq!(ServiceKind::of("urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"), ServiceKind::WanIpv6FirewallControl);
        assert_eq!(ServiceKind::of("urn:schemas-upnp-org:service:Layer3Forwarding:1"), ServiceKind::Other);
        assert_eq!(ServiceKind::of("urn:schemas-upnp-org:service:wanipconnection:1"), ServiceKind::Other);
        assert_eq!(ServiceKind::of(""), ServiceKind::Other);
    }

    #[test]
    fn printer_without_connection_services() {
        let xml = "<root><device><friendlyName>Printer</friendlyName><serviceList><service><serviceType>urn:schemas-upnp-org:service:PrintBasic:1</serviceType><controlURL>/p</controlURL></service></serviceList></device></root>";
        let d = parse_description(xml);
        assert_eq!(d.connection_services().count(), 0);
        assert_eq!(d.services.len(), 1);
        assert_eq!(d.friendly_name.as_deref(), Some("Printer"));
    }

    #[test]
    fn truncated_description_keeps_what_came_before() {
        let cut = &IGD2[..IGD2.find("</service>").unwrap() + 10];
        let d = parse_description(cut);
        assert!(d.error.is_some());
        assert_eq!(d.services.len(), 1);
        assert_eq!(d.services[0].service_type, "urn:schemas-upnp-org:service:Layer3Forwarding:1");
    }

    #[test]
    fn junk_never_panics() {
        for junk in ["", "not xml at all", "<<<<>>>>", "<root><service><serviceType>", "\u{0}\u{1}<a>&#0;</a>", "<a b=></a>"] {
            let d = parse_description(junk);
            assert_eq!(d.connection_services().count(), 0, "{junk:?}");
        }
        let huge = format!("<root>{}</root>", "<service><serviceType>x</serviceType></service>".repeat(10_000));
        assert_eq!(parse_description(&huge).services.len(), MAX_SERVICES);
    }
}
