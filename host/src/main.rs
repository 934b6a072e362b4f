//! `linli`: the store host's command line.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
