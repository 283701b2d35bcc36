//! `gdnat`: an upnpc-like tool on the gdnat core. Output lines are `key value...`; errors go to
//! stderr as `error: <message> (UPNPResult <n>)` with exit code 1, usage errors exit 2.

mod args;
mod commands;
mod portmap;

use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&arguments) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!("{}", args::USAGE);
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
