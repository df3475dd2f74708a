//! Helpers shared by the Kea client's integration tests.
// Test support: each test crate uses a part of it, and a failed setup may panic like a test does.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use kea_operator::config::KeaConfig;
use kea_operator::kea::{KeaClient, ServerId, Transport};
use kea_operator::metrics::Metrics;
use serde_json::{Value, json};
use wiremock::{Match, Request, ResponseTemplate};

/// Installs the process-wide rustls provider (tests that start TLS servers need one).
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A configuration for one server with the documented defaults.
pub fn config(url: &str) -> KeaConfig {
    KeaConfig::new(url.parse().expect("test URL"))
}

/// A client for `url` with the default settings.
pub fn client(url: &str) -> KeaClient {
    client_with(&config(url))
}

pub fn client_with(config: &KeaConfig) -> KeaClient {
    let transport = Transport::new(config).expect("transport");
    KeaClient::new(
        ServerId::Primary,
        config.primary.clone(),
        transport,
        config.max_in_flight,
        Arc::new(Metrics::new()),
    )
}

/// Kea's answer: an array with one element.
pub fn answer(result: i64, text: &str, arguments: Option<Value>) -> ResponseTemplate {
    let mut element = json!({"result": result, "text": text});
    if let Some(arguments) = arguments {
        element["arguments"] = arguments;
    }
    ResponseTemplate::new(200).set_body_json(json!([element]))
}

pub fn ok(arguments: Value) -> ResponseTemplate {
    answer(0, "", Some(arguments))
}

/// Matches requests whose JSON body has `"command": name`.
pub struct Command(pub &'static str);

impl Match for Command {
    fn matches(&self, request: &Request) -> bool {
        serde_json::from_slice::<Value>(&request.body)
            .map(|v| v["command"] == self.0)
            .unwrap_or(false)
    }
}

/// The JSON bodies the mock server received, in order.
pub async fn bodies(server: &wiremock::MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("request body is JSON"))
        .collect()
}

/// `list-commands` arguments of a server with every hook the operator needs.
pub fn all_commands() -> Value {
    json!([
        "build-report",
        "config-get",
        "config-write",
        "lease4-get-by-hw-address",
        "list-commands",
        "reservation-add",
        "reservation-del",
        "reservation-get",
        "reservation-get-by-address",
        "reservation-get-page",
        "status-get",
        "subnet4-list",
        "version-get"
    ])
}

pub mod rsa_keys;
pub mod tls_server;
