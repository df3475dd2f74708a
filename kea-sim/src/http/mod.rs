//! Kea's HTTP control channel: request validation (HTTP 400), basic authentication (401), the
//! command, and the answer with Kea's headers. Faults and mocks are applied here.

pub mod io;
pub mod listener;
pub mod tls;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use crate::agent::Agent;
use crate::element::{Element, Value, parse_request};
use crate::faults::FaultAction;
use crate::reqlog::Entry;
use crate::server::{Liveness, Node};
use crate::sim::expect::CommandRequest;

/// What a listener serves.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// A kea-dhcp4 HTTP control socket.
    Dhcp4(Arc<Node>),
    /// A Control Agent in front of a kea-dhcp4.
    Agent(Arc<Agent>),
}

impl Endpoint {
    /// The daemon behind the endpoint (its log, faults and mocks serve the listener).
    pub fn node(&self) -> &Arc<Node> {
        match self {
            Endpoint::Dhcp4(n) => n,
            Endpoint::Agent(a) => &a.node,
        }
    }

    fn auth(&self) -> Option<crate::config::BasicAuth> {
        match self {
            Endpoint::Dhcp4(n) => n.config().control.auth.clone(),
            Endpoint::Agent(a) => a.config().socket.auth,
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        match self {
            Endpoint::Dhcp4(n) => n.config().control.headers.clone(),
            Endpoint::Agent(a) => a.config().socket.headers,
        }
    }
}

/// Kea's reason phrase for a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// The JSON body Kea's HTTP layer sends with an error status (`{ "result": 400, "text": "Bad Request" }`).
pub fn stock_body(status: u16) -> String {
    let mut m = Element::map();
    m.set("result", Element::int(i64::from(status)));
    m.set("text", Element::str(reason(status)));
    m.to_kea_string()
}

/// An HTTP request as the pipeline needs it.
#[derive(Debug)]
pub struct HttpInput {
    /// Method.
    pub method: hyper::Method,
    /// `Content-Type` header.
    pub content_type: Option<String>,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// Body bytes.
    pub body: Bytes,
    /// Whether the request carried `Content-Length` (Kea requires it: a chunked or
    /// length-less POST is a 400).
    pub has_content_length: bool,
    /// Client address.
    pub remote: IpAddr,
}

/// What to do with the connection.
#[derive(Debug)]
pub enum HttpOutput {
    /// Send this answer.
    Answer {
        /// Status.
        status: u16,
        /// Body.
        body: Bytes,
        /// `WWW-Authenticate` value.
        www_authenticate: Option<String>,
        /// Extra headers (`http-headers`).
        headers: Vec<(String, String)>,
        /// Reset the connection after this many body bytes (reset fault).
        cut_after: Option<usize>,
    },
    /// Never answer.
    Hang,
    /// Reset the connection without an answer.
    ResetNow,
    /// Reset the connection, then take the listener down (the daemon died or refuses
    /// connections): the reset goes out after the listening socket is closed, so a client that
    /// reconnects at once is refused.
    ResetThenDown {
        /// Restart (memory state lost) rather than just stop.
        restart: bool,
        /// Come back after this long (`None`: stay down).
        downtime: Option<Duration>,
    },
}

fn answer_out(status: u16, body: String, headers: Vec<(String, String)>) -> HttpOutput {
    HttpOutput::Answer {
        status,
        body: Bytes::from(body),
        www_authenticate: None,
        headers,
        cut_after: None,
    }
}

/// First result and text of an answer body (for the log).
fn result_of(e: &Element) -> (Option<i64>, Option<String>) {
    let first = match &e.value {
        Value::List(l) => l.first(),
        Value::Map(_) => Some(e),
        _ => None,
    };
    let r = first.and_then(|f| f.field("result")).and_then(Element::as_int);
    let t = first
        .and_then(|f| f.field("text"))
        .and_then(Element::as_str)
        .map(str::to_string);
    (r, t)
}

fn content_type_ok(ct: Option<&str>) -> bool {
    ct.is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"))
}

fn schedule(d: Duration, f: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        tokio::time::sleep(d).await;
        f();
    });
}

/// Apply the side effects of state faults (partition, database outage).
fn apply_side_effect(node: &Arc<Node>, action: &FaultAction) {
    match action {
        FaultAction::Partition { duration_ms } => {
            if let Some(link) = node.link.clone() {
                link.set_partitioned(true);
                if let Some(ms) = duration_ms {
                    let n = node.clone();
                    schedule(Duration::from_millis(*ms), move || {
                        link.set_partitioned(false);
                        crate::ha::resync_pair(&n);
                    });
                }
            }
        }
        FaultAction::DbOutage { mode, duration_ms } => {
            for db in node.databases() {
                db.set_outage(Some(*mode));
                if let Some(ms) = duration_ms {
                    let db = db.clone();
                    schedule(Duration::from_millis(*ms), move || db.set_outage(None));
                }
            }
        }
        _ => {}
    }
}

