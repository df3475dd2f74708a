//! `just kube-up`: start a real Kubernetes API server by hand; prints the kubeconfig; Ctrl-C stops it.

use clap::Parser;
use testenv::kube::KubeEnv;

#[derive(Parser, Debug)]
#[command(about = "Start etcd + apiextensions-apiserver (with stand-in Lease/Event CRDs) until Ctrl-C")]
struct Args {
    /// CRD YAML files to apply once the server is up.
    #[arg(long = "crds")]
    crds: Vec<std::path::PathBuf>,
    /// Extra IP addresses for the serving certificate (listens on all addresses then).
    #[arg(long = "extra-ip")]
    extra_ips: Vec<std::net::IpAddr>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = std::time::Instant::now();
    let env = KubeEnv::builder()
        .extra_ips(&args.extra_ips)
        .start_private()
        .await?;
    for file in &args.crds {
        env.apply_crds_yaml(&std::fs::read_to_string(file)?).await?;
        println!("applied {}", file.display());
    }
    println!("API server {} ready in {:.1?}", env.url(), started.elapsed());
    println!("export KUBECONFIG={}", env.kubeconfig_path().display());
    println!("  kubectl get --raw /apis   (no core/v1 here: use --raw or kube clients)");
    println!("audit log: {}", env.audit_log_path().display());
    println!("running; Ctrl-C stops and cleans up");
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    Ok(())
}
