//! Replays cases against a target, compares with the recordings, and records.

use std::fmt::Write as _;
use std::path::PathBuf;

use futures::StreamExt as _;
use serde_json::Value;

use super::case::{Answer, Case, CaseFile, load_all, save};
use super::http::send;
use super::normalize::normalize;
use super::target::{Target, case_config};

/// How many cases run at once (each starts its own servers).
pub fn concurrency() -> usize {
    std::env::var("CONFORMANCE_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

/// `CONFORMANCE_FILTER=text` runs only cases whose name contains `text`.
pub fn selected(case: &Case) -> bool {
    std::env::var("CONFORMANCE_FILTER").map_or(true, |f| case.name.contains(&f))
}

/// Every step's answer of one case run (None for actions), or why the run broke.
pub type CaseRun = Result<Vec<Option<Answer>>, String>;

/// Runs one case on a fresh target; returns the normalized answer of every request step (None for
/// actions).
pub async fn run_case<T: Target>(case: &Case) -> CaseRun {
    let config = case_config(case, Some(Value::String("${PGSQL}".into())))?;
    let mut target = T::start(case, config)
        .await
        .map_err(|e| format!("{} did not start: {e}", T::NAME))?;
    let mut answers = Vec::with_capacity(case.steps.len());
    for (i, step) in case.steps.iter().enumerate() {
        if let Some(action) = step.action {
            target
                .act(action, step.on)
                .await
                .map_err(|e| format!("step {i} ({action:?}): {e}"))?;
            answers.push(None);
            continue;
        }
        let req = step
            .request()
            .ok_or_else(|| format!("step {i} has no command, http or action"))?;
        let ep = target.endpoint(step.on)?;
        let answer = send(&ep, &req).await.map_err(|e| format!("step {i}: {e}"))?;
        let answer = match answer {
            Answer::Http { status, body } => Answer::Http {
                status,
                body: normalize(step.command.as_deref(), &body, &target.substitutions()),
            },
            failed => failed,
        };
        answers.push(Some(answer));
    }
    Ok(answers)
}

/// Paths where two JSON values differ, as `path: expected X, got Y` lines.
pub fn json_diff(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => json_diff(va, vb, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: expected {va}, missing")),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected {vb}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                json_diff(va, vb, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: expected {a}, got {b}")),
        _ => {}
    }
}

fn answer_diff(expected: &Answer, actual: &Answer) -> Vec<String> {
    let mut out = Vec::new();
    match (expected, actual) {
        (Answer::Http { status: s1, body: b1 }, Answer::Http { status: s2, body: b2 }) => {
            if s1 != s2 {
                out.push(format!("HTTP status: expected {s1}, got {s2}"));
            }
            json_diff(b1, b2, "body", &mut out);
        }
        (a, b) if a != b => out.push(format!(
            "expected {}, got {}",
            serde_json::to_string(a).unwrap_or_default(),
            serde_json::to_string(b).unwrap_or_default()
        )),
        _ => {}
    }
    out
}

/// The result of replaying every case against one target.
#[derive(Debug, Default)]
pub struct Report {
    pub cases: usize,
    pub matched: usize,
    pub requests: usize,
    /// One readable block per differing case.
    pub failures: Vec<String>,
}

impl Report {
    pub fn print(&self, target: &str) {
        eprintln!(
            "conformance against {target}: {} cases, {} match, {} differ ({} requests compared)",
            self.cases,
            self.matched,
            self.cases - self.matched,
            self.requests
        );
        for f in &self.failures {
            eprintln!("{f}");
        }
    }
}

fn file_label(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Replays every (selected) case against fresh `T` targets and compares with the recordings.
pub async fn replay_all<T: Target>() -> Result<Report, String> {
    let files = load_all()?;
    let jobs: Vec<(String, Case)> = files
        .iter()
        .flat_map(|(p, f)| {
            f.cases
                .iter()
                .filter(|c| selected(c))
                .map(move |c| (file_label(p), c.clone()))
        })
        .collect();
    let results: Vec<(String, Case, CaseRun)> = futures::stream::iter(jobs)
        .map(|(file, case)| async move {
            let r = run_case::<T>(&case).await;
            (file, case, r)
        })
        .buffer_unordered(concurrency())
        .collect()
        .await;
    let mut report = Report {
        cases: results.len(),
        ..Report::default()
    };
    for (file, case, result) in results {
        let mut block = String::new();
        match result {
            Err(e) => {
                let _ = writeln!(block, "  {file} / {}: {e}", case.name);
            }
            Ok(answers) => {
                for (i, (step, actual)) in case.steps.iter().zip(&answers).enumerate() {
                    let Some(actual) = actual else { continue };
                    report.requests += 1;
                    let Some(expected) = &step.expect else {
                        let _ = writeln!(block, "  {file} / {} step {i}: not recorded yet", case.name);
                        continue;
                    };
                    let diff = answer_diff(expected, actual);
                    if !diff.is_empty() {
                        let _ = writeln!(block, "  {file} / {} step {i}: {}", case.name, step.describe());
                        for d in diff {
                            let _ = writeln!(block, "      {d}");
                        }
                    }
                }
            }
        }
        if block.is_empty() {
            report.matched += 1;
        } else {
            report.failures.push(block);
        }
    }
    report.failures.sort();
    Ok(report)
}

/// Re-records every (selected) case against `T` (real Kea) and rewrites the case files.
pub async fn record_all<T: Target>(version: &str) -> Result<usize, String> {
    let files: Vec<(PathBuf, CaseFile)> = load_all()?;
    let mut recorded = 0;
    for (path, mut file) in files {
        let jobs: Vec<(usize, Case)> = file
            .cases
            .iter()
            .cloned()
            .enumerate()
            .filter(|(_, c)| selected(c))
            .collect();
        if jobs.is_empty() {
            continue;
        }
        let results: Vec<(usize, CaseRun)> = futures::stream::iter(jobs)
            .map(|(i, case)| async move { (i, run_case::<T>(&case).await) })
            .buffer_unordered(concurrency())
            .collect()
            .await;
        for (i, result) in results {
            let answers =
                result.map_err(|e| format!("{} / {}: {e}", file_label(&path), file.cases[i].name))?;
            for (step, answer) in file.cases[i].steps.iter_mut().zip(answers) {
                step.expect = answer;
            }
            recorded += 1;
        }
        file.recorded_with = Some(version.to_string());
        save(&path, &file)?;
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_each_differing_path() {
        let expected = Answer::Http {
            status: 200,
            body: json!([{"result": 0, "text": "Host added.", "x": 1}]),
        };
        let actual = Answer::Http {
            status: 400,
            body: json!([{"result": 1, "text": "Host added.", "y": 2}]),
        };
        let d = answer_diff(&expected, &actual);
        assert_eq!(
            d,
            [
                "HTTP status: expected 200, got 400",
                "body[0].result: expected 0, got 1",
                "body[0].x: expected 1, missing",
                "body[0].y: unexpected 2",
            ]
        );
        assert!(answer_diff(&expected, &expected).is_empty());
        let failed = Answer::Failed {
            error: "tls-handshake".into(),
        };
        assert_eq!(answer_diff(&failed, &expected).len(), 1);
    }

    #[test]
    fn arrays_of_different_length_differ_whole() {
        let mut out = Vec::new();
        json_diff(&json!([1, 2]), &json!([1]), "body", &mut out);
        assert_eq!(out, ["body: expected [1,2], got [1]"]);
    }
}
