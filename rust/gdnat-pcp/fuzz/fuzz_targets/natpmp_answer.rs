//! Any datagram given to the NAT-PMP answer parser, for every request opcode: no panic, and an
//! accepted answer is consistent with what the parser promises.
#![no_main]

use gdnat_pcp::wire::natpmp::{parse_answer, Body, ResultCode, HEADER_LEN, MAP_ANSWER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for opcode in 0..=3u8 {
        if let Ok(answer) = parse_answer(data, opcode) {
            assert_eq!(answer.opcode, opcode);
            assert!(data.len() >= HEADER_LEN && data.len() <= MAP_ANSWER_LEN);
            assert_eq!(data[0], 0);
            assert_eq!(data[1], 0x80 | opcode);
            if answer.body == Body::None {
                assert_ne!(answer.result, ResultCode::Success, "a success always carries its fields");
                assert_eq!(data.len(), HEADER_LEN);
            }
            assert_eq!(ResultCode::from_number(answer.result.number()), answer.result);
        }
    }
});
