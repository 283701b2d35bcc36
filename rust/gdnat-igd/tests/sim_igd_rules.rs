//! The simulated gateway's mapping-table rules (issue 2: "the same client overwrites its own
//! mapping, another client gets 718, a missing entry gets 714, and AddAnyPortMapping returns a
//! free port"), driven through the client API only. Each call's exact typed result and
//! UPNPResult integer are asserted, and each call is bounded (common/sim.rs).
//!
//! "Another client" is 127.0.0.2: with secure mode off the gateway lets 127.0.0.1 map for it,
//! which stands in for a second LAN host owning the port; secure mode is then switched on
//! again where the rule under test needs it.

mod common;

use common::sim::{bounded, gateway_of, request, request_for, start, validate};
use gdnat_igd::error::Fault;
use gdnat_igd::{
    AddAnyPortMappingError, AddPortMappingError, DeletePortMappingError, Gateway, GetGenericPortMappingEntryError,
    GetSpecificPortMappingEntryError, Protocol, UpnpErrorCode, UpnpResult,
};
use gdnat_simgw::SimGateway;

const OTHER_CLIENT: &str = "127.0.0.2";

fn fault(code: UpnpErrorCode, description: &str) -> Fault {
    Fault { code, description: description.into() }
}

fn igd2() -> (SimGateway, Gateway) {
    let gw = start("igd2-public");
    let gateway = gateway_of(&validate(&gw, 0));
    assert_eq!(gateway.local_addr, "127.0.0.1");
    (gw, gateway)
}

/// Maps `port` for [`OTHER_CLIENT`] (secure mode off for the call, on again afterwards).
fn other_client_maps(gw: &SimGateway, gateway: &Gateway, port: u16, protocol: Protocol) {
    assert!(gw.update_router(0, |r| r.secure_mode = false));
    bounded(|| gateway.add_port_mapping(&request_for(port, protocol, 0, OTHER_CLIENT))).expect("the other client maps");
    assert!(gw.update_router(0, |r| r.secure_mode = true));
}

#[test]
fn the_same_client_overwrites_its_own_mapping() {
    let (gw, gateway) = igd2();
    bounded(|| gateway.add_port_mapping(&request(7700, Protocol::Tcp, 3600))).expect("first add");
    let mut again = request(7700, Protocol::Tcp, 600);
    again.internal_port = 7701;
    again.description = "refreshed".into();
    bounded(|| gateway.add_port_mapping(&again)).expect("the owner may overwrite");
    let entry = bounded(|| gateway.get_specific_port_mapping_entry(7700, Protocol::Tcp)).expect("entry");
    assert_eq!((entry.internal_port, entry.internal_client.as_str(), entry.description.as_str()), (7701, "127.0.0.1", "refreshed"));
    assert!(entry.lease_seconds > 0 && entry.lease_seconds <= 600, "lease {}", entry.lease_seconds);
    assert_eq!(gw.mappings().len(), 1, "overwritten, not added");
    gw.stop();
}

#[test]
fn a_port_owned_by_another_client_is_718_and_its_delete_is_606() {
    let (gw, gateway) = igd2();
    other_client_maps(&gw, &gateway, 7710, Protocol::Tcp);
    let err = bounded(|| gateway.add_port_mapping(&request(7710, Protocol::Tcp, 0))).unwrap_err();
    assert_eq!(err, AddPortMappingError::ConflictInMappingEntry(fault(UpnpErrorCode::ConflictInMappingEntry, "ConflictInMappingEntry")));
    assert_eq!(err.upnp_result(), UpnpResult::ConflictWithOtherMapping);
    assert_eq!(err.upnp_result().code(), 13);
    // The same port on the other protocol is free.
    bounded(|| gateway.add_port_mapping(&request(7710, Protocol::Udp, 0))).expect("UDP 7710 is free");
    let entry = bounded(|| gateway.get_specific_port_mapping_entry(7710, Protocol::Tcp)).expect("the other client's entry");
    assert_eq!(entry.internal_client, OTHER_CLIENT, "the refused add did not take the port over");

    let err = bounded(|| gateway.delete_port_mapping(7710, Protocol::Tcp)).unwrap_err();
    assert_eq!(err, DeletePortMappingError::ActionNotAuthorized(fault(UpnpErrorCode::ActionNotAuthorized, "Action not authorized")));
    assert_eq!(err.upnp_result(), UpnpResult::NotAuthorized);
    assert_eq!(err.upnp_result().code(), 1);
    assert_eq!(gw.mappings().len(), 2);
    gw.stop();
}

#[test]
fn secure_mode_refuses_a_mapping_for_another_client() {
    let (gw, gateway) = igd2();
    // miniupnpd answers 718 here, not 606 (tests/data/miniupnpd/soap/AddPortMapping-error-718-secure-mode-other-client).
    let err = bounded(|| gateway.add_port_mapping(&request_for(7715, Protocol::Tcp, 0, OTHER_CLIENT))).unwrap_err();
    assert_eq!(err, AddPortMappingError::ConflictInMappingEntry(fault(UpnpErrorCode::ConflictInMappingEntry, "ConflictInMappingEntry")));
    assert_eq!(err.upnp_result(), UpnpResult::ConflictWithOtherMapping);
    let err = bounded(|| gateway.add_any_port_mapping(&request_for(7715, Protocol::Tcp, 0, OTHER_CLIENT))).unwrap_err();
    assert_eq!(err, AddAnyPortMappingError::ActionNotAuthorized(fault(UpnpErrorCode::ActionNotAuthorized, "Action not authorized")));
    assert_eq!(err.upnp_result(), UpnpResult::NotAuthorized);
    assert!(gw.mappings().is_empty());
    gw.stop();
}

