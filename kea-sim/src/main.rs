//! The `kea-sim` server: a simulated Kea 3.0.4 control socket (or Control Agent), optionally
//! an HA pair, plus the admin API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kea_sim::config;
use kea_sim::runtime::{Mode, ServerSpec, SimSpec};
use kea_sim::server::ConfigFile;

/// Default admin API address (the Kea socket defaults to 127.0.0.1:8000).
const DEFAULT_ADMIN: &str = "127.0.0.1:8001";

/// A simulated ISC Kea 3.0.4 DHCPv4 control API with failure injection.
#[derive(Debug, Parser)]
#[command(name = "kea-sim", version, about)]
struct Cli {
    /// A kea-dhcp4 configuration file (`{"Dhcp4": ...}`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Kea control socket address (overrides the configuration's control socket).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Admin API address.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_ADMIN)]
    admin_listen: SocketAddr,
    /// Behave like a kea-dhcp4 HTTP socket or like a Control Agent in front of it.
    #[arg(long, value_enum, default_value = "dhcp4")]
    mode: CliMode,
    /// Run a second server (HA partner, hot-standby) listening on this address.
    #[arg(long, value_name = "ADDR")]
    ha_partner: Option<SocketAddr>,
    /// Requests kept in each server's request log.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    log_capacity: usize,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum CliMode {
    Dhcp4,
    Ca,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            // clap's message, without the usage block, on one line.
            let text = e.to_string();
            let message = text.split("\n\nUsage:").next().unwrap_or("invalid arguments");
            let mut one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            if e.kind() == ErrorKind::MissingRequiredArgument {
                one_line = "the required argument --config <FILE> was not provided".into();
            }
            eprintln!(
                "kea-sim: {} (see kea-sim --help)",
                one_line.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("kea-sim: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let mut cfg = config::load_file(&cli.config).map_err(|e| e.to_string())?;
    let mode = match cli.mode {
        CliMode::Dhcp4 => Mode::Dhcp4,
        CliMode::Ca => Mode::Ca,
    };
    let mut agent = cfg.agent.clone();
    if let Some(addr) = cli.listen {
        match (&mut agent, mode) {
            (Some(a), Mode::Ca) => a.socket.addr = addr,
            _ => cfg = cfg.with_listen(addr),
        }
    }
    let mut servers = vec![ServerSpec {
        name: "primary".into(),
        config: cfg.clone(),
        config_file: ConfigFile::Disk(cli.config.clone()),
        tls: None,
        agent: if mode == Mode::Ca { agent.clone() } else { None },
    }];
    if let Some(partner) = cli.ha_partner {
        let pcfg = cfg.for_partner(partner);
        let pagent = match (mode, &agent) {
            (Mode::Ca, Some(a)) => {
                let mut a = a.clone();
                a.socket.addr = partner;
                Some(a)
            }
            _ => None,
        };
        servers.push(ServerSpec {
            name: "secondary".into(),
            config: pcfg,
            config_file: ConfigFile::Disk(cli.config.clone()),
            tls: None,
            agent: pagent,
        });
    }
    let spec = SimSpec {
        mode,
        servers,
        shared_databases: true,
        admin_listen: Some(cli.admin_listen),
        log_capacity: cli.log_capacity,
        pid_base: std::process::id(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let running = kea_sim::runtime::start(spec).await.map_err(|e| e.to_string())?;
        for s in &running.servers {
            tracing::info!(server = %s.name, url = %s.url(), mode = mode.as_str(), "kea-sim listening");
        }
        if let Some(a) = running.admin {
            tracing::info!(url = %format!("http://{a}/"), "admin API listening");
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown.cancel();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok(())
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
