//! `channels`: scaffolds apps on the channels framework. `channels help` shows the usage; the work is done by the
//! `channels_cli` library of this crate.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Result<Vec<String>, _> = std::env::args_os().skip(1).map(|arg| arg.into_string()).collect();
    let Ok(args) = args else {
        eprintln!("error: the arguments must be valid UTF-8 (names and paths go into Cargo.toml and Rust code)");
        return ExitCode::from(2);
    };
    let command = match channels_cli::args::parse(args) {
        Ok(command) => command,
        Err(e) => {
            let usage = e.topic.map_or(channels_cli::args::USAGE, channels_cli::usage);
            eprintln!("error: {e}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            eprintln!("error: cannot read the current directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    match channels_cli::run(command, &cwd, &channels_cli::Env::from_process()) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
