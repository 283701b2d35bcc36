//! Any datagram given to the PCP parsers (ANNOUNCE and MAP answers, with the MAP request's
//! checks), plus the epoch rule on values taken from it: no panic, and an accepted MAP answer
//! of version 2 is always for our nonce, protocol and internal port.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use gdnat_pcp::epoch::{is_valid, EpochRule};
use gdnat_pcp::wire::pcp::{parse_answer, parse_map_answer, MapRequest, Nonce, MAX_MESSAGE_LEN, OPCODE_ANNOUNCE, OPCODE_MAP, VERSION};
use gdnat_pcp::Protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = MapRequest {
        client: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)),
        nonce: Nonce([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        protocol: Protocol::Udp,
        internal_port: 7779,
        suggested_external_port: 7779,
        suggested_external_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        lifetime: 600,
    };
    if let Ok(answer) = parse_map_answer(data, &request) {
        assert!(data.len() <= MAX_MESSAGE_LEN);
        if answer.version == VERSION {
            if let Some(map) = answer.map {
                assert_eq!(map.nonce, request.nonce);
                assert_eq!(map.protocol, Some(request.protocol));
                assert_eq!(map.internal_port, request.internal_port);
            } else {
                assert!(answer.wants_another_version() || answer.result.number() == 3 || answer.result.number() == 4);
            }
        }
    }
    for opcode in [OPCODE_ANNOUNCE, OPCODE_MAP, 2, 0x7f] {
        if let Ok(answer) = parse_answer(data, opcode) {
            assert_eq!(answer.opcode, opcode);
        }
    }
    if data.len() >= 12 {
        let word = |at: usize| u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let elapsed = Duration::from_millis(u64::from(word(8)) * 1000);
        let _ = is_valid(EpochRule::Pcp, word(0), word(4), elapsed);
        let _ = is_valid(EpochRule::NatPmp, word(0), word(4), elapsed);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(nonce) = Nonce::from_hex(text) {
            assert_eq!(Nonce::from_hex(&nonce.to_string()), Some(nonce));
        }
    }
});
