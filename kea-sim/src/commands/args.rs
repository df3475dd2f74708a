//! `isc::data::SimpleParser` getters, with the texts (and positions) Kea puts in errors.

use std::net::IpAddr;

use super::answer::CmdError;
use crate::element::Element;
use crate::model::host::parse_io_address;

/// `getInteger(scope, name)`.
pub fn get_integer(scope: &Element, name: &str) -> Result<i64, CmdError> {
    match scope.get(name)? {
        None => Err(CmdError::error(format!(
            "missing parameter '{name}' ({})",
            scope.pos
        ))),
        Some(x) => match x.as_int() {
            Some(i) => Ok(i),
            None => Err(CmdError::error(format!(
                "invalid type specified for parameter '{name}' ({})",
                x.pos
            ))),
        },
    }
}

/// `getInteger(scope, name, min, max)`.
pub fn get_integer_range(scope: &Element, name: &str, min: i64, max: i64) -> Result<i64, CmdError> {
    let v = get_integer(scope, name)?;
    if v < min || v > max {
        return Err(CmdError::error(format!(
            "The '{name}' value ({v}) is not within expected range: ({min} - {max})"
        )));
    }
    Ok(v)
}

/// `getIntType<T>` for unsigned types (`getUint32`, `getUint8`).
pub fn get_uint(scope: &Element, name: &str, max: i64) -> Result<i64, CmdError> {
    let v = get_integer(scope, name)?;
    if v < 0 || v > max {
        let pos = scope.field(name).map(|e| e.pos).unwrap_or(scope.pos);
        return Err(CmdError::error(format!(
            "out of range value ({v}) specified for parameter '{name}' ({pos})"
        )));
    }
    Ok(v)
}

/// `getString(scope, name)`.
pub fn get_string<'a>(scope: &'a Element, name: &str) -> Result<&'a str, CmdError> {
    match scope.get(name)? {
        None => Err(CmdError::error(format!(
            "missing parameter '{name}' ({})",
            scope.pos
        ))),
        Some(x) => match x.as_str() {
            Some(s) => Ok(s),
            None => Err(CmdError::error(format!(
                "invalid type specified for parameter '{name}' ({})",
                x.pos
            ))),
        },
    }
}

/// `getBoolean(scope, name)`.
pub fn get_boolean(scope: &Element, name: &str) -> Result<bool, CmdError> {
    match scope.get(name)? {
        None => Err(CmdError::error(format!(
            "missing parameter '{name}' ({})",
            scope.pos
        ))),
        Some(x) => match x.value {
            crate::element::Value::Bool(b) => Ok(b),
            _ => Err(CmdError::error(format!(
                "invalid type specified for parameter '{name}' ({})",
                x.pos
            ))),
        },
    }
}

/// `getAddress(scope, name)`.
pub fn get_address(scope: &Element, name: &str) -> Result<IpAddr, CmdError> {
    let s = get_string(scope, name)?;
    parse_io_address(s).map_err(|e| {
        let pos = scope.field(name).map(|x| x.pos).unwrap_or(scope.pos);
        CmdError::error(format!("Failed to convert '{s}' to address: {e}({pos})"))
    })
}
