//! The operator's `/metrics` (Prometheus text format) parsed into `(name, labels) → value`, so
//! scenarios assert on numbers, not on text.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub samples: Vec<Sample>,
}

/// A line that is not a sample.
#[derive(Debug, thiserror::Error)]
#[error("metrics line {line}: {reason}: {text}")]
pub struct ParseError {
    pub line: usize,
    pub reason: &'static str,
    pub text: String,
}

impl ParseError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        "metrics-parse"
    }
}

impl Metrics {
    /// Parses the text exposition format (comments and `# EOF` skipped; label values unescaped).
    pub fn parse(text: &str) -> Result<Metrics, ParseError> {
        let mut samples = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason| ParseError {
                line: i + 1,
                reason,
                text: raw.to_string(),
            };
            let (name, rest) = match line.find(['{', ' ']) {
                Some(at) => line.split_at(at),
                None => return Err(err("no value")),
            };
            let (labels, rest) = if let Some(inner) = rest.strip_prefix('{') {
                parse_labels(inner).ok_or_else(|| err("bad labels"))?
            } else {
                (BTreeMap::new(), rest)
            };
            let value_text = rest.split_whitespace().next().ok_or_else(|| err("no value"))?;
            let value = match value_text {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().map_err(|_| err("bad value"))?,
            };
            samples.push(Sample {
                name: name.to_string(),
                labels,
                value,
            });
        }
        Ok(Metrics { samples })
    }

    /// Samples of `name` whose labels include every pair of `with`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        with: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| {
            s.name == name && with.iter().all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
    }

    /// The value of the one sample of `name` with these labels (`None` when absent).
    pub fn value(&self, name: &str, with: &[(&str, &str)]) -> Option<f64> {
        self.matching(name, with).map(|s| s.value).next()
    }

    /// The sum over every sample of `name` with these labels (0 when absent: a counter never
    /// incremented is not exported by some clients).
    pub fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.matching(name, with).map(|s| s.value).sum()
    }
}

/// Parses `a="x",b="y"}` and returns the labels and the text after `}`.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        let mut chars = s[eq + 1..].char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut escaped = false;
        let mut end = None;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => {
                    value.push('\n');
                    escaped = false;
                }
                (true, c) => {
                    value.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        labels.insert(key, value);
        s = &s[end?..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP kea_operator_leader_status Leader.
# TYPE kea_operator_leader_status gauge
kea_operator_leader_status 1
kea_operator_dhcp_reservations_total{operation="add",status="success",subnet_id="1"} 4
kea_operator_dhcp_reservations_total{operation="add",status="success",subnet_id="2"} 2
kea_operator_dhcp_reservations_total{operation="delete",status="success",subnet_id="1"} 1
kea_operator_server_health{server="primary",type="reachable"} 0
weird{note="a \"quoted\", comma",x="y"} 2.5e0
kea_operator_dhcp_operation_duration_seconds_bucket{operation="reservation-add",server="primary",le="+Inf"} 3
# EOF
"#;

    #[test]
    fn values_sums_and_escaped_labels() {
        let m = Metrics::parse(TEXT).expect("parses");
        assert_eq!(m.value("kea_operator_leader_status", &[]), Some(1.0));
        assert_eq!(
            m.sum("kea_operator_dhcp_reservations_total", &[("operation", "add")]),
            6.0
        );
        assert_eq!(
            m.value(
                "kea_operator_server_health",
                &[("server", "primary"), ("type", "reachable")]
            ),
            Some(0.0)
        );
        assert_eq!(m.value("weird", &[("note", "a \"quoted\", comma")]), Some(2.5));
        assert_eq!(m.value("weird", &[("x", "y")]), Some(2.5));
        assert_eq!(m.value("absent", &[]), None);
        assert_eq!(m.sum("absent", &[]), 0.0);
        assert_eq!(m.samples.len(), 7);
    }

    #[test]
    fn broken_lines_are_errors_with_their_line_number() {
        let err = Metrics::parse("ok 1\nbad{x=\"y\" 1\n").expect_err("unterminated labels");
        assert_eq!(err.line, 2);
        assert!(Metrics::parse("novalue\n").is_err());
        assert!(Metrics::parse("x notanumber\n").is_err());
    }
}
