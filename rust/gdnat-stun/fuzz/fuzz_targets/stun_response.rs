//! Any datagram handed to the Binding-response parser, as the response to a fixed
//! transaction and to the transaction id the datagram itself carries (so the fuzzer gets past
//! the id check and into the attribute parser). Must never panic; an accepted answer must
//! really carry a Binding success type and our id.
#![no_main]

use gdnat_stun::codec::{parse_binding_response, ResponseError, StunTransactionId, MAX_MESSAGE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fixed = StunTransactionId::from(0x0102_0304_0506_0708_090A_0B0Cu128);
    let _ = parse_binding_response(data, fixed);
    if data.len() >= 20 {
        let mut id = [0u8; 16];
        id[4..].copy_from_slice(&data[8..20]);
        let own = StunTransactionId::from(u128::from_be_bytes(id));
        match parse_binding_response(data, own) {
            Ok(_) => {
                assert!(data.len() <= MAX_MESSAGE);
                assert_eq!(&data[0..2], &[0x01, 0x01], "only a Binding success response yields an endpoint");
                assert_eq!(&data[4..8], &[0x21, 0x12, 0xA4, 0x42]);
            }
            Err(ResponseError::WrongTransaction { .. }) => panic!("the datagram's own id was refused"),
            Err(_) => {}
        }
    }
});
