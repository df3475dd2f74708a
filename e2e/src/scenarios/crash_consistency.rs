//! Scenario 11: Crash consistency: the operator is killed (-9) at random points while NCs converge and while
//! many are deleted, for several seeds; after each restart the final state is exact — no orphan,
//! no missing reservation, no NC stuck in deletion.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::lane::Lane;
use crate::world::{World, WorldOptions, scaled};

/// Seeds from `E2E_SEEDS` (comma separated), default 1,2,3.
fn seeds() -> Vec<u64> {
    std::env::var("E2E_SEEDS")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|x| x.trim().parse().ok())
                .collect::<Vec<u64>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![1, 2, 3])
}

async fn kill_at_random(w: &mut World, rng: &mut StdRng, kills: usize) -> anyhow::Result<()> {
    for _ in 0..kills {
        let delay = Duration::from_millis(rng.random_range(50..1200));
        tokio::time::sleep(delay).await;
        let op = w.operator_mut();
        op.kill().await?;
        op.start_again().await?;
        eprintln!("crash-consistency: kill -9 after {delay:?}, restarted");
    }
    Ok(())
}

pub async fn run(lane: Lane) -> anyhow::Result<()> {
    let mut w = World::start(lane, "crash-consistency", WorldOptions::default()).await?;
    w.start_operator(w.operator_config().set("RESYNC_INTERVAL_SECONDS", "10"))
        .await?;
    for seed in seeds() {
        let mut rng = StdRng::seed_from_u64(seed);
        let ns = w.kube.namespace(&format!("crash-{seed}"));
        w.k8s
            .create_nn(&ns, "net", Some(crate::kea::layout::PREFIX_1))
            .await?;
        let tag = 0x10 + (seed % 0xe0) as u8;
        let n = scaled(20);
        let (names, _) = super::create_leased_ncs(&mut w, &ns, tag, "vm", n, 2).await?;
        kill_at_random(&mut w, &mut rng, 3).await?;
        w.k8s.wait_all_ready(&ns, &names, super::BATCH_READY).await?;
        w.converge(Duration::from_secs(30)).await?;

        // Delete two thirds, crashing meanwhile.
        let doomed: Vec<&String> = names.iter().filter(|_| rng.random_bool(2.0 / 3.0)).collect();
        for name in &doomed {
            w.k8s.delete_nc(&ns, name).await?;
        }
        kill_at_random(&mut w, &mut rng, 2).await?;
        for name in &doomed {
            w.k8s.wait_gone(&ns, name, Duration::from_secs(30)).await?;
        }
        w.converge(Duration::from_secs(30)).await?;
        eprintln!(
            "crash-consistency: seed {seed}: {n} NCs, {} deleted, exact after 5 kills",
            doomed.len()
        );
    }
    w.finish().await
}
