//! wiremock-style matchers, mocks and expectations.
//!
//! A [`Mock`] answers matching requests in place of the stateful simulator (which is left
//! untouched), optionally only `up_to_n_times`; an expectation (`sim.expect(..)` or
//! `Mock::expect`) is checked when the simulator is dropped.

use std::fmt;
use std::ops::{Range, RangeFrom, RangeInclusive};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value as Json;

use crate::element::Element;
use crate::reqlog::Entry;

/// What a matcher sees of a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandRequest {
    /// The `command` member.
    pub command: Option<String>,
    /// The `arguments` member.
    pub arguments: Option<Json>,
    /// The `service` member.
    pub service: Option<Json>,
}

impl CommandRequest {
    /// Build from parsed parts.
    pub fn new(command: Option<&str>, arguments: Option<&Element>, service: Option<&Element>) -> Self {
        CommandRequest {
            command: command.map(str::to_string),
            arguments: arguments.map(Element::to_json),
            service: service.map(Element::to_json),
        }
    }

    pub(crate) fn from_entry(e: &Entry) -> Self {
        CommandRequest::new(e.command.as_deref(), e.arguments.as_ref(), e.service.as_ref())
    }
}

/// A request matcher. Closures `Fn(&CommandRequest) -> bool` are matchers too.
pub trait Match: Send + Sync {
    /// True when the request matches.
    fn matches(&self, req: &CommandRequest) -> bool;
    /// A description for failure messages.
    fn describe(&self) -> String {
        "custom matcher".into()
    }
}

impl<F> Match for F
where
    F: Fn(&CommandRequest) -> bool + Send + Sync,
{
    fn matches(&self, req: &CommandRequest) -> bool {
        self(req)
    }
}

/// Matches the command name.
#[derive(Clone, Debug)]
pub struct CommandMatcher(String);

impl Match for CommandMatcher {
    fn matches(&self, req: &CommandRequest) -> bool {
        req.command.as_deref() == Some(self.0.as_str())
    }
    fn describe(&self) -> String {
        format!("command == {:?}", self.0)
    }
}

/// Matches requests for this command.
pub fn command(name: &str) -> CommandMatcher {
    CommandMatcher(name.to_string())
}

/// Matches an argument (dotted path into `arguments`) equal to a value.
#[derive(Clone, Debug)]
pub struct ArgumentMatcher {
    path: String,
    value: Json,
}

impl Match for ArgumentMatcher {
    fn matches(&self, req: &CommandRequest) -> bool {
        let mut cur = match &req.arguments {
            Some(a) => a,
            None => return false,
        };
        for part in self.path.split('.') {
            match cur.get(part) {
                Some(v) => cur = v,
                None => return false,
            }
        }
        *cur == self.value
    }
    fn describe(&self) -> String {
        format!("arguments.{} == {}", self.path, self.value)
    }
}

/// Matches when `arguments.<path>` (dots separate map keys) equals `value`.
pub fn argument(path: &str, value: impl Into<Json>) -> ArgumentMatcher {
    ArgumentMatcher {
        path: path.to_string(),
        value: value.into(),
    }
}

/// Matches when the arguments contain the pattern (every member of the pattern present and
/// equal, recursively for maps).
#[derive(Clone, Debug)]
pub struct ArgumentsContain(Json);

fn contains(have: &Json, want: &Json) -> bool {
    match (have, want) {
        (Json::Object(h), Json::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        _ => have == want,
    }
}

impl Match for ArgumentsContain {
    fn matches(&self, req: &CommandRequest) -> bool {
        req.arguments.as_ref().is_some_and(|a| contains(a, &self.0))
    }
    fn describe(&self) -> String {
        format!("arguments contain {}", self.0)
    }
}

/// Matches when the arguments contain `pattern`.
pub fn arguments_contain(pattern: Json) -> ArgumentsContain {
    ArgumentsContain(pattern)
}

/// Matches requests whose `service` list names this service.
#[derive(Clone, Debug)]
pub struct ServiceMatcher(String);

impl Match for ServiceMatcher {
    fn matches(&self, req: &CommandRequest) -> bool {
        req.service
            .as_ref()
            .and_then(Json::as_array)
            .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(&self.0)))
    }
    fn describe(&self) -> String {
        format!("service contains {:?}", self.0)
    }
}

/// Matches requests for this service.
pub fn service(name: &str) -> ServiceMatcher {
    ServiceMatcher(name.to_string())
}

/// How many times something is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Times {
    min: u64,
    max: Option<u64>,
}

impl Times {
    /// Exactly `n`.
    pub fn exactly(n: u64) -> Self {
        Times { min: n, max: Some(n) }
    }
    /// At least `n`.
    pub fn at_least(n: u64) -> Self {
        Times { min: n, max: None }
    }
    /// At most `n`.
    pub fn at_most(n: u64) -> Self {
        Times { min: 0, max: Some(n) }
    }
    /// True when `n` satisfies it.
    pub fn contains(&self, n: u64) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(m) if m == self.min => write!(f, "exactly {m}"),
            Some(m) => write!(f, "between {} and {m}", self.min),
            None => write!(f, "at least {}", self.min),
        }
    }
}

