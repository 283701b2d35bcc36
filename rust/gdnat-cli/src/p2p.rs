//! The peer-to-peer commands of `gdnat` (issue 10): `stun`, `nat-type`. Output lines are
//! `key value...`; errors go to stderr as `error: <message> (code <n>)` with exit code 1,
//! usage errors exit 2. A server is always given on the command line: gdnat has no default
//! STUN server or tracker.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use gdnat_stun::{CancelToken, DiscoveryOptions, Waiter};

/// Usage of the peer-to-peer commands (appended to `gdnat help`).
pub const USAGE: &str = "\
peer-to-peer commands (no default server: always pass one):
  stun --server IP:PORT [--local-port N]
  nat-type --server IP:PORT [--router-external IP] [--no-answer-wait MS]";

/// The commands this module runs.
pub const COMMANDS: &[&str] = &["stun", "nat-type"];

/// Runs `gdnat <command> <args>` for one of [`COMMANDS`].
pub fn main(command: &str, args: &[String]) -> ExitCode {
    let result = match command {
        "stun" => parse(args, &["server", "local-port"]).and_then(|flags| run_stun(&flags)),
        "nat-type" => parse(args, &["server", "router-external", "no-answer-wait"]).and_then(|flags| run_nat_type(&flags)),
        _ => Err(Failure::Usage(format!("unknown command {command}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run { message, code }) => {
            eprintln!("error: {message} (code {code})");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Run { message: String, code: u32 },
}

struct Flags(Vec<(String, String)>);

impl Flags {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    fn required<T: std::str::FromStr>(&self, name: &str) -> Result<T, Failure> {
        self.optional(name)?.ok_or_else(|| Failure::Usage(format!("--{name} is required")))
    }

    fn optional<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Failure> {
        self.get(name)
            .map(|value| value.parse().map_err(|_| Failure::Usage(format!("--{name}: cannot read '{value}'"))))
            .transpose()
    }
}

fn parse(args: &[String], allowed: &[&str]) -> Result<Flags, Failure> {
    let mut flags = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(name) = arg.strip_prefix("--") else { return Err(Failure::Usage(format!("unexpected argument '{arg}'"))) };
        let (name, value) = match name.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => (name.to_string(), iter.next().ok_or_else(|| Failure::Usage(format!("--{name} needs a value")))?.clone()),
        };
        if !allowed.contains(&name.as_str()) {
            return Err(Failure::Usage(format!("unknown option --{name}")));
        }
        flags.push((name, value));
    }
    Ok(Flags(flags))
}

fn waiter() -> Result<Waiter, Failure> {
    Waiter::new(&CancelToken::new()).map_err(|error| Failure::Run { message: format!("cannot create a poller: {error}"), code: 4 })
}

fn run_stun(flags: &Flags) -> Result<(), Failure> {
    let server: SocketAddr = flags.required("server")?;
    let port: u16 = flags.optional("local-port")?.unwrap_or(0);
    let binding = gdnat_stun::query_port(port, server, &waiter()?)
        .map_err(|error| Failure::Run { message: error.to_string(), code: error.code() })?;
    println!("public {}", binding.public);
    println!("local_port {}", binding.local.port());
    println!("server {}", binding.server);
    println!("sends {}", binding.sends);
    println!("ignored {}", binding.ignored);
    println!("elapsed_ms {:.3}", binding.elapsed.as_secs_f64() * 1000.0);
    Ok(())
}

fn run_nat_type(flags: &Flags) -> Result<(), Failure> {
    let server: SocketAddr = flags.required("server")?;
    let router: Option<std::net::IpAddr> = flags.optional("router-external")?;
    let mut options = DiscoveryOptions::default();
    if let Some(ms) = flags.optional::<u64>("no-answer-wait")? {
        options.no_answer_wait = Duration::from_millis(ms);
    }
    let behaviour = gdnat_stun::discover(server, &options, &waiter()?)
        .map_err(|error| Failure::Run { message: error.to_string(), code: error.code() })?;
    println!("mapping {} filtering {}", behaviour.mapping, behaviour.filtering);
    println!("public {}", behaviour.public);
    println!("local {}", behaviour.local);
    println!("behind_nat {}", behaviour.behind_nat);
    let verdict = gdnat_stun::nat_verdict(behaviour.local.ip(), router, Some(behaviour.public.ip()));
    println!("verdict {} ({})", verdict, verdict.describe());
    println!("elapsed_ms {:.3}", behaviour.elapsed.as_secs_f64() * 1000.0);
    Ok(())
}
