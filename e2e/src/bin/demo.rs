//! `just demo` (`./dev demo`): the local sandbox. Starts a real Kubernetes API server, a kea-sim HA
//! pair and the real `kea-operator` binary, applies sample NetworkConfigurations, lets simulated
//! devices obtain leases, prints what was reserved where — verified against both Kea servers — and
//! stays up for exploring until Ctrl-C. `--exit-after-setup` (or `DEMO_EXIT=1`) stops right after
//! the check, for tests and CI (`just demo-check`).
//!
//! The binaries under test come from `KEA_OPERATOR_BIN` / `KEA_SIM_BIN` (the justfile recipe builds
//! them in release mode first) or the cargo target directory; see `e2e::artifacts`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clap::builder::BoolishValueParser;
use e2e::sandbox::{self, Clock, Sandbox, SandboxOptions, Signals, StopReason};
use testenv::MissingEnvironment as _;

/// Exit code when the environment is missing (API server not built, binaries not found).
const EXIT_MISSING: u8 = 3;

/// The kea-operator sandbox: a real Kubernetes API server, a kea-sim HA pair and the operator.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Cli {
    /// Stop and clean up right after the result is printed and verified (for tests and CI).
    #[arg(long, env = "DEMO_EXIT", action = clap::ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    exit_after_setup: bool,
    /// Use free ports instead of the documented ones (Kea 8000 and 8002, kea-sim admin 8001,
    /// operator 8080): for a second sandbox or a test.
    #[arg(long, env = "DEMO_FREE_PORTS", action = clap::ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    free_ports: bool,
    /// Where logs, the kea-sim config copy and the operator's settings go (emptied at start)
    /// [default: $KEA_OPERATOR_CACHE/demo, else $TMPDIR/kea-operator-demo].
    #[arg(long, env = "DEMO_DIR", value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let clock = Clock::start();
    // Installed first: a Ctrl-C during setup drops the half-built sandbox (which stops its
    // children) instead of killing this process and leaving the API server's files behind.
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = SandboxOptions {
        dir: cli.dir.unwrap_or_else(sandbox::default_dir),
        free_ports: cli.free_ports,
    };
    println!(
        "kea-operator sandbox: a real Kubernetes API server, a kea-sim HA pair and the kea-operator binary"
    );
    println!("run directory (logs, configs): {}", options.dir.display());

    let setup = async {
        let mut sandbox = Sandbox::start(&options, clock).await?;
        match sandbox.run_samples().await {
            Ok(report) => Ok((sandbox, report)),
            Err(e) => {
                sandbox.stop().await;
                Err(e)
            }
        }
    };
    let (mut sandbox, report) = tokio::select! {
        result = setup => match result {
            Ok(ok) => ok,
            Err(e) => {
                eprintln!("\ndemo: {e}");
                eprintln!("logs: {}", options.dir.display());
                if e.is_missing_environment() {
                    eprintln!("demo: run `just demo` (it builds the API server and the binaries first)");
                    return ExitCode::from(EXIT_MISSING);
                }
                return ExitCode::FAILURE;
            }
        },
        name = signals.next() => {
            println!("\n{name} during setup: stopped everything that had started");
            return ExitCode::FAILURE;
        }
    };
    let setup_time = clock.elapsed();

    println!();
    print!("{}", report.render());
    let (valid, both, invalid) = report.counts();
    println!(
        "verified: {both}/{valid} valid interfaces Reserved on both kea-sim servers (primary and secondary), \
         matching the NC status; {invalid} invalid MAC reported as InvalidMac, nothing written to Kea for it"
    );
    println!("ready in {:.1}s\n", setup_time.as_secs_f64());
    print!("{}", sandbox.explore_text(!cli.exit_after_setup));

    let mut status = ExitCode::SUCCESS;
    if !cli.exit_after_setup {
        match sandbox.wait_for_stop(&mut signals).await {
            StopReason::Signal(name) => println!("\n{name}: stopping"),
            StopReason::ChildExited(why) => {
                eprintln!("\ndemo: {why}\nstopping the rest");
                status = ExitCode::FAILURE;
            }
        }
    }
    let stopping = std::time::Instant::now();
    let ports = sandbox.ports.all();
    let dir = sandbox.dir.clone();
    let still_open = sandbox.stop().await;
    if still_open.is_empty() {
        println!(
            "stopped in {:.1}s: operator, kea-sim and API server gone; ports {} closed; logs kept in {}",
            stopping.elapsed().as_secs_f64(),
            ports.map(|p| p.to_string()).join(", "),
            dir.display()
        );
    } else {
        eprintln!("demo: after the stop, something still listens on ports {still_open:?}");
        status = ExitCode::FAILURE;
    }
    status
}
