//! The binaries under test. The lanes build them once (`--release`, static, the same build the
//! images use) and pass their paths in `KEA_OPERATOR_BIN` / `KEA_SIM_BIN`; without those, the usual
//! places under the cargo target directory are searched, newest first.

use std::path::{Path, PathBuf};

/// A binary under test could not be found.
#[derive(Debug, thiserror::Error)]
#[error(
    "{name} binary not found ({var} unset or wrong; looked in {looked}); build it with `just e2e-local` \
     (or `cargo build --release -p {package}`) or set {var}"
)]
pub struct BinaryMissing {
    pub name: &'static str,
    pub var: &'static str,
    pub package: &'static str,
    pub looked: String,
}

impl BinaryMissing {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        "binary-missing"
    }
}

impl testenv::MissingEnvironment for BinaryMissing {
    fn is_missing_environment(&self) -> bool {
        true
    }
}

/// The target directory: `CARGO_TARGET_DIR`, else the one holding this test binary
/// (`<target>/debug/deps/<test>`).
fn target_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

fn find(name: &'static str, var: &'static str, package: &'static str) -> Result<PathBuf, BinaryMissing> {
    let missing = |looked: String| BinaryMissing {
        name,
        var,
        package,
        looked,
    };
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(missing(path.display().to_string()))
        };
    }
    let Some(target) = target_dir() else {
        return Err(missing("no target directory".into()));
    };
    let candidates = [
        target.join("x86_64-unknown-linux-gnu/release").join(name),
        target.join("release").join(name),
        target.join("debug").join(name),
    ];
    let newest = candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p.clone());
    newest.ok_or_else(|| {
        missing(
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
    })
}

/// The `kea-operator` binary.
pub fn operator_binary() -> Result<PathBuf, BinaryMissing> {
    find("kea-operator", "KEA_OPERATOR_BIN", "kea-operator")
}

/// The `kea-sim` binary.
pub fn kea_sim_binary() -> Result<PathBuf, BinaryMissing> {
    find("kea-sim", "KEA_SIM_BIN", "kea-sim")
}

/// The repository root (for the chart's files).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
