//! linli-registry: the alliance server. Until the registry issue lands it only says so.

fn main() {
    eprintln!(
        "linli-registry: not built yet — the alliance registry arrives with the registry issue"
    );
    std::process::exit(2);
}
