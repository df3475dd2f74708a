//! Whether a test may skip when a real environment is missing.
//!
//! CI sets `REQUIRE_REAL_ENV=1`: there a missing Kea root filesystem or API server binary is a
//! failure, never a silent pass. On a developer machine without them the test skips and says why.

/// The variable CI sets so that tests needing a real environment fail instead of skipping.
pub const REQUIRE_REAL_ENV: &str = "REQUIRE_REAL_ENV";

/// True when `REQUIRE_REAL_ENV` is `1` or `true`: a missing environment must fail the test.
pub fn require_real_env() -> bool {
    std::env::var(REQUIRE_REAL_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Errors that can say "the environment is not installed here" (as opposed to "it broke").
///
/// Only the first kind may turn into a skip; everything else fails the test.
pub trait MissingEnvironment: std::fmt::Display {
    /// True when the error means the environment is absent from this machine (not provisioned).
    fn is_missing_environment(&self) -> bool;
}

/// What a test does when its environment is missing: panics when required, else prints the reason.
///
/// Returns normally (so the caller can `return`) only when skipping is allowed.
pub fn skip_or_fail(reason: &dyn std::fmt::Display) {
    if require_real_env() {
        panic!("required real test environment is missing ({REQUIRE_REAL_ENV}=1): {reason}");
    }
    eprintln!("SKIPPED: {reason} (set {REQUIRE_REAL_ENV}=1 to make this a failure)");
}

/// Unwraps an environment start, or skips the test when the environment is missing and not required.
///
/// ```ignore
/// #[tokio::test]
/// async fn answers() {
///     let kea = testenv::need!(testenv::kea::KeaProcess::builder().start().await);
///     // ...
/// }
/// // For a test returning a value (e.g. `anyhow::Result<()>`), name what to return when skipping:
/// let kube = testenv::need!(testenv::kube::KubeEnv::shared().await, Ok(()));
/// ```
///
/// Any other error (the environment exists but failed) panics with the error.
#[macro_export]
macro_rules! need {
    ($start:expr) => {
        $crate::need!($start, ())
    };
    ($start:expr, $skipped:expr) => {
        match $start {
            Ok(env) => env,
            Err(err) => {
                if $crate::MissingEnvironment::is_missing_environment(&err) {
                    $crate::skip_or_fail(&err);
                    return $skipped;
                }
                panic!("test environment failed: {err}");
            }
        }
    };
}