#[test]
fn a_missing_entry_is_714_and_a_row_past_the_end_713() {
    let (gw, gateway) = igd2();
    let err = bounded(|| gateway.get_specific_port_mapping_entry(9999, Protocol::Udp)).unwrap_err();
    assert_eq!(err, GetSpecificPortMappingEntryError::NoSuchEntryInArray(fault(UpnpErrorCode::NoSuchEntryInArray, "NoSuchEntryInArray")));
    assert_eq!(err.upnp_result(), UpnpResult::NoSuchEntryInArray);
    assert_eq!(err.upnp_result().code(), 4);
    let err = bounded(|| gateway.delete_port_mapping(9999, Protocol::Udp)).unwrap_err();
    assert_eq!(err, DeletePortMappingError::NoSuchEntryInArray(fault(UpnpErrorCode::NoSuchEntryInArray, "NoSuchEntryInArray")));
    assert_eq!(err.upnp_result().code(), 4);

    bounded(|| gateway.add_port_mapping(&request(7720, Protocol::Tcp, 0))).expect("add");
    assert_eq!(bounded(|| gateway.get_generic_port_mapping_entry(0)).map(|e| (e.external_port, e.protocol)), Ok((7720, "TCP".to_string())));
    let err = bounded(|| gateway.get_generic_port_mapping_entry(1)).unwrap_err();
    assert_eq!(
        err,
        GetGenericPortMappingEntryError::SpecifiedArrayIndexInvalid(fault(UpnpErrorCode::SpecifiedArrayIndexInvalid, "SpecifiedArrayIndexInvalid"))
    );
    assert_eq!(err.upnp_result(), UpnpResult::UnknownError, "the engine maps 713 to UNKNOWN_ERROR");
    // Deleting the entry makes it missing again.
    bounded(|| gateway.delete_port_mapping(7720, Protocol::Tcp)).expect("delete");
    assert!(matches!(bounded(|| gateway.get_specific_port_mapping_entry(7720, Protocol::Tcp)), Err(GetSpecificPortMappingEntryError::NoSuchEntryInArray(_))));
    gw.stop();
}

#[test]
fn deleting_a_missing_entry_succeeds_on_a_delete_missing_ok_router() {
    // miniupnpd 2.3.1 with nftables answers 200 (tests/data/miniupnpd/soap/DeletePortMapping-nonexistent).
    let (gw, gateway) = igd2();
    assert!(gw.update_router(0, |r| r.delete_missing_ok = true));
    assert_eq!(bounded(|| gateway.delete_port_mapping(9998, Protocol::Tcp)), Ok(()));
    gw.stop();
}

#[test]
fn add_any_port_mapping_returns_a_free_port() {
    let (gw, gateway) = igd2();
    other_client_maps(&gw, &gateway, 7730, Protocol::Udp);
    let granted = bounded(|| gateway.add_any_port_mapping(&request(7730, Protocol::Udp, 0))).expect("add any");
    assert_eq!(granted, 7731, "the next free port");
    let entry = bounded(|| gateway.get_specific_port_mapping_entry(7731, Protocol::Udp)).expect("granted entry");
    assert_eq!((entry.internal_client.as_str(), entry.internal_port), ("127.0.0.1", 7730));
    let owner = bounded(|| gateway.get_specific_port_mapping_entry(7730, Protocol::Udp)).expect("owner's entry");
    assert_eq!(owner.internal_client, OTHER_CLIENT);
    // Asking again for the port it already holds gives that port back (a refresh).
    let mut own = request(7731, Protocol::Udp, 0);
    own.internal_port = 7730;
    assert_eq!(bounded(|| gateway.add_any_port_mapping(&own)), Ok(7731));
    // A free port is granted as asked; external port 0 lets the router pick.
    assert_eq!(bounded(|| gateway.add_any_port_mapping(&request(7740, Protocol::Tcp, 0))), Ok(7740));
    let mut any = request(0, Protocol::Tcp, 0);
    any.internal_port = 7741;
    let picked = bounded(|| gateway.add_any_port_mapping(&any)).expect("any port");
    assert_ne!(picked, 0);
    assert!(gw.mappings().iter().any(|m| m.external_port == picked && m.internal_port == 7741));
    assert_eq!(gw.mappings().len(), 4);
    gw.stop();
}

#[test]
fn external_port_0_is_716() {
    let (gw, gateway) = igd2();
    let mut zero = request(0, Protocol::Tcp, 0);
    zero.internal_port = 7791;
    let err = bounded(|| gateway.add_port_mapping(&zero)).unwrap_err();
    assert_eq!(
        err,
        AddPortMappingError::WildCardNotPermittedInExtPort(fault(UpnpErrorCode::WildCardNotPermittedInExtPort, "Wildcard not permited in ExtPort"))
    );
    assert_eq!(err.upnp_result(), UpnpResult::ExtPortWildcardNotPermitted);
    assert_eq!(err.upnp_result().code(), 7);
    assert!(gw.mappings().is_empty());
    gw.stop();
}
