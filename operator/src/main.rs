//! The `kea-operator` binary: parses the configuration, sets up logging and the crypto provider, and
//! dispatches to a subcommand. Invalid configuration ends the process with one line naming the
//! variable and the fix, and exit code 2 — never a panic.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use kea_operator::check::{self, CheckArgs, OutputFormat};
use kea_operator::config::{Config, ConfigArgs, ConfigError, LogConfig, LogFormat};
use kea_operator::controller::RunError;
use kea_operator::kea::KeaError;

/// Keeps ISC Kea DHCPv4 host reservations equal to what NetworkConfiguration resources declare.
#[derive(Debug, Parser)]
#[command(name = "kea-operator", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the operator (the default).
    Run,
    /// Print the CustomResourceDefinitions (NetworkConfiguration, NetworkNamespace) as YAML.
    Crd,
    /// Preflight: validate the configuration, reach and authenticate to each Kea server, report
    /// version, hooks, operation target and subnets. Exit 0 when every server can serve the operator.
    Check(CheckArgs),
}

const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => match ConfigError::from_clap(&e) {
            Some(config_error) => return refuse(&config_error),
            None => e.exit(),
        },
    };
    // `crd` needs no configuration: it must work with nothing set (`kea-operator crd | kubectl apply -f -`).
    if matches!(cli.command, Some(Command::Crd)) {
        let _ = std::io::stdout()
            .lock()
            .write_all(kea_operator::crd::crd_yaml().as_bytes());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_args(cli.config) {
        Ok(config) => config,
        Err(e) => return refuse(&e),
    };
    // One crypto provider for the whole binary (kube and reqwest both use rustls); the Kea client
    // passes *ring* explicitly, kube relies on the process default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_logging(&config.log);

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kea-operator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => runtime.block_on(run(config)),
        Command::Check(args) => runtime.block_on(run_check(config, args)),
        Command::Crd => ExitCode::SUCCESS,
    }
}

fn refuse(e: &impl std::fmt::Display) -> ExitCode {
    eprintln!("kea-operator: invalid configuration: {e}");
    ExitCode::from(EXIT_CONFIG)
}

fn init_logging(log: &LogConfig) {
    use tracing_subscriber::EnvFilter;
    // The filter was validated with the configuration.
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Refuses Kea settings that only show when their files are read (certificates, keys).
fn kea_setup_error(e: &KeaError) -> Option<ExitCode> {
    match e {
        KeaError::Config { .. } => Some(refuse(e)),
        _ => None,
    }
}

async fn run(config: Config) -> ExitCode {
    match kea_operator::controller::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Config(e)) => refuse(&e),
        Err(RunError::Kea(e)) => kea_setup_error(&e).unwrap_or(ExitCode::FAILURE),
        Err(e) => {
            tracing::error!(category = e.category(), "{e}");
            eprintln!("kea-operator: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_check(config: Config, args: CheckArgs) -> ExitCode {
    let report = match check::run(&config).await {
        Ok(report) => report,
        Err(e) => {
            return kea_setup_error(&e).unwrap_or_else(|| {
                eprintln!("kea-operator: check failed: {e}");
                ExitCode::FAILURE
            });
        }
    };
    let text = match args.output {
        OutputFormat::Text => report.to_text(),
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("kea-operator: cannot encode the report: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    // A closed pipe (`check | head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
