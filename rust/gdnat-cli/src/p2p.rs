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
  nat-type --server IP:PORT [--router-external IP] [--no-answer-wait MS]
  announce --tracker IP:PORT --room NAME (--port N | --stun IP:PORT [--local-port N])
           [--wait-peers N [--hold MS]] [--timeout MS] [--every MS] [--leave] [--connection-id N --no-retry]
    announces the public port from a second socket (as a game does once ENet owns its port);
    with --stun, the public endpoint of --local-port is read first and announced;
    --hold keeps re-announcing that long after the peers were found (so they see us too).
  punch --tracker IP:PORT --stun IP:PORT --room NAME --local-port N [--wait MS] [--rounds N]
        [--handoff-check]
    the whole flow of one player: NAT behaviour, public endpoint of --local-port, announce
    it, wait for the other player, punch (150 ms probes for 8 s per round), leave the room;
    --handoff-check then binds the port again on a new socket (as ENet will) and exchanges
    packets with the punched peer through the same NAT entries (3 s bound).";

/// The commands this module runs.
pub const COMMANDS: &[&str] = &["stun", "nat-type", "announce", "punch"];

/// Runs `gdnat <command> <args>` for one of [`COMMANDS`].
pub fn main(command: &str, args: &[String]) -> ExitCode {
    let result = match command {
        "stun" => parse(args, &["server", "local-port"]).and_then(|flags| run_stun(&flags)),
        "nat-type" => parse(args, &["server", "router-external", "no-answer-wait"]).and_then(|flags| run_nat_type(&flags)),
        "announce" => parse(args, &["tracker", "room", "port", "stun", "local-port", "wait-peers", "timeout", "every", "hold", "leave", "connection-id", "no-retry"])
            .and_then(|flags| run_announce(&flags)),
        "punch" => parse(args, &["tracker", "stun", "room", "local-port", "wait", "rounds", "handoff-check"]).and_then(|flags| run_punch(&flags)),
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

/// Flags without a value.
const SWITCHES: &[&str] = &["leave", "no-retry", "handoff-check"];

impl Flags {
    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

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
        if SWITCHES.contains(&name) && allowed.contains(&name) {
            flags.push((name.to_string(), String::new()));
            continue;
        }
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

fn tracker_failure(error: gdnat_rendezvous::TrackerError) -> Failure {
    Failure::Run { message: error.to_string(), code: error.code() }
}

fn run_announce(flags: &Flags) -> Result<(), Failure> {
    use gdnat_rendezvous::{Reannouncer, RoomHash, Tracker, TrackerOptions, TrackerRendezvous};
    use std::time::Instant;

    let tracker_addr: SocketAddr = flags.required("tracker")?;
    let room_name: String = flags.required("room")?;
    let room = RoomHash::from_name(&room_name);
    let waiter = waiter()?;
    // Our public endpoint: read by STUN for the game port, or only a port given.
    let public: Option<SocketAddr> = match flags.optional::<SocketAddr>("stun")? {
        Some(server) => {
            let local_port: u16 = flags.optional("local-port")?.unwrap_or(0);
            let binding = gdnat_stun::query_port(local_port, server, &waiter)
                .map_err(|error| Failure::Run { message: error.to_string(), code: error.code() })?;
            println!("public {}", binding.public);
            println!("local_port {}", binding.local.port());
            Some(binding.public)
        }
        None => None,
    };
    let port = match (public, flags.optional::<u16>("port")?) {
        (_, Some(port)) => port,
        (Some(public), None) => public.port(),
        (None, None) => return Err(Failure::Usage("give --port N or --stun IP:PORT".into())),
    };
    let options = TrackerOptions { retry_after_refusal: !flags.has("no-retry"), ..TrackerOptions::default() };
    let mut tracker = Tracker::bind(tracker_addr, options).map_err(tracker_failure)?;
    if let Some(id) = flags.optional::<u64>("connection-id")? {
        tracker.set_connection_id(id);
    }
    let want: usize = flags.optional("wait-peers")?.unwrap_or(0);
    let timeout = Duration::from_millis(flags.optional("timeout")?.unwrap_or(10_000));
    let every = Duration::from_millis(flags.optional("every")?.unwrap_or(1000));
    let hold = Duration::from_millis(flags.optional("hold")?.unwrap_or(0));
    let mut found_at: Option<Instant> = None;
    println!("room {room_name} {room}");
    // The pluggable path a game uses: the tracker behind the Rendezvous trait, driven by the
    // Reannouncer (timer and membership changes).
    let mut rendezvous = TrackerRendezvous::new(tracker);
    rendezvous.every = every;
    let own = SocketAddr::new(public.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |p| p.ip()), port);
    let mut announcer = Reannouncer::new(rendezvous, room, own);
    let start = Instant::now();
    let mut found: Vec<SocketAddr> = Vec::new();
    loop {
        let announce_start = Instant::now();
        let change = announcer.poll(&waiter).map_err(rendezvous_failure)?;
        let members: Vec<SocketAddr> = announcer.members().current().collect();
        println!("announced port {port} others {} elapsed_ms {:.3}", members.len(), announce_start.elapsed().as_secs_f64() * 1000.0);
        if let Some(change) = change {
            for peer in &change.joined {
                println!("joined {peer}");
            }
            for peer in &change.left {
                println!("left {peer}");
            }
        }
        if members.len() >= want && found_at.is_none() {
            found = members.clone();
            found_at = Some(Instant::now());
        }
        if found_at.is_some_and(|since| since.elapsed() >= hold) || start.elapsed() >= timeout {
            break;
        }
        let next = announcer.next_due().min(start + timeout);
        // A cancellable pause on the tracker's own socket (late replies are drained).
        let mut buffer = [0u8; 64];
        while let Ok(Some(_)) = gdnat_io_recv_until(announcer.rendezvous().tracker().socket(), &mut buffer, next, &waiter) {}
    }
    // The members at the moment the wait was satisfied (they may leave while we hold).
    if found_at.is_none() {
        found = announcer.members().current().collect();
    }
    for member in &found {
        println!("peer {member}");
    }
    if flags.has("leave") {
        announcer.leave(&waiter).map_err(rendezvous_failure)?;
        println!("left");
    }
    if found_at.is_none() {
        return Err(Failure::Run { message: format!("only {} other member(s) after {} ms, wanted {want}", found.len(), start.elapsed().as_millis()), code: 8 });
    }
    Ok(())
}

fn rendezvous_failure(error: gdnat_rendezvous::RendezvousError) -> Failure {
    Failure::Run { message: error.to_string(), code: error.code() }
}

use gdnat_io::udp::recv_until as gdnat_io_recv_until;

fn run_punch(flags: &Flags) -> Result<(), Failure> {
    use gdnat_punch::{NatContext, PunchOptions, RoomToken};
    use gdnat_rendezvous::{Event, RoomHash, Tracker, TrackerOptions};
    use std::time::Instant;

    let tracker_addr: SocketAddr = flags.required("tracker")?;
    let stun: SocketAddr = flags.required("stun")?;
    let room_name: String = flags.required("room")?;
    let local_port: u16 = flags.required("local-port")?;
    let wait = Duration::from_millis(flags.optional("wait")?.unwrap_or(10_000));
    let options = PunchOptions { rounds: flags.optional("rounds")?.unwrap_or(1), ..PunchOptions::default() };
    let waiter = waiter()?;
    let start = Instant::now();

    // 1. Our NAT behaviour, for the failure message (needs an RFC 5780 server; optional).
    let context = match gdnat_stun::discover(stun, &DiscoveryOptions::default(), &waiter) {
        Ok(behaviour) => {
            println!("mapping {} filtering {}", behaviour.mapping, behaviour.filtering);
            NatContext { mapping: Some(behaviour.mapping), verdict: None }
        }
        Err(error) => {
            println!("nat_behaviour unknown ({error})");
            NatContext::default()
        }
    };
    // 2. The public endpoint of the game port.
    let binding = gdnat_stun::query_port(local_port, stun, &waiter).map_err(|error| Failure::Run { message: error.to_string(), code: error.code() })?;
    let public = binding.public;
    println!("public {public}");
    // 3. Announce from a second socket until the other player shows up.
    let room = RoomHash::from_name(&room_name);
    let mut tracker = Tracker::bind(tracker_addr, TrackerOptions::default()).map_err(tracker_failure)?;
    let mut event = Event::Started;
    let peer = loop {
        let announced = tracker.announce(&room, public.port(), event, &waiter).map_err(tracker_failure)?;
        event = Event::None;
        if let Some(peer) = announced.others(public).first() {
            break *peer;
        }
        if start.elapsed() >= wait {
            return Err(Failure::Run { message: format!("nobody else in room {room_name} after {} ms", start.elapsed().as_millis()), code: 8 });
        }
        let next = Instant::now() + Duration::from_millis(300);
        let mut buffer = [0u8; 64];
        while let Ok(Some(_)) = gdnat_io_recv_until(tracker.socket(), &mut buffer, next, &waiter) {}
    };
    println!("peer_announced {peer} after_ms {}", start.elapsed().as_millis());
    // 4. Punch from the game port, then leave the room (best effort).
    let result = gdnat_punch::punch_port(local_port, peer, &RoomToken::from_room(&room_name), &context, &options, &waiter);
    let _ = tracker.announce(&room, public.port(), Event::Stopped, &waiter);
    let punched = result.map_err(|error| Failure::Run { message: error.to_string(), code: error.code() })?;
    println!(
        "punched peer {} local_port {} first_contact_ms {:.1} elapsed_ms {:.1} probes {} heard_ack {} ignored {} round {}",
        punched.peer,
        punched.local_port,
        punched.first_contact.as_secs_f64() * 1000.0,
        punched.elapsed.as_secs_f64() * 1000.0,
        punched.probes,
        punched.heard_ack,
        punched.ignored,
        punched.round
    );
    if flags.has("handoff-check") {
        // The punch socket is closed: a new socket binds the same port without SO_REUSEADDR,
        // as ENet's create_server / create_client(..., local_port) will, and the NAT entries
        // of the punch must carry its traffic.
        let socket = gdnat_stun::client::bind_port(local_port, punched.peer)
            .map_err(|error| Failure::Run { message: format!("hand-off: {error}"), code: 1 })?;
        let check = PunchOptions { round: Duration::from_secs(3), rounds: 1, ..PunchOptions::default() };
        let again = gdnat_punch::punch::punch(&socket, punched.peer, &RoomToken::from_room(&room_name), &context, &check, &waiter)
            .map_err(|error| Failure::Run { message: format!("hand-off: {error}"), code: error.code() })?;
        println!("handoff peer {} local_port {} first_contact_ms {:.1}", again.peer, local_port, again.first_contact.as_secs_f64() * 1000.0);
    }
    println!("total_ms {}", start.elapsed().as_millis());
    Ok(())
}
