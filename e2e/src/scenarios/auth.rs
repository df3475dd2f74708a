//! Scenario 7: Authentication: a wrong password → `AuthenticationFailed`, nothing written, requeued slowly
//! (`REQUEUE_AUTH_SECONDS`, not the network requeue); the password file rotated → the operator
//! recovers without a restart.

use std::time::Duration;

use crate::k8s::{condition, current};
use crate::kea::{KeaAuth, Role, real};
use crate::lane::Lane;
use crate::world::{World, WorldOptions};

const REQUEUE_AUTH_SECS: u64 = 4;

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let auth = KeaAuth {
        user: real::AUTH_USER.into(),
        password: real::AUTH_PASSWORD.into(),
    };
    let mut w = World::start(lane, "auth", WorldOptions { kea_auth: Some(auth) }).await?;
    super::default_network(&w).await?;
    let password_file = w.operator_file("kea-password", "not-the-password")?;
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

    if let Some(sim) = w.kea.sim() {
        // Requeue timing, measured from the lease lookups of this MAC in a window of two and a
        // half auth requeues: rounds of attempts are REQUEUE_AUTH_SECONDS apart, not 1 s.
        let mut marks = Vec::new();
        for role in Role::BOTH {
            marks.push(sim.log_mark(role).await?);
        }
        let window = Duration::from_millis(REQUEUE_AUTH_SECS * 2500);
        tokio::time::sleep(window).await;
        let mut arrivals = Vec::new();
        for (role, mark) in Role::BOTH.into_iter().zip(marks) {
            arrivals.extend(
                super::requests_for(&w, role, &m, mark)
                    .await?
                    .into_iter()
                    .filter(|r| r.command.as_deref() == Some("lease4-get-by-hw-address"))
                    .map(|r| r.unix_micros),
            );
        }
        arrivals.sort_unstable();
        // A round: attempts less than a second apart (per-call retries, the other server).
        let mut rounds = 0;
        let mut last: Option<i64> = None;
        for t in &arrivals {
            if last.is_none_or(|l| t - l > 1_000_000) {
                rounds += 1;
            }
            last = Some(*t);
        }
        anyhow::ensure!(
            (1..=3).contains(&rounds),
            "{rounds} reconcile rounds in {window:?} (REQUEUE_AUTH_SECONDS={REQUEUE_AUTH_SECS}, network requeue 1 s): {arrivals:?}"
        );
    }
    for role in Role::BOTH {
        anyhow::ensure!(
            super::hosts_of(&w, role, &m).await?.is_empty(),
            "{role}: written without valid credentials"
        );
    }

    // The Secret is rotated: the file changes under the running process.
    w.operator_file("kea-password", real::AUTH_PASSWORD)?;
    w.k8s
        .wait_ready(&ns, "locked", Duration::from_secs(REQUEUE_AUTH_SECS * 2 + 15))
        .await?;
    w.operators[idx].wait_ready(super::REACT).await?;
    anyhow::ensure!(
        w.operators[idx].is_running().await && w.operators[idx].pid() == pid,
        "the operator was restarted"
    );
    w.finish().await
}
