//! The Docker operations testcontainers does not offer: a network whose gateway is known before
//! anything starts (the API server's certificate must name it), connecting and disconnecting a
//! container (a network fault), and reading a container's whole log.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

/// A Docker CLI call failed.
#[derive(Debug, thiserror::Error)]
#[error("docker {args}: {message}")]
pub struct DockerError {
    pub args: String,
    pub message: String,
}

impl DockerError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        "docker"
    }
}

fn docker(args: &[&str]) -> Result<String, DockerError> {
    let err = |message: String| DockerError {
        args: args.join(" "),
        message,
    };
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `args` inside `container` (`docker exec`); its standard output.
pub fn exec(container: &str, args: &[&str]) -> Result<String, DockerError> {
    let mut all = vec!["exec", container];
    all.extend_from_slice(args);
    docker(&all)
}

/// Whether a Docker engine answers here.
pub fn available() -> bool {
    docker(&["version", "--format", "{{.Server.APIVersion}}"]).is_ok()
}

/// Whether `image` (`name:tag`) is present locally (nothing can be pulled on these machines).
pub fn image_present(image: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_ok()
}

/// A user-defined bridge network, removed on drop (after the containers on it are gone).
#[derive(Debug)]
pub struct Network {
    pub name: String,
    pub gateway: IpAddr,
}

impl Network {
    /// Creates network `name` and reads its gateway address.
    pub fn create(name: &str) -> Result<Network, DockerError> {
        docker(&["network", "create", "--driver", "bridge", name])?;
        let gateway = docker(&[
            "network",
            "inspect",
            "--format",
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
            name,
        ])
        .and_then(|text| {
            text.parse().map_err(|_| DockerError {
                args: format!("network inspect {name}"),
                message: format!("no gateway address in {text:?}"),
            })
        });
        match gateway {
            Ok(gateway) => Ok(Network {
                name: name.to_string(),
                gateway,
            }),
            Err(e) => {
                let _ = docker(&["network", "rm", name]);
                Err(e)
            }
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Containers still attached (a failed test keeps them until testcontainers removes them)
        // make this fail; their own removal then leaves an empty network, cleaned by the next line
        // of defence: `docker network prune` in the lane recipe.
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// Disconnects `container` from `network` (its name stops resolving; connections fail).
pub fn network_disconnect(network: &str, container: &str) -> Result<(), DockerError> {
    docker(&["network", "disconnect", "--force", network, container]).map(|_| ())
}

/// Connects `container` to `network` again, under its name.
pub fn network_connect(network: &str, container: &str) -> Result<(), DockerError> {
    docker(&["network", "connect", network, container]).map(|_| ())
}

/// The last `lines` lines of a container's output (stdout and stderr, every run).
pub fn logs_tail(container: &str, lines: usize) -> String {
    let out = Command::new("docker")
        .args(["logs", "--tail", &lines.to_string(), container])
        .output();
    match out {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("(docker logs failed: {e})"),
    }
}

/// Makes `dir` and its files readable by the images' non-root user (UID 65532).
pub fn make_readable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}
