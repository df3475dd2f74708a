//! Free loopback ports that no other test process can be handed at the same time.
//!
//! Binding port 0 and closing the socket is racy across the separate processes nextest runs: two
//! tests can be told the same port before either server binds it. Here a port is only handed out
//! while its lock file (under the system temp dir) is held with an exclusive advisory lock by the
//! process that asked, and only if it can be bound right now. The kernel drops the lock when the
//! process dies, so a killed test never leaks a reservation. The range sits below Linux's ephemeral
//! range (32768+) so outgoing connections never take these ports either.

use std::fs::{File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::PathBuf;

use rand::Rng;
use rustix::fs::{FlockOperation, flock};

/// First port of the range the allocator hands out.
pub const RANGE_START: u16 = 20000;
/// One past the last port of the range.
pub const RANGE_END: u16 = 32000;

/// Why no port could be reserved.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("cannot create the port lock directory {path}: {source}")]
    LockDir { path: PathBuf, source: std::io::Error },
    #[error("no free loopback port in {RANGE_START}..{RANGE_END} after {tries} tries")]
    Exhausted { tries: u32 },
}

impl PortError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            PortError::LockDir { .. } => "lock-dir",
            PortError::Exhausted { .. } => "exhausted",
        }
    }
}

/// A loopback TCP port reserved for this process until dropped.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    // Held open for the exclusive advisory lock; released on drop or process exit.
    _lock: File,
}

impl PortLease {
    /// The reserved port number.
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("testenv-ports")
}

/// Reserves a free port on 127.0.0.1 (see the module docs for the guarantee).
pub fn free_port() -> Result<PortLease, PortError> {
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).map_err(|source| PortError::LockDir {
        path: dir.clone(),
        source,
    })?;
    let mut rng = rand::rng();
    const TRIES: u32 = 500;
    for _ in 0..TRIES {
        let port = rng.random_range(RANGE_START..RANGE_END);
        let Ok(lock) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        if flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        if TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(PortLease { port, _lock: lock });
        }
    }
    Err(PortError::Exhausted { tries: TRIES })
}

/// Reserves `n` distinct free ports.
pub fn free_ports(n: usize) -> Result<Vec<PortLease>, PortError> {
    (0..n).map(|_| free_port()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leased_ports_are_distinct_and_bindable() {
        let leases = free_ports(20).expect("ports");
        let mut ports: Vec<u16> = leases.iter().map(PortLease::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 20);
        for p in &ports {
            assert!((RANGE_START..RANGE_END).contains(p));
            TcpListener::bind(("127.0.0.1", *p)).expect("leased port is bindable");
        }
    }

    #[test]
    fn a_held_lease_blocks_a_second_lock_on_the_same_port() {
        let lease = free_port().expect("port");
        let again = OpenOptions::new()
            .write(true)
            .open(lock_dir().join(lease.port().to_string()))
            .expect("lock file exists");
        // flock locks belong to the open file description: a second open of the same file conflicts.
        assert!(flock(&again, FlockOperation::NonBlockingLockExclusive).is_err());
        drop(lease);
        assert!(flock(&again, FlockOperation::NonBlockingLockExclusive).is_ok());
    }
}
