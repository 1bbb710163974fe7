//! `steady`: run and check manifests on the embedded steady engine.
//!
//! `steady run FILE|DIR...` (live status, graceful shutdown on Ctrl-C or SIGTERM),
//! `steady validate FILE|DIR...`, `steady version`, `steady help`. Built with the cargo
//! feature `cli`. The code lives in `src/cli/` (see its module documentation).

#[path = "../cli/mod.rs"]
mod cli;

fn main() {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
    {
        Ok(a) => a,
        Err(bad) => {
            eprintln!("steady: error: argument {bad:?} is not valid UTF-8");
            std::process::exit(cli::USAGE_EXIT);
        }
    };
    std::process::exit(cli::main(&args));
}
