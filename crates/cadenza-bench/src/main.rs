//! `cadenza-bench`: every benchmark of the project, one subcommand each.
//!
//! `cargo run --release -p cadenza-bench -- NAME` measures one figure *and its reference in the
//! same run* and prints one JSON object per line on stdout (DESIGN §10); progress and
//! explanations go to stderr. Each benchmark lives in its own module and exposes
//! `main(args) -> ExitCode`; adding one is adding a module and a row of [`BENCHES`].

mod getter;
mod json;
mod node;
mod provider;
mod reference;
mod replicate;
mod rng;
mod settle;

use std::process::ExitCode;

/// One subcommand.
struct Bench {
    /// Its name on the command line.
    name: &'static str,
    /// One line saying what it measures.
    about: &'static str,
    /// Runs it with the arguments after its name.
    main: fn(&[String]) -> ExitCode,
}

/// Every benchmark, in the order `--help` lists them.
const BENCHES: &[Bench] = &[
    Bench {
        name: "settle",
        about: "receipts settled per second by one execute_block (10,000 channels x 100 receipts)",
        main: settle::main,
    },
    Bench {
        name: "node",
        about: "devnet transfers committed per second over HTTP; finality with 4 validators",
        main: node::main,
    },
    Bench {
        name: "vouchers",
        about: "channel updates acknowledged (judged, fsynced) per second by a provider over HTTP",
        main: provider::vouchers_main,
    },
    Bench {
        name: "stream",
        about: "range requests and whole files served per second by a provider, against nginx",
        main: provider::stream_main,
    },
    Bench {
        name: "replicate",
        about: "blob replication bytes/s between two nodes over iroh on 127.0.0.1, vs plain TCP",
        main: replicate::main,
    },
];

fn usage() -> String {
    let mut text = String::from(
        "usage: cadenza-bench <BENCH> [OPTIONS]   (cadenza-bench <BENCH> --help for its options)\n\
         \n\
         Run in a release build: cargo run --release -p cadenza-bench -- <BENCH>\n\
         Prints one JSON object per line on stdout; progress goes to stderr.\n\
         \n\
         benchmarks:\n",
    );
    for b in BENCHES {
        text.push_str(&format!("  {:<10} {}\n", b.name, b.about));
    }
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-h" | "--help" | "help") => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Some(name) => match BENCHES.iter().find(|b| b.name == name) {
            Some(bench) => (bench.main)(&args[1..]),
            None => {
                eprintln!("cadenza-bench: unknown benchmark `{name}`\n");
                eprint!("{}", usage());
                ExitCode::from(2)
            }
        },
        None => {
            eprint!("{}", usage());
            ExitCode::from(2)
        }
    }
}
