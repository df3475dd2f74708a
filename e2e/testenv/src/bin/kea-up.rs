//! `just kea-up`: start real Kea 3.0 by hand for debugging; prints how to reach it; Ctrl-C stops it.

use clap::Parser;
use testenv::kea::{ControlAgent, HaPair, KeaProcess};

#[derive(Parser, Debug)]
#[command(about = "Start real Kea 3.0 (from the provisioned root filesystem) until Ctrl-C")]
struct Args {
    /// A Kea config file (`{"Dhcp4": ...}`); default: one subnet 10.100.0.0/16 and the command hooks.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Control socket port (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Basic auth as USER:PASSWORD.
    #[arg(long)]
    auth: Option<String>,
    /// HTTPS on the control socket (certificates are generated; their paths are printed).
    #[arg(long)]
    tls: bool,
    /// HTTPS with client certificates required (mutual TLS).
    #[arg(long, conflicts_with = "tls")]
    mtls: bool,
    /// A hot-standby HA pair instead of one server.
    #[arg(long, conflicts_with_all = ["ca", "auth", "tls", "mtls", "port"])]
    ha: bool,
    /// A Control Agent in front of a kea-dhcp4 on a unix socket.
    #[arg(long, conflicts_with_all = ["ha", "port"])]
    ca: bool,
}

fn describe(what: &str, kea: &KeaProcess) {
    println!(
        "{what}: {}  (state and log: {})",
        kea.url(),
        kea.state_dir().display()
    );
    if kea.tls().is_some() {
        let d = kea.state_dir();
        println!(
            "  curl --cacert {0}/ca.pem --cert {0}/client.pem --key {0}/client-key.pem ...",
            d.display()
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config = match &args.config {
        Some(p) => Some(serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(p)?,
        )?),
        None => None,
    };
    let auth = args
        .auth
        .as_deref()
        .map(|a| a.split_once(':').ok_or("--auth wants USER:PASSWORD"))
        .transpose()?;
    let version = testenv::kea::KeaRootfs::locate()?.version()?;
    println!("real Kea {version}");
    // Keep whatever was started alive until Ctrl-C; dropping it stops everything.
    let _running: Box<dyn std::any::Any> = if args.ha {
        let mut b = HaPair::builder();
        if let Some(c) = config {
            b = b.config(c);
        }
        let pair = b.start().await?;
        describe("primary", &pair.primary);
        describe("standby", &pair.secondary);
        Box::new(pair)
    } else if args.ca {
        let mut b = ControlAgent::builder();
        if let Some(c) = config {
            b = b.dhcp4_config(c);
        }
        if let Some((u, p)) = auth {
            b = b.basic_auth(u, p);
        }
        if args.tls || args.mtls {
            b = b.tls(args.mtls);
        }
        let ca = b.start().await?;
        println!("control agent: {}  (send \"service\": [\"dhcp4\"])", ca.url());
        describe("dhcp4 behind it (unix socket)", ca.daemon());
        Box::new(ca)
    } else {
        let mut b = KeaProcess::builder().name("kea-up");
        if let Some(c) = config {
            b = b.config(c);
        }
        if let Some(p) = args.port {
            b = b.port(p);
        }
        if let Some((u, p)) = auth {
            b = b.basic_auth(u, p);
        }
        if args.tls || args.mtls {
            b = b.tls(args.mtls);
        }
        let kea = b.start().await?;
        describe("kea-dhcp4", &kea);
        let user = kea
            .auth()
            .map(|a| format!(" -u '{}:{}'", a.user, a.password))
            .unwrap_or_default();
        println!(
            "  curl -s{user} -X POST {} -H 'Content-Type: application/json' -d '{{\"command\":\"list-commands\"}}'",
            kea.url()
        );
        Box::new(kea)
    };
    println!("running; Ctrl-C stops and cleans up");
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    Ok(())
}
