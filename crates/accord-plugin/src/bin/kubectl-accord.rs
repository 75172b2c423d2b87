//! `kubectl accord`: Accord's kubectl plugin. Put it on PATH and run `kubectl accord --help`.
//! This binary answers completion or parses the flags, runs the command, prints, and
//! exits with the code the command says (0, 1 for a failure; `drill run`: docs/plugin.md).

#![warn(clippy::too_many_lines)]

use std::process::ExitCode;

use accord_plugin::{
    cli::{self, Args},
    complete,
};
use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(words) = complete::words_to_complete(&argv) {
        print!("{}", complete::answer(words).await);
        return ExitCode::SUCCESS;
    }
    let args = Args::parse();
    let (result, code) = cli::run_to_exit(&args).await;
    match result {
        Ok(text) => print!("{text}"),
        Err(err) => eprintln!("error: {err}"),
    }
    ExitCode::from(code)
}