impl From<u64> for Times {
    fn from(n: u64) -> Self {
        Times::exactly(n)
    }
}
impl From<RangeInclusive<u64>> for Times {
    fn from(r: RangeInclusive<u64>) -> Self {
        Times {
            min: *r.start(),
            max: Some(*r.end()),
        }
    }
}
impl From<Range<u64>> for Times {
    fn from(r: Range<u64>) -> Self {
        Times {
            min: r.start,
            max: Some(r.end.saturating_sub(1)),
        }
    }
}
impl From<RangeFrom<u64>> for Times {
    fn from(r: RangeFrom<u64>) -> Self {
        Times::at_least(r.start)
    }
}

/// The answer of a mock.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseTemplate {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) delay: Option<Duration>,
}

impl ResponseTemplate {
    /// `[ { "result": R, "text": T } ]` with HTTP 200.
    pub fn kea(result: i64, text: &str) -> Self {
        let a = crate::commands::answer(result, text, None);
        Self::from_element(200, &Element::list(vec![a]))
    }

    /// `[ { "arguments": A, "result": R, "text": T } ]` with HTTP 200.
    pub fn kea_with_arguments(result: i64, text: &str, arguments: Json) -> Self {
        let a = crate::commands::answer(result, text, Some(Element::from_json(&arguments)));
        Self::from_element(200, &Element::list(vec![a]))
    }

    /// Any JSON body (printed the way Kea prints JSON) with a status.
    pub fn json(status: u16, body: &Json) -> Self {
        Self::from_element(status, &Element::from_json(body))
    }

    /// An HTTP error with the body Kea's HTTP layer sends for it.
    pub fn http_status(status: u16) -> Self {
        ResponseTemplate {
            status,
            body: crate::http::stock_body(status).into_bytes(),
            delay: None,
        }
    }

    /// Raw bytes (need not be JSON).
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        ResponseTemplate {
            status,
            body: body.into(),
            delay: None,
        }
    }

    /// Delay the answer.
    pub fn with_delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }

    fn from_element(status: u16, e: &Element) -> Self {
        ResponseTemplate {
            status,
            body: e.to_kea_string().into_bytes(),
            delay: None,
        }
    }
}

/// Builder returned by [`Mock::given`].
pub struct MockBuilder {
    matchers: Vec<Arc<dyn Match>>,
}

impl MockBuilder {
    /// Another matcher that must also match.
    pub fn and(mut self, m: impl Match + 'static) -> Self {
        self.matchers.push(Arc::new(m));
        self
    }

    /// The answer.
    pub fn respond_with(self, response: ResponseTemplate) -> Mock {
        Mock {
            matchers: self.matchers,
            response,
            up_to: None,
            expected: None,
            name: None,
        }
    }
}

/// A canned answer for matching requests, layered over the stateful simulator.
#[derive(Clone)]
pub struct Mock {
    matchers: Vec<Arc<dyn Match>>,
    response: ResponseTemplate,
    up_to: Option<u64>,
    expected: Option<Times>,
    name: Option<String>,
}

impl fmt::Debug for Mock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mock")
            .field("matchers", &self.describe())
            .field("up_to", &self.up_to)
            .finish()
    }
}

impl Mock {
    /// Start a mock with its first matcher.
    pub fn given(m: impl Match + 'static) -> MockBuilder {
        MockBuilder {
            matchers: vec![Arc::new(m)],
        }
    }

    /// Answer at most `n` requests, then let the simulator answer again.
    pub fn up_to_n_times(mut self, n: u64) -> Self {
        self.up_to = Some(n);
        self
    }

    /// Expect this many matching requests (checked on drop).
    pub fn expect(mut self, times: impl Into<Times>) -> Self {
        self.expected = Some(times.into());
        self
    }

    /// A name for failure messages.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Mount on a simulator.
    pub fn mount(self, sim: &super::KeaSim) {
        sim.node().mocks.mount(self);
    }

    fn describe(&self) -> String {
        let m: Vec<String> = self.matchers.iter().map(|m| m.describe()).collect();
        match &self.name {
            Some(n) => format!("{n} ({})", m.join(" and ")),
            None => m.join(" and "),
        }
    }

    fn matches(&self, req: &CommandRequest) -> bool {
        self.matchers.iter().all(|m| m.matches(req))
    }
}

struct Mounted {
    mock: Mock,
    hits: u64,
}

struct ExpectationState {
    matchers: Vec<Arc<dyn Match>>,
    times: Times,
    after_seq: u64,
}

/// Handle returned by `KeaSim::expect`: sets how many matching requests are expected.
pub struct Expectation {
    state: Arc<Mutex<ExpectationState>>,
}

