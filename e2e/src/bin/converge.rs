//! `just bench-converge [NCS]`: the convergence benchmark of SPEC §9 (see `e2e::bench`). Prints
//! the report and, with `--json FILE`, writes it as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use e2e::bench::{self, Settings};

/// N NCs × 2 leased interfaces against a kea-sim pair: time to all Ready against the lower bound,
/// Kea commands per interface, operator peak RSS, steady-state sweep cost.
#[derive(Debug, Parser)]
#[command(name = "converge")]
struct Cli {
    /// NetworkConfigurations to converge.
    #[arg(long, default_value_t = 10_000)]
    ncs: usize,
    /// Interfaces per NC (each with a lease).
    #[arg(long, default_value_t = 2)]
    interfaces: usize,
    /// MAX_CONCURRENT_RECONCILES (the chart's default), also the lower bound's concurrency.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// RESYNC_INTERVAL_SECONDS: the sweep measured is the first after convergence.
    #[arg(long, default_value_t = 30)]
    resync_seconds: u64,
    /// Extra environment for the operator, KEY=VALUE (repeatable): an experiment such as
    /// `MALLOC_ARENA_MAX=2`.
    #[arg(long = "operator-env", value_name = "KEY=VALUE", value_parser = key_value)]
    operator_env: Vec<(String, String)>,
    /// Also write the report here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    testenv::certs::install_crypto_provider();
    if cli.ncs == 0 || cli.interfaces == 0 || cli.concurrency == 0 {
        eprintln!("converge: --ncs, --interfaces and --concurrency must be at least 1");
        return ExitCode::from(2);
    }
    let settings = Settings {
        ncs: cli.ncs,
        interfaces: cli.interfaces,
        concurrency: cli.concurrency,
        resync_seconds: cli.resync_seconds,
        operator_env: cli.operator_env,
    };
    match bench::run(settings).await {
        Ok(report) => {
            println!("{report}");
            if let Some(path) = cli.json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("converge: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("converge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}
