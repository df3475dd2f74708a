//! Value parsers for the command line and the environment.
//!
//! Every parser's error text ends with the fix (the accepted form and an example), because the process
//! prints it as its single line of output when the configuration is refused (SPEC §5).

use std::net::SocketAddr;
use std::time::Duration;

/// Seconds as a whole or decimal number greater than zero (`10`, `0.25`). Decimals exist so tests and
/// users can shorten every timing (SPEC §5: "every timing is a variable").
pub fn positive_seconds(raw: &str) -> Result<Duration, String> {
    let seconds: f64 = raw
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds greater than 0, e.g. 10 or 0.5".to_string())?;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 31_536_000.0 {
        return Err(
            "expected a number of seconds greater than 0 and at most one year, e.g. 10 or 0.5".into(),
        );
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Milliseconds as a whole number, zero allowed (a debounce of 0 means "no debounce").
pub fn millis(raw: &str) -> Result<Duration, String> {
    let ms: u64 = raw
        .trim()
        .parse()
        .map_err(|_| "expected a whole number of milliseconds (0 or more), e.g. 1000".to_string())?;
    Ok(Duration::from_millis(ms))
}

/// Milliseconds as a whole number greater than zero.
pub fn positive_millis(raw: &str) -> Result<Duration, String> {
    let duration = millis(raw)?;
    if duration.is_zero() {
        return Err("expected a whole number of milliseconds greater than 0, e.g. 100".into());
    }
    Ok(duration)
}

/// A count of at least one (attempts, failures, permits, workers).
pub fn positive_count(raw: &str) -> Result<u32, String> {
    match raw.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of 1 or more, e.g. 5".into()),
    }
}

/// A failure threshold: at least one (1 acts on the first failure; 0 would never act).
pub fn failure_threshold(raw: &str) -> Result<u32, String> {
    positive_count(raw).map_err(|_| {
        "expected a whole number of 1 or more (1 marks a server unhealthy on its first failed check), e.g. 2"
            .into()
    })
}

/// A backoff factor: at least 1.0 so delays never shrink, and small enough to stay meaningful.
pub fn backoff_factor(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (1.0..=16.0).contains(&f) => Ok(f),
        _ => Err("expected a number from 1.0 to 16.0, e.g. 2.0".into()),
    }
}

/// A TCP port (1–65535).
pub fn port(raw: &str) -> Result<u16, String> {
    match raw.trim().parse::<u16>() {
        Ok(p) if p >= 1 => Ok(p),
        _ => Err("expected a TCP port from 1 to 65535, e.g. 8000".into()),
    }
}

/// A listen address `IP:PORT`.
pub fn socket_addr(raw: &str) -> Result<SocketAddr, String> {
    raw.trim()
        .parse()
        .map_err(|_| "expected an address IP:PORT, e.g. 0.0.0.0:8080".to_string())
}

/// A boolean in the spellings Kubernetes manifests and shells use. clap's own bool parser only takes
/// `true`/`false`; a Helm value rendered as `"1"` or `"yes"` must not stop the process.
pub fn boolish(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "on" => Ok(true),
        "false" | "0" | "no" | "n" | "off" | "" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// A non-empty string without surrounding whitespace or control characters (names, usernames).
pub fn plain_text(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.trim() != raw || raw.chars().any(char::is_control) {
        return Err("expected a non-empty value without surrounding spaces or control characters".into());
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accept_decimals_and_refuse_zero_negative_and_garbage() {
        assert_eq!(positive_seconds("10").unwrap(), Duration::from_secs(10));
        assert_eq!(positive_seconds("0.25").unwrap(), Duration::from_millis(250));
        for bad in ["0", "-1", "abc", "", "NaN", "inf", "1e12"] {
            assert!(positive_seconds(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_factors_ports_and_bools() {
        assert_eq!(positive_count("5").unwrap(), 5);
        assert!(positive_count("0").is_err());
        assert_eq!(failure_threshold("1").unwrap(), 1);
        assert!(failure_threshold("0").unwrap_err().contains("1 or more"));
        assert_eq!(backoff_factor("2.0").unwrap(), 2.0);
        assert!(backoff_factor("0.5").is_err());
        assert_eq!(port("8000").unwrap(), 8000);
        assert!(port("0").is_err() && port("70000").is_err());
        assert!(boolish("YES").unwrap() && boolish("1").unwrap());
        assert!(!boolish("off").unwrap());
        assert!(boolish("maybe").is_err());
        assert_eq!(millis("0").unwrap(), Duration::ZERO);
        assert!(positive_millis("0").is_err());
        assert!(plain_text(" x").is_err() && plain_text("").is_err());
    }
}