/// Take the listener of an endpoint down for a while (`restart`: the daemon restarts when it
/// comes back).
pub fn take_down(endpoint: &Endpoint, restart: bool, downtime: Option<Duration>) {
    match endpoint {
        Endpoint::Dhcp4(_) => daemon_outage(endpoint, restart, downtime),
        Endpoint::Agent(a) => {
            a.set_liveness(Liveness::Down);
            if let Some(d) = downtime {
                let a = a.clone();
                schedule(d, move || a.set_liveness(Liveness::Up));
            }
        }
    }
}

/// Restart (or take down) the daemon behind an endpoint for a while.
fn daemon_outage(endpoint: &Endpoint, restart: bool, downtime: Option<Duration>) {
    let node = endpoint.node().clone();
    node.set_liveness(Liveness::Down);
    let Some(d) = downtime else {
        return;
    };
    schedule(d, move || {
        if restart {
            if let Err(e) = node.restart() {
                tracing::error!(server = %node.name, error = %e, "restart failed: the configuration no longer loads");
            }
        } else {
            node.set_liveness(Liveness::Up);
        }
    });
}

/// Process one HTTP request end to end.
pub async fn process(endpoint: &Endpoint, input: HttpInput) -> HttpOutput {
    let node = endpoint.node().clone();
    let started = Instant::now();
    let at = SystemTime::now();
    let seq = node.log.next_seq();
    let parsed = if input.body.is_empty() {
        Ok(None)
    } else {
        parse_request(&input.body).map(Some)
    };
    let (command, arguments, service) = match &parsed {
        Ok(Some(e)) => (
            e.field("command").and_then(Element::as_str).map(str::to_string),
            e.field("arguments").cloned(),
            e.field("service").cloned(),
        ),
        _ => (None, None, None),
    };
    let mut entry = Entry {
        seq,
        at,
        command: command.clone(),
        service,
        arguments,
        http_status: None,
        result: None,
        text: None,
        fault: None,
        duration_micros: None,
    };
    let headers = endpoint.headers();

    // Faults first: they model what happens on the way to Kea.
    let decision = {
        let mut f = node.faults.lock();
        if f.is_empty() {
            None
        } else {
            Some(f.decide(command.as_deref()))
        }
    };
    if let Some(d) = &decision {
        if !d.labels.is_empty() {
            entry.fault = Some(d.labels.join(","));
        }
        for s in &d.side_effects {
            apply_side_effect(&node, s);
        }
        if !d.latency.is_zero() {
            tokio::time::sleep(d.latency).await;
        }
    }
    let terminal = decision.and_then(|d| d.terminal);
    let had_terminal = terminal.is_some();

    let out = match terminal {
        Some(FaultAction::Hang) => HttpOutput::Hang,
        Some(FaultAction::Reset) => {
            // The normal answer is produced, then cut short.
            let o = kea_pipeline(
                endpoint,
                &input,
                &parsed,
                &headers,
                &mut entry,
                command.as_deref(),
            )
            .await;
            match o {
                HttpOutput::Answer {
                    status,
                    body,
                    www_authenticate,
                    headers,
                    ..
                } => HttpOutput::Answer {
                    status,
                    cut_after: Some(body.len() / 2),
                    body,
                    www_authenticate,
                    headers,
                },
                other => other,
            }
        }
        Some(FaultAction::HttpStatus { status }) => {
            let mut o = answer_out(status, stock_body(status), headers.clone());
            if status == 401
                && let HttpOutput::Answer { www_authenticate, .. } = &mut o
            {
                let realm = endpoint.auth().map(|a| a.realm).unwrap_or_default();
                *www_authenticate = Some(format!("Basic realm=\"{realm}\""));
            }
            o
        }
        Some(FaultAction::Garbage) => {
            answer_out(200, "<html><body>502 upstream garbage".into(), headers.clone())
        }
        Some(FaultAction::Truncated) => {
            let o = kea_pipeline(
                endpoint,
                &input,
                &parsed,
                &headers,
                &mut entry,
                command.as_deref(),
            )
            .await;
            match o {
                HttpOutput::Answer {
                    status,
                    body,
                    www_authenticate,
                    headers,
                    cut_after,
                } => {
                    let half = body.slice(0..body.len() / 2);
                    HttpOutput::Answer {
                        status,
                        body: half,
                        www_authenticate,
                        headers,
                        cut_after,
                    }
                }
                other => other,
            }
        }
        Some(FaultAction::KeaResult {
            result,
            text,
            arguments,
        }) => {
            let a = crate::commands::answer(result, &text, arguments.as_ref().map(Element::from_json));
            answer_out(200, Element::list(vec![a]).to_kea_string(), headers.clone())
        }
        Some(FaultAction::Restart { downtime_ms }) => match endpoint {
            Endpoint::Dhcp4(_) => HttpOutput::ResetThenDown {
                restart: true,
                downtime: Some(Duration::from_millis(downtime_ms)),
            },
            Endpoint::Agent(_) => {
                daemon_outage(endpoint, true, Some(Duration::from_millis(downtime_ms)));
                let a = crate::commands::answer(
                    1,
                    "unable to forward command to the dhcp4 service: Connection reset by peer. The server is likely to be offline",
                    None,
                );
                answer_out(200, Element::list(vec![a]).to_kea_string(), headers.clone())
            }
        },
        Some(FaultAction::Refuse { duration_ms }) => HttpOutput::ResetThenDown {
            restart: false,
            downtime: duration_ms.map(Duration::from_millis),
        },
        Some(FaultAction::Latency { .. } | FaultAction::Partition { .. } | FaultAction::DbOutage { .. })
        | None => {
            kea_pipeline(
                endpoint,
                &input,
                &parsed,
                &headers,
                &mut entry,
                command.as_deref(),
            )
            .await
        }
    };

    let out = match out {
        // A hung database blocks Kea's whole command channel.
        HttpOutput::Answer { .. }
            if node.db_hung() && !had_terminal && matches!(endpoint, Endpoint::Dhcp4(_)) =>
        {
            entry.fault.get_or_insert_with(|| "db-hang".into());
            HttpOutput::Hang
        }
        o => o,
    };

    if let HttpOutput::Answer {
        status,
        body,
        cut_after,
        ..
    } = &out
    {
        if cut_after.is_none() {
            entry.http_status = Some(*status);
        }
        if entry.result.is_none()
            && let Ok(e) = parse_request(body)
        {
            let (r, t) = result_of(&e);
            entry.result = r;
            entry.text = t;
        }
        entry.duration_micros = Some(started.elapsed().as_micros() as u64);
    }
    node.log.push(entry);

    if node.take_exit_request() {
        // Kea answers, then exits (database on-fail).
        schedule(Duration::from_millis(50), move || {
            node.set_liveness(Liveness::Down)
        });
    }
    out
}

