//! With the `openapi` feature: the WIT type aliases `cents` and `timestamp` are integers
//! in an OpenAPI document, not schemas of their own (read by utoipa's macros from
//! OUT_DIR).

fn main() {
    #[cfg(feature = "openapi")]
    utoipa_config::Config::new()
        .alias_for("Cents", "i64")
        .alias_for("Timestamp", "i64")
        .write_to_file();
}
