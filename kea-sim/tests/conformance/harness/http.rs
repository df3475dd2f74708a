//! Sends one case request exactly as written (headers, body, credentials, client certificate) and
//! turns whatever comes back into an [`Answer`]. Both targets get byte-identical requests.

use std::time::Duration;

use serde_json::Value;

use super::case::{Answer, HttpRequest};

/// TLS material a client needs for a target's socket.
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

/// Where and how to reach one server of a target.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub auth: Option<(String, String)>,
    pub tls: Option<ClientTls>,
}

fn client(ep: &Endpoint, present_cert: bool) -> Result<reqwest::Client, String> {
    let tls = match &ep.tls {
        Some(t) => {
            let cert = testenv::certs::CertPem {
                cert: t.client_cert_pem.clone(),
                key: t.client_key_pem.clone(),
            };
            testenv::certs::rustls_client_config(&t.ca_pem, present_cert.then_some(&cert))
        }
        None => testenv::certs::rustls_client_config("", None),
    }
    .map_err(|e| e.to_string())?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(15))
        // Each request on a fresh connection: a refused handshake must not be hidden by reuse.
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())
}

/// True when a rustls error is anywhere in the chain (io::Error hides its inner error from
/// `source()`, so it is unwrapped explicitly).
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref())
        && is_tls(inner)
    {
        return true;
    }
    e.source().is_some_and(is_tls)
}

/// Classifies a failed request: a TLS-level refusal or a connection problem.
///
/// With TLS 1.3 a server refusing a client without certificate does so after the client considers
/// the handshake done: the client either reads the `certificate_required` alert or, when its request
/// write races with the server's close, sees the connection reset. On a TLS socket a request sent
/// without a client certificate that fails after connecting is therefore the same refusal.
fn failure(err: &reqwest::Error, tls_without_cert: bool) -> Answer {
    if std::env::var("CONFORMANCE_DEBUG").is_ok() {
        eprintln!("request failed: {err:?}");
    }
    if is_tls(err) || (tls_without_cert && !err.is_connect() && !err.is_timeout()) {
        return Answer::Failed {
            error: "tls-handshake".into(),
        };
    }
    Answer::Failed {
        error: if err.is_timeout() {
            "timeout".into()
        } else {
            "connection".into()
        },
    }
}

/// Sends `req` to `ep`.
pub async fn send(ep: &Endpoint, req: &HttpRequest) -> Result<Answer, String> {
    let http = client(ep, req.client_cert)?;
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut r = http.request(method, &ep.url).body(req.body.clone());
    if let Some(ct) = &req.content_type {
        r = r.header(reqwest::header::CONTENT_TYPE, ct);
    }
    for (name, value) in &req.headers {
        r = r.header(name.as_str(), value.as_str());
    }
    if let Some((user, password)) = &req.credentials {
        r = r.basic_auth(user, Some(password));
    } else if let (true, Some((user, password))) = (req.auth, &ep.auth) {
        r = r.basic_auth(user, Some(password));
    }
    let tls_without_cert = ep.tls.is_some() && !req.client_cert;
    let resp = match r.send().await {
        Ok(resp) => resp,
        Err(e) => return Ok(failure(&e, tls_without_cert)),
    };
    let status = resp.status().as_u16();
    let text = match resp.text().await {
        Ok(t) => t,
        Err(e) => return Ok(failure(&e, tls_without_cert)),
    };
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer::Http { status, body })
}
