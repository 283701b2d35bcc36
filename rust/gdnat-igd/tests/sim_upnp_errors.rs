//! "Any UPnP error per action" (issue 2): each of the seven actions against the simulated
//! gateway configured to answer that action with a given UPnP fault. Each case asserts the
//! exact typed error (the operation enum's variant carrying the fault's code and description),
//! the engine's UPNPResult integer from the one mapping function (`upnp_result()`, spec §4),
//! that the table was not changed, and that the call returned within one exchange's bound.
//!
//! Codes an operation has no variant for land in its `Upnp(fault)` variant; those cases are
//! listed too (including the engine's holes: 730 and 713 give UNKNOWN_ERROR).

mod common;

use std::fmt::Debug;

use common::sim::{bounded, raw_gateway, request, start_config, WANIP2};
use gdnat_igd::error::Fault;
use gdnat_igd::{
    AddAnyPortMappingError as AddAny, AddPortMappingError as Add, DeletePortMappingError as Delete,
    GetExternalIpError as ExternalIp, GetGenericPortMappingEntryError as Generic,
    GetSpecificPortMappingEntryError as Specific, GetStatusInfoError as Status, Gateway, Protocol, UpnpErrorCode as Code,
    UpnpResult,
};
use gdnat_simgw::{error_description, scenario, FaultKind, FaultTarget, SimGateway};

/// One fault case: the code the gateway sends, its expected name, the expected typed error
/// (built by hand from the variant), and the expected UPNPResult integer.
struct Case<E> {
    code: u16,
    named: Code,
    expected: fn(Fault) -> E,
    result: i32,
}

fn case<E>(code: u16, named: Code, expected: fn(Fault) -> E, result: i32) -> Case<E> {
    Case { code, named, expected, result }
}

/// igd2-public answering `action` with UPnP error `code` (and miniupnpd's description).
fn faulting(action: &str, code: u16) -> SimGateway {
    let mut config = scenario("igd2-public").expect("scenario");
    let device = config.devices[0].clone();
    config.devices[0] =
        device.with_fault(FaultTarget::Action(action.into()), FaultKind::UpnpError(code, error_description(code).into()));
    start_config(config)
}

/// Runs every case of `action`: the exact error, the result code, the untouched table, the bound.
fn check<T: Debug, E: Debug + PartialEq>(
    action: &str,
    cases: &[Case<E>],
    call: impl Fn(&Gateway) -> Result<T, E>,
    result_of: impl Fn(&E) -> UpnpResult,
) {
    for case in cases {
        assert_eq!(case.named.code(), i32::from(case.code), "{action}: the case's name and number disagree");
        let gw = faulting(action, case.code);
        let gateway = raw_gateway(&gw, WANIP2);
        let err = bounded(|| call(&gateway)).expect_err(&format!("{action} with fault {}", case.code));
        let fault = Fault { code: case.named, description: error_description(case.code).into() };
        assert_eq!(err, (case.expected)(fault), "{action} fault {}", case.code);
        assert_eq!(result_of(&err).code(), case.result, "{action} fault {}: UPNPResult", case.code);
        assert!(gw.mappings().is_empty(), "{action} fault {}: a faulted answer must not change the table", case.code);
        let faulted = gw.requests().iter().filter(|r| r.soap_action.as_deref().is_some_and(|a| a.ends_with(&format!("#{action}")))).count();
        assert_eq!(faulted, 1, "{action}: exactly one request, no retry");
        gw.stop();
    }
}

#[test]
fn get_status_info_faults() {
    let cases = [
        case(606, Code::ActionNotAuthorized, Status::ActionNotAuthorized, 1),
        case(501, Code::ActionFailed, Status::ActionFailed, 5),
        case(402, Code::InvalidArgs, Status::Upnp, 20),
        case(401, Code::InvalidAction, Status::Upnp, 28),
    ];
    check("GetStatusInfo", &cases, |g| g.get_status_info(), |e| e.upnp_result());
}

#[test]
fn get_external_ip_address_faults() {
    let cases = [
        case(606, Code::ActionNotAuthorized, ExternalIp::ActionNotAuthorized, 1),
        case(501, Code::ActionFailed, ExternalIp::ActionFailed, 5),
        case(403, Code::OutOfSync, ExternalIp::Upnp, 1),
        case(899, Code::Other(899), ExternalIp::Upnp, 28),
    ];
    check("GetExternalIPAddress", &cases, |g| g.get_external_ip(), |e| e.upnp_result());
}

