//! The Accord operator binary. It parses its flags and prints what it is; the
//! reconciler and admission webhook are wired in here as they land.

use clap::Parser;

/// Accord: gated, accountable promotion of machine-learning models on Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "accord", version, about)]
struct Args {}

fn main() {
    let _args = Args::parse();
    println!("accord {}", env!("CARGO_PKG_VERSION"));
}
