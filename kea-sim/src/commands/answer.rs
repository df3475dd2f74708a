//! Kea's answer envelope (`createAnswer`) and the error type of command handlers.

use crate::element::{Element, TypeError};

/// Kea's result codes.
pub mod code {
    /// Success.
    pub const SUCCESS: i64 = 0;
    /// Error.
    pub const ERROR: i64 = 1;
    /// Command not supported (hook not loaded, or a Control Agent without `service`).
    pub const UNSUPPORTED: i64 = 2;
    /// Empty result / not found.
    pub const EMPTY: i64 = 3;
    /// Conflict.
    pub const CONFLICT: i64 = 4;
}

/// `createAnswer(status, text, arguments)`: `text` is left out when empty.
pub fn answer(result: i64, text: &str, arguments: Option<Element>) -> Element {
    let mut m = Element::map();
    m.set("result", Element::int(result));
    if !text.is_empty() {
        m.set("text", Element::str(text));
    }
    if let Some(a) = arguments {
        m.set("arguments", a);
    }
    m
}

/// A failed command: the result code and Kea's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text} (result {code})")]
pub struct CmdError {
    /// Result code (usually 1).
    pub code: i64,
    /// Kea's text.
    pub text: String,
}

impl CmdError {
    /// Result 1 with this text.
    pub fn error(text: impl Into<String>) -> Self {
        CmdError {
            code: code::ERROR,
            text: text.into(),
        }
    }

    /// A result other than 1.
    pub fn with_code(code: i64, text: impl Into<String>) -> Self {
        CmdError {
            code,
            text: text.into(),
        }
    }

    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self.code {
            code::UNSUPPORTED => "unsupported",
            code::EMPTY => "empty",
            code::CONFLICT => "conflict",
            _ => "error",
        }
    }

    /// The answer map.
    pub fn to_answer(&self) -> Element {
        answer(self.code, &self.text, None)
    }
}

impl From<TypeError> for CmdError {
    fn from(e: TypeError) -> Self {
        CmdError::error(e.0)
    }
}

impl From<String> for CmdError {
    fn from(e: String) -> Self {
        CmdError::error(e)
    }
}

/// A handler's outcome: an answer map either way.
pub type CmdResult = Result<Element, CmdError>;