impl Expectation {
    /// Exactly `n` matching requests.
    pub fn times(self, n: u64) -> Self {
        self.state.lock().times = Times::exactly(n);
        self
    }
    /// At least `n`.
    pub fn at_least(self, n: u64) -> Self {
        self.state.lock().times = Times::at_least(n);
        self
    }
    /// At most `n`.
    pub fn at_most(self, n: u64) -> Self {
        self.state.lock().times = Times::at_most(n);
        self
    }
    /// None at all.
    pub fn never(self) -> Self {
        self.state.lock().times = Times::exactly(0);
        self
    }
    /// Another matcher that must also match.
    pub fn and(self, m: impl Match + 'static) -> Self {
        self.state.lock().matchers.push(Arc::new(m));
        self
    }
}

/// Mocks and expectations of one server.
#[derive(Default)]
pub struct MockSet {
    mounted: Mutex<Vec<Mounted>>,
    expectations: Mutex<Vec<Arc<Mutex<ExpectationState>>>>,
}

impl MockSet {
    /// Mount a mock (later mounts are consulted after earlier ones).
    pub fn mount(&self, mock: Mock) {
        self.mounted.lock().push(Mounted { mock, hits: 0 });
    }

    /// True when nothing is mounted (the hot path skips matching then).
    pub fn has_mocks(&self) -> bool {
        !self.mounted.lock().is_empty()
    }

    /// The canned answer for a request, if a mock with budget left matches.
    pub fn respond(&self, req: &CommandRequest) -> Option<(ResponseTemplate, String)> {
        let mut m = self.mounted.lock();
        for mm in m.iter_mut() {
            if mm.mock.up_to.is_some_and(|n| mm.hits >= n) {
                continue;
            }
            if mm.mock.matches(req) {
                mm.hits += 1;
                return Some((mm.mock.response.clone(), format!("mock: {}", mm.mock.describe())));
            }
        }
        None
    }

    /// Register an expectation counted from `after_seq`.
    pub fn expect(&self, m: Arc<dyn Match>, after_seq: u64) -> Expectation {
        let state = Arc::new(Mutex::new(ExpectationState {
            matchers: vec![m],
            times: Times::at_least(1),
            after_seq,
        }));
        self.expectations.lock().push(state.clone());
        Expectation { state }
    }

    /// Check every expectation against the log; the error lists each one that failed.
    pub fn verify(&self, log: &crate::reqlog::RequestLog, server: &str) -> Result<(), String> {
        let mut failures = Vec::new();
        for e in self.expectations.lock().iter() {
            let e = e.lock();
            let (n, _) = log.count_matching(e.after_seq, |entry| {
                let req = CommandRequest::from_entry(entry);
                e.matchers.iter().all(|m| m.matches(&req))
            });
            if !e.times.contains(n) {
                let desc: Vec<String> = e.matchers.iter().map(|m| m.describe()).collect();
                failures.push(format!(
                    "[{server}] expected {} request(s) matching {}, received {n}",
                    e.times,
                    desc.join(" and ")
                ));
            }
        }
        for mm in self.mounted.lock().iter() {
            if let Some(t) = mm.mock.expected
                && !t.contains(mm.hits)
            {
                failures.push(format!(
                    "[{server}] mock {} expected {t} matching request(s), served {}",
                    mm.mock.describe(),
                    mm.hits
                ));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n"))
        }
    }

    /// Forget mocks and expectations.
    pub fn clear(&self) {
        self.mounted.lock().clear();
        self.expectations.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cmd: &str, args: Json) -> CommandRequest {
        CommandRequest {
            command: Some(cmd.into()),
            arguments: Some(args),
            service: None,
        }
    }

    #[test]
    fn matchers_compose() {
        let r = req(
            "reservation-add",
            serde_json::json!({"reservation": {"hw-address": "aa:bb", "subnet-id": 1}}),
        );
        assert!(command("reservation-add").matches(&r));
        assert!(!command("reservation-get").matches(&r));
        assert!(argument("reservation.subnet-id", 1).matches(&r));
        assert!(!argument("reservation.subnet-id", 2).matches(&r));
        assert!(arguments_contain(serde_json::json!({"reservation": {"hw-address": "aa:bb"}})).matches(&r));
        let closure = |r: &CommandRequest| r.command.as_deref().is_some_and(|c| c.starts_with("reservation"));
        assert!(closure.matches(&r));
    }

    #[test]
    fn mocks_respect_their_budget() {
        let set = MockSet::default();
        set.mount(
            Mock::given(command("x"))
                .respond_with(ResponseTemplate::kea(1, "boom"))
                .up_to_n_times(2),
        );
        let r = req("x", Json::Null);
        assert!(set.respond(&r).is_some());
        assert!(set.respond(&r).is_some());
        assert!(set.respond(&r).is_none());
        assert!(set.respond(&req("y", Json::Null)).is_none());
    }

    #[test]
    fn times_from_ranges() {
        assert!(Times::from(2..=3).contains(3));
        assert!(!Times::from(2..3).contains(3));
        assert!(Times::from(1..).contains(100));
        assert_eq!(Times::exactly(2).to_string(), "exactly 2");
    }
}
