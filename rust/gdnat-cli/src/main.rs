//! `gdnat`: an upnpc-like tool on the gdnat core. Output lines are `key value...`; errors go to
//! stderr as `error: <message> (UPNPResult <n>)` with exit code 1, usage errors exit 2.

mod args;
mod commands;
mod p2p;
mod portmap;

use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if let Some(command) = arguments.first().filter(|c| p2p::COMMANDS.contains(&c.as_str())) {
        return p2p::main(command, &arguments[1..]);
    }
    let command = match args::parse(&arguments) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!("{}\n{}", args::USAGE, p2p::USAGE);
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout();
    match commands::run(&command, &mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {} (UPNPResult {})", commands::printable(&error.message), error.result.code());
            ExitCode::from(1)
        }
    }
}
