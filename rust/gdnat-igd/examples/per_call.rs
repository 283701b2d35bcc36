//! A per-call workload for instruction counts (`tests/bench/per-call-instructions.sh`): one
//! [`Gateway`] makes `PAIRS` AddPortMapping/DeletePortMapping pairs against a gateway's control
//! URL and prints how many succeeded. Run it twice under `valgrind --tool=callgrind` (or
//! `perf stat -e instructions`) with different `PAIRS`; the difference divided by the extra
//! calls is the client's cost of one call, free of process start-up and of machine load.
//!
//! ```text
//! per_call CONTROL_URL SERVICE_TYPE LOCAL_ADDR PAIRS
//! ```

use std::process::ExitCode;

use gdnat_igd::{Gateway, PortMappingRequest, Protocol};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [control_url, service_type, local_addr, pairs] = args.as_slice() else {
        eprintln!("usage: per_call CONTROL_URL SERVICE_TYPE LOCAL_ADDR PAIRS");
        return ExitCode::from(2);
    };
    let Ok(pairs) = pairs.parse::<u32>() else {
        eprintln!("per_call: PAIRS must be a number");
        return ExitCode::from(2);
    };
    let gateway = Gateway::new(control_url.as_str(), service_type.as_str(), local_addr.as_str());
    let mut done = 0u32;
    for i in 0..pairs {
        let port = 40_000 + (i % 1000) as u16;
        let request = PortMappingRequest {
            remote_host: String::new(),
            external_port: port,
            protocol: Protocol::Udp,
            internal_port: port,
            internal_client: local_addr.clone(),
            description: "gdnat per-call bench".into(),
            lease_seconds: 0,
        };
        if let Err(error) = gateway.add_port_mapping(&request) {
            eprintln!("per_call: add {port}: {error}");
            return ExitCode::FAILURE;
        }
        if let Err(error) = gateway.delete_port_mapping(port, Protocol::Udp) {
            eprintln!("per_call: delete {port}: {error}");
            return ExitCode::FAILURE;
        }
        done += 1;
    }
    println!("pairs={done}");
    ExitCode::SUCCESS
}
