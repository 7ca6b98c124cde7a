//! CLI failures: one plain line saying what went wrong and what to do, and an exit code.

use std::fmt;

#[derive(Debug)]
pub enum CliError {
    /// The command line itself is wrong or incomplete (exit 2).
    Usage(String),
    /// The command failed (exit 1).
    Failed(String),
    /// The server refused, with its stable code (exit 1).
    Api {
        status: u16,
        code: String,
        message: String,
    },
}

impl CliError {
    pub fn usage(m: impl Into<String>) -> Self {
        CliError::Usage(m.into())
    }
    pub fn failed(m: impl Into<String>) -> Self {
        CliError::Failed(m.into())
    }
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
    /// The server's error code, when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CliError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
            CliError::Api { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

pub type CliResult<T = ()> = Result<T, CliError>;
