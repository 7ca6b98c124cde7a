//! Environment variables of a deployment (PRODUCT §9): names `^[A-Za-z][A-Za-z0-9_]*$` under 40
//! characters, values up to 8 KiB.

use crate::Error;

pub const MAX_NAME: usize = 39;
pub const MAX_VALUE: usize = 8 * 1024;

pub fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "InvalidEnvName",
            format!(
                "invalid environment variable name '{name}': use letters, digits and '_', starting with a letter, at most {MAX_NAME} characters"
            ),
        ))
    }
}

pub fn validate_value(name: &str, value: &str) -> Result<(), Error> {
    if value.len() > MAX_VALUE {
        return Err(Error::bad_request(
            "EnvValueTooLarge",
            format!(
                "the value of {name} is {} bytes; values may hold at most 8 KiB",
                value.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values() {
        for ok in ["A", "API_KEY", "x1", &"A".repeat(39)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1A", "_A", "A-B", "A B", &"A".repeat(40)] {
            assert_eq!(
                validate_name(bad).unwrap_err().code,
                "InvalidEnvName",
                "{bad}"
            );
        }
        assert!(validate_value("A", &"x".repeat(8192)).is_ok());
        assert!(
            validate_value("A", &"x".repeat(8193))
                .unwrap_err()
                .message
                .contains("8 KiB")
        );
    }
}
