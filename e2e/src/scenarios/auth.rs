//! Scenario 7: Authentication: a wrong password → `AuthenticationFailed`, nothing written, requeued slowly
//! (`REQUEUE_AUTH_SECONDS`, not the network requeue); the password file rotated → the operator
//! recovers without a restart.

use std::time::Duration;

use crate::k8s::{condition, current};
use crate::kea::{KeaAuth, Role, real};
use crate::lane::Lane;
use crate::world::{World, WorldOptions};

const REQUEUE_AUTH_SECS: u64 = 4;
const REQUEST_WINDOW_MS: u64 = REQUEUE_AUTH_SECS * 2500;

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let auth = KeaAuth {
        user: real::AUTH_USER.into(),
        password: real::AUTH_PASSWORD.into(),
    };
    let mut w = World::start(lane, "auth", WorldOptions { kea_auth: Some(auth) }).await?;
    super::default_network(&w).await?;
    let password_file = w.operator_file("kea-password", "not-the-password").await?;
    let config = w
        .operator_config()
        .set("KEA_BASIC_AUTH_USERNAME", real::AUTH_USER)
        .set("KEA_BASIC_AUTH_PASSWORD_FILE", password_file)
        .set("REQUEUE_AUTH_SECONDS", REQUEUE_AUTH_SECS.to_string())
        .set("REQUEUE_NETWORK_SECONDS", "1");
    // Not ready: no Kea server is usable with a wrong password.
    let idx = w.start_operator_unready(config).await?;
    let pid = w.operators[idx].pid();
    let ns = w.ns.clone();
    let m = super::mac(7, 1, 0);
    w.give_lease(&m, 1).await?;
    w.k8s
        .create_nc(&ns, &super::nc("locked", std::slice::from_ref(&m)))
        .await?;
    w.k8s
        .wait_nc(
            &ns,
            "locked",
            "AuthenticationFailed",
            Duration::from_secs(20),
            |nc| {
                current(nc)
                    && condition(nc, "Ready")
                        .is_some_and(|c| c.status == "False" && c.reason == "AuthenticationFailed")
            },
        )
        .await?;
    anyhow::ensure!(
        w.operators[idx].readyz().await? == 503,
        "ready although no Kea server accepts it"
    );
    anyhow::ensure!(
        w.operators[idx].healthz().await? == 200,
        "not live: a wrong password must not stall it"
    );

    // Requeue timing, from the operator's own "reconciled" lines for this NC over two and a half
    // auth requeues: rounds are REQUEUE_AUTH_SECONDS apart, not the 1 s network requeue. (Kea sees
    // no requests at all: the health check marked both servers unhealthy, so calls fail fast.)
    let marker = format!("\"nc\":\"{ns}/locked\"");
    let reconciles = |logs: &str| {
        logs.lines()
            .filter(|l| l.contains("\"message\":\"reconciled\"") && l.contains(&marker))
            .count()
    };
    let before = reconciles(&w.operators[idx].logs());
    let window = Duration::from_millis(REQUEST_WINDOW_MS);
    tokio::time::sleep(window).await;
    let rounds = reconciles(&w.operators[idx].logs()) - before;
    anyhow::ensure!(
        (1..=3).contains(&rounds),
        "{rounds} reconcile rounds in {window:?} (REQUEUE_AUTH_SECONDS={REQUEUE_AUTH_SECS}, network requeue 1 s)"
    );
    for role in Role::BOTH {
        anyhow::ensure!(
            super::hosts_of(&w, role, &m).await?.is_empty(),
            "{role}: written without valid credentials"
        );
    }

    // The Secret is rotated: the file changes under the running process.
    w.operator_file("kea-password", real::AUTH_PASSWORD).await?;
    let recovery = Duration::from_secs(REQUEUE_AUTH_SECS * 2 + 15) + w.file_update_delay();
    w.k8s.wait_ready(&ns, "locked", recovery).await?;
    w.operators[idx].wait_ready(super::REACT).await?;
    anyhow::ensure!(
        w.operators[idx].is_running().await && w.operators[idx].pid() == pid,
        "the operator was restarted"
    );
    w.finish().await
}
