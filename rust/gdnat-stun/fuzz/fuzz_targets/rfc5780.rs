//! The RFC 5780 side of the codec: a server reading our (or anyone's) Binding request with
//! CHANGE-REQUEST, the RESPONSE-ORIGIN / OTHER-ADDRESS attributes inside a success response
//! built around the fuzzer's attribute bytes, and the pure NAT verdict. Must never panic; a
//! CHANGE-REQUEST that is read back must round-trip.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use gdnat_stun::codec::{binding_request_with_id, parse_binding_response, read_binding_request, ChangeRequest, StunTransactionId};
use gdnat_stun::nat_verdict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // 1. A server reading an arbitrary request.
    if let Some((id, change)) = read_binding_request(data) {
        let again = binding_request_with_id(id, change);
        assert_eq!(read_binding_request(&again), Some((id, change)));
    }
    // 2. Arbitrary attributes after a valid success header with the right id and length.
    let id = StunTransactionId::from(0x0A0B_0C0D_0E0F_1011_1213_1415u128);
    let attributes = &data[..data.len().min(500) & !3];
    let mut message = vec![0x01, 0x01];
    message.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    message.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    message.extend_from_slice(&(u128::from(id)).to_be_bytes()[4..]);
    message.extend_from_slice(attributes);
    let _ = parse_binding_response(&message, id);
    // 3. The verdict over addresses made of the input.
    if data.len() >= 12 {
        let v4 = |at: usize| IpAddr::V4(Ipv4Addr::new(data[at], data[at + 1], data[at + 2], data[at + 3]));
        let router = if data[0] & 1 == 0 { Some(v4(4)) } else { None };
        let stun = if data[0] & 2 == 0 { Some(v4(8)) } else { Some(IpAddr::V6(Ipv6Addr::from(u128::from(data[1])))) };
        let _ = nat_verdict(v4(0), router, stun).describe();
    }
    // 4. Flags round-trip.
    if let Some(&flags) = data.first() {
        let change = ChangeRequest { change_ip: flags & 4 != 0, change_port: flags & 2 != 0 };
        let request = binding_request_with_id(id, change);
        assert_eq!(read_binding_request(&request), Some((id, change)));
    }
});
