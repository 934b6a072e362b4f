//! The limits of the text a client gives the store: ids and names (a SKU, a batch code,
//! a campaign, a pseudonym, a supplier, a store) and free text (a note). Every service
//! that keeps or looks up such text checks it here, and the daemon's OpenAPI document
//! states the same limits from these constants: a 100 KB batch code would be stored and
//! sent back on every read of its batch.

use crate::ServiceError;

/// The longest id or name, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// The longest free text (a note, what was done), in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// An id or name as a JSON Schema pattern: not blank, no control characters (the
/// characters [`char::is_control`] names).
pub const ID_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// Check an id or name: 1 to [`MAX_ID_CHARS`] characters, not blank, no control
/// characters. The error names `field`.
pub fn id(field: &str, value: &str) -> Result<(), ServiceError> {
    if value.trim().is_empty() {
        return Err(ServiceError::Invalid(format!("{field}: empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(format!(
            "{field}: holds a control character (a line break, a tab); use printable text"
        )));
    }
    let chars = value.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(ServiceError::Invalid(format!(
            "{field}: {chars} characters; at most {MAX_ID_CHARS}"
        )));
    }
    Ok(())
}

/// Check free text: at most [`MAX_TEXT_CHARS`] characters. The error names `field`.
pub fn text(field: &str, value: &str) -> Result<(), ServiceError> {
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ServiceError::Invalid(format!(
            "{field}: {chars} characters; at most {MAX_TEXT_CHARS}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_printable_and_not_blank_and_the_error_names_the_field() {
        for good in [
            "MILK-1L",
            "p-1",
            "Green Valley Farm",
            "绿谷农场",
            &"x".repeat(64),
        ] {
            id("batch", good).unwrap();
        }
        for (bad, says) in [
            ("", "empty"),
            ("  ", "empty"),
            ("a\nb", "control"),
            ("a\u{85}", "control"),
            (&"x".repeat(65), "at most 64"),
            (&"码".repeat(65), "65 characters"),
        ] {
            let err = id("batch", bad).unwrap_err().to_string();
            assert!(
                err.starts_with("batch: ") && err.contains(says),
                "{bad:?}: {err}"
            );
        }
        text("note", &"x".repeat(500)).unwrap();
        let err = text("note", &"x".repeat(100_000)).unwrap_err().to_string();
        assert!(
            err.contains("note: 100000 characters; at most 500"),
            "{err}"
        );
    }
}
