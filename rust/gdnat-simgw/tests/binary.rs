//! Tests of the `gdnat-simgw` binary: ready line, `--error`, `--list-scenarios`, stdin EOF.
//! The SSDP socket is bound on loopback with an ephemeral port; nothing is sent to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gdnat-simgw");

/// Waits for the child to exit, killing it after `limit`. Returns whether it exited by itself.
fn wait_bounded(child: &mut Child, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "--bind",
            "127.0.0.1",
            "--ssdp-port",
            "0",
            "--lifetime",
            "30",
            "--until-stdin-eof",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn gdnat-simgw");
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    (child, line.trim().to_string())
}

fn locations(ready: &str) -> Vec<String> {
    ready
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("location="))
        .map(str::to_string)
        .collect()
}

fn post_add(control: &str) -> String {
    let rest = control.strip_prefix("http://").unwrap();
    let (hostport, path) = rest.split_once('/').unwrap();
    let addr: SocketAddr = hostport.parse().unwrap();
    let st = "urn:schemas-upnp-org:service:WANIPConnection:2";
    let body = format!("<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:AddPortMapping xmlns:u=\"{st}\"><NewRemoteHost></NewRemoteHost><NewExternalPort>7777</NewExternalPort><NewProtocol>UDP</NewProtocol><NewInternalPort>7777</NewInternalPort><NewInternalClient>127.0.0.1</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>x</NewPortMappingDescription><NewLeaseDuration>0</NewLeaseDuration></u:AddPortMapping></s:Body></s:Envelope>");
    let req = format!("POST /{path} HTTP/1.1\r\nHost: {hostport}\r\nSOAPAction: \"{st}#AddPortMapping\"\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn ready_line_error_flag_and_stdin_eof() {
    let (mut child, ready) = spawn(&["--scenario", "upnp-error", "--error", "AddPortMapping:718"]);
    assert!(ready.starts_with("ready ssdp=127.0.0.1:"), "{ready}");
    let locs = locations(&ready);
    assert_eq!(locs.len(), 1, "{ready}");
    let control = locs[0].replace("rootDesc.xml", "ctl/IPConn");
    let answer = post_add(&control);
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(answer.contains("<errorCode>718</errorCode>"), "{answer}");
    drop(child.stdin.take());
    assert!(
        wait_bounded(&mut child, Duration::from_secs(5)),
        "must exit at stdin EOF"
    );
}

#[test]
fn printer_and_router_print_two_locations() {
    let (mut child, ready) = spawn(&["--scenario", "printer-and-router"]);
    let locs = locations(&ready);
    assert_eq!(locs.len(), 2, "{ready}");
    assert!(locs[0].ends_with("/printer.xml"));
    assert!(locs[1].ends_with("/rootDesc.xml"));
    let answer = post_add(&locs[1].replace("rootDesc.xml", "ctl/IPConn"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(child.stdin.take());
    assert!(wait_bounded(&mut child, Duration::from_secs(5)));
}

#[test]
fn list_scenarios_and_bad_arguments() {
    let out = Command::new(BIN).arg("--list-scenarios").output().unwrap();
    assert!(out.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(names, gdnat_simgw::scenario_names());
    let out = Command::new(BIN)
        .args([
            "--bind",
            "127.0.0.1",
            "--ssdp-port",
            "0",
            "--scenario",
            "no-such",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).args(["--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
