//! `linli`: the store host's command line.

mod cli;

/// jemalloc rather than glibc's allocator: a quote makes many small allocations across
/// hyper, serde and wasmtime, and glibc's took a tenth of the daemon's CPU under the quote
/// load, much of it consolidating freed chunks (`malloc_consolidate`). With jemalloc a
/// quote costs about a fifth less CPU (BENCHMARKS.md, "Quotes in place, and jemalloc").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
