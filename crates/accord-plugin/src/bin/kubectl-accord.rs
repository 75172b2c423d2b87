//! `kubectl accord`: Accord's kubectl plugin. Put it on PATH and run `kubectl accord --help`.
//! This binary answers completion or parses the flags, runs the command, and prints.

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
    match cli::run(&args).await {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