#[test]
fn add_port_mapping_faults() {
    let cases = [
        case(606, Code::ActionNotAuthorized, Add::ActionNotAuthorized, 1),
        case(402, Code::InvalidArgs, Add::InvalidArgs, 20),
        case(501, Code::ActionFailed, Add::ActionFailed, 5),
        case(715, Code::WildCardNotPermittedInSrcIp, Add::WildCardNotPermittedInSrcIp, 6),
        case(716, Code::WildCardNotPermittedInExtPort, Add::WildCardNotPermittedInExtPort, 7),
        case(718, Code::ConflictInMappingEntry, Add::ConflictInMappingEntry, 13),
        case(724, Code::SamePortValuesRequired, Add::SamePortValuesRequired, 14),
        case(725, Code::OnlyPermanentLeasesSupported, Add::OnlyPermanentLeasesSupported, 15),
        case(726, Code::RemoteHostOnlySupportsWildcard, Add::RemoteHostOnlySupportsWildcard, 9),
        case(727, Code::ExternalPortOnlySupportsWildcard, Add::ExternalPortOnlySupportsWildcard, 10),
        case(728, Code::NoPortMapsAvailable, Add::NoPortMapsAvailable, 11),
        case(729, Code::ConflictWithOtherMechanisms, Add::ConflictWithOtherMechanisms, 12),
        case(732, Code::WildCardNotPermittedInIntPort, Add::WildCardNotPermittedInIntPort, 8),
        case(733, Code::InconsistentParameters, Add::Upnp, 3),
        case(730, Code::PortMappingNotFound, Add::Upnp, 28),
        case(899, Code::Other(899), Add::Upnp, 28),
    ];
    check("AddPortMapping", &cases, |g| g.add_port_mapping(&request(7000, Protocol::Tcp, 3600)), |e| e.upnp_result());
}

#[test]
fn add_any_port_mapping_faults() {
    let cases = [
        case(401, Code::InvalidAction, AddAny::InvalidAction, 28),
        case(606, Code::ActionNotAuthorized, AddAny::ActionNotAuthorized, 1),
        case(402, Code::InvalidArgs, AddAny::InvalidArgs, 20),
        case(501, Code::ActionFailed, AddAny::ActionFailed, 5),
        case(716, Code::WildCardNotPermittedInExtPort, AddAny::WildCardNotPermittedInExtPort, 7),
        case(728, Code::NoPortMapsAvailable, AddAny::NoPortMapsAvailable, 11),
        case(729, Code::ConflictWithOtherMechanisms, AddAny::ConflictWithOtherMechanisms, 12),
        case(732, Code::WildCardNotPermittedInIntPort, AddAny::WildCardNotPermittedInIntPort, 8),
        case(718, Code::ConflictInMappingEntry, AddAny::Upnp, 13),
        case(725, Code::OnlyPermanentLeasesSupported, AddAny::Upnp, 15),
    ];
    check("AddAnyPortMapping", &cases, |g| g.add_any_port_mapping(&request(7001, Protocol::Udp, 0)), |e| e.upnp_result());
}

#[test]
fn delete_port_mapping_faults() {
    let cases = [
        case(606, Code::ActionNotAuthorized, Delete::ActionNotAuthorized, 1),
        case(714, Code::NoSuchEntryInArray, Delete::NoSuchEntryInArray, 4),
        case(402, Code::InvalidArgs, Delete::InvalidArgs, 20),
        case(501, Code::ActionFailed, Delete::ActionFailed, 5),
        case(730, Code::PortMappingNotFound, Delete::Upnp, 28),
        case(713, Code::SpecifiedArrayIndexInvalid, Delete::Upnp, 28),
    ];
    check("DeletePortMapping", &cases, |g| g.delete_port_mapping(7002, Protocol::Tcp), |e| e.upnp_result());
}

#[test]
fn get_specific_port_mapping_entry_faults() {
    let cases = [
        case(714, Code::NoSuchEntryInArray, Specific::NoSuchEntryInArray, 4),
        case(606, Code::ActionNotAuthorized, Specific::ActionNotAuthorized, 1),
        case(402, Code::InvalidArgs, Specific::InvalidArgs, 20),
        case(501, Code::ActionFailed, Specific::Upnp, 5),
    ];
    check("GetSpecificPortMappingEntry", &cases, |g| g.get_specific_port_mapping_entry(7003, Protocol::Udp), |e| e.upnp_result());
}

#[test]
fn get_generic_port_mapping_entry_faults() {
    let cases = [
        case(713, Code::SpecifiedArrayIndexInvalid, Generic::SpecifiedArrayIndexInvalid, 28),
        case(606, Code::ActionNotAuthorized, Generic::ActionNotAuthorized, 1),
        case(402, Code::InvalidArgs, Generic::InvalidArgs, 20),
        case(714, Code::NoSuchEntryInArray, Generic::Upnp, 4),
    ];
    check("GetGenericPortMappingEntry", &cases, |g| g.get_generic_port_mapping_entry(0), |e| e.upnp_result());
}

#[test]
fn a_fault_on_one_action_leaves_the_others_working() {
    let gw = faulting("AddPortMapping", 718);
    let gateway = raw_gateway(&gw, WANIP2);
    assert!(matches!(bounded(|| gateway.add_port_mapping(&request(7004, Protocol::Tcp, 0))), Err(Add::ConflictInMappingEntry(_))));
    assert_eq!(bounded(|| gateway.get_external_ip()), Ok("1.2.3.4".to_string()));
    assert_eq!(bounded(|| gateway.add_any_port_mapping(&request(7004, Protocol::Tcp, 0))), Ok(7004));
    assert_eq!(gw.mappings().len(), 1);
    gw.stop();
}