/// Kea's own handling: 400, 401, mocks, then the command.
async fn kea_pipeline(
    endpoint: &Endpoint,
    input: &HttpInput,
    parsed: &Result<Option<Element>, crate::element::JsonError>,
    headers: &[(String, String)],
    entry: &mut Entry,
    command: Option<&str>,
) -> HttpOutput {
    let node = endpoint.node();
    if input.method != hyper::Method::POST
        || !input.has_content_length
        || !content_type_ok(input.content_type.as_deref())
        || parsed.is_err()
    {
        return answer_out(400, stock_body(400), headers.to_vec());
    }
    if let Some(auth) = endpoint.auth()
        && !auth.accepts(input.authorization.as_deref())
    {
        let mut o = answer_out(401, stock_body(401), headers.to_vec());
        if let HttpOutput::Answer { www_authenticate, .. } = &mut o {
            *www_authenticate = Some(format!("Basic realm=\"{}\"", auth.realm));
        }
        return o;
    }
    let cmd = parsed.as_ref().ok().and_then(Option::as_ref);
    if node.mocks.has_mocks() {
        let req = CommandRequest::new(command, entry.arguments.as_ref(), entry.service.as_ref());
        if let Some((resp, label)) = node.mocks.respond(&req) {
            entry.fault = Some(label);
            if let Some(d) = resp.delay {
                tokio::time::sleep(d).await;
            }
            return HttpOutput::Answer {
                status: resp.status,
                body: Bytes::from(resp.body),
                www_authenticate: None,
                headers: headers.to_vec(),
                cut_after: None,
            };
        }
    }
    let answer = match endpoint {
        Endpoint::Dhcp4(n) => crate::commands::process(n, cmd),
        Endpoint::Agent(a) => a.process(cmd, input.remote),
    };
    let answer = if answer.is_list() {
        answer
    } else {
        Element::list(vec![answer])
    };
    let (r, t) = result_of(&answer);
    entry.result = r;
    entry.text = t;
    answer_out(200, answer.to_kea_string(), headers.to_vec())
}

/// Build the hyper response with Kea's header order.
pub fn to_response(
    status: u16,
    body: Bytes,
    www_authenticate: Option<&str>,
    extra: &[(String, String)],
) -> hyper::Response<http_body_util::Full<Bytes>> {
    // Kea keeps response headers in a map keyed by lower-case name: they go out sorted.
    let mut headers: Vec<(String, String)> = vec![
        ("content-length".into(), body.len().to_string()),
        ("content-type".into(), "application/json".into()),
        ("date".into(), httpdate::fmt_http_date(SystemTime::now())),
    ];
    if let Some(w) = www_authenticate {
        headers.push(("www-authenticate".into(), w.to_string()));
    }
    headers.extend(extra.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut b = hyper::Response::builder()
        .status(hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(&v),
        ) {
            b = b.header(name, value);
        }
    }
    b.body(http_body_util::Full::new(body)).unwrap_or_else(|_| {
        let mut r = hyper::Response::new(http_body_util::Full::new(Bytes::new()));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
