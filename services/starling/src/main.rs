//! `starling <role>`: the one binary. This file only parses the command line and hands over to
//! the role; roles are composed in their own modules.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod dev;
mod user;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Dev(args) => dev::main(args),
        cli::Command::User { command } => user::main(command),
    }
}
