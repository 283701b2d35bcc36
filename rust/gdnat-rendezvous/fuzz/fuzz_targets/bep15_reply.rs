//! Any datagram as a tracker's reply to a connect or an announce, over IPv4 or IPv6, with the
//! transaction id it carries itself (so the fuzzer reaches the bodies) and with a fixed one.
//! Must never panic; an accepted announce reply must account for every byte of its peer
//! list; the announce request encoder must put the port where BEP 15 says.
#![no_main]

use gdnat_rendezvous::codec::{parse_reply, Action, AnnounceRequest, Event, Reply, ReplyError, MAX_REPLY};
use gdnat_rendezvous::{others, RoomHash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let own = if data.len() >= 8 { u32::from_be_bytes([data[4], data[5], data[6], data[7]]) } else { 0 };
    for action in [Action::Connect, Action::Announce] {
        for ipv6 in [false, true] {
            let _ = parse_reply(data, action, 0xDEAD_BEEF, ipv6);
            match parse_reply(data, action, own, ipv6) {
                Ok(Reply::Announce { peers, .. }) => {
                    let entry = if ipv6 { 18 } else { 6 };
                    assert_eq!(20 + peers.len() * entry, data.len());
                    if let Some(first) = peers.first() {
                        assert!(others(&peers, *first).len() < peers.len());
                    }
                }
                Ok(Reply::Connect { .. }) => assert!(data.len() >= 16),
                Ok(Reply::Error { message }) => assert!(message.chars().count() <= 200),
                Err(ReplyError::WrongTransaction { .. }) if data.len() >= 8 && data.len() <= MAX_REPLY => {
                    panic!("the reply's own transaction id was refused")
                }
                Err(_) => {}
            }
        }
    }
    if data.len() >= 2 {
        let port = u16::from_be_bytes([data[0], data[1]]);
        let room = RoomHash::from_name(&String::from_utf8_lossy(data));
        let request = AnnounceRequest { connection_id: 1, transaction: own, info_hash: room.0, peer_id: [0; 20], event: Event::Started, key: 0, num_want: -1, port }.encode();
        assert_eq!(u16::from_be_bytes([request[96], request[97]]), port);
    }
});
