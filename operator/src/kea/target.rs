//! Where a host command acts on a server: Kea's `"operation-target"` (SPEC §2, §4).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The `"operation-target"` of a host command.
///
/// Measured on Kea 3.0.4 (SPEC §4): `memory` and `database` act on one source; `all` writes memory
/// first and keeps it even when the database part fails, so it is not atomic; with no target (our
/// [`OperationTarget::Default`]) writes go to the database and fail without one (`Host database not
/// available`), and reads search memory then the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationTarget {
    Memory,
    Database,
    All,
    /// Send no `operation-target`: Kea decides.
    Default,
}

impl OperationTarget {
    /// The value sent in `"operation-target"`, or `None` to leave the field out.
    pub fn wire(self) -> Option<&'static str> {
        match self {
            OperationTarget::Memory => Some("memory"),
            OperationTarget::Database => Some("database"),
            OperationTarget::All => Some("all"),
            OperationTarget::Default => None,
        }
    }

    /// Bounded name for logs, metrics and the `check` report.
    pub fn as_str(self) -> &'static str {
        self.wire().unwrap_or("default")
    }
}

impl fmt::Display for OperationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `KEA_OPERATION_TARGET`: `auto` resolves per server (and again after a restart) from what the
/// server's configuration shows; anything else forces one target on every server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSetting {
    Auto,
    Fixed(OperationTarget),
}

impl TargetSetting {
    /// `auto` → `database` when the server has a hosts database (`hosts-database(s)` in `config-get`),
    /// else `memory`: writing to memory on a database server would be lost at its restart, and the
    /// default target on a memory-only server fails (SPEC §4).
    pub fn resolve(self, has_hosts_database: bool) -> OperationTarget {
        match self {
            TargetSetting::Fixed(target) => target,
            TargetSetting::Auto if has_hosts_database => OperationTarget::Database,
            TargetSetting::Auto => OperationTarget::Memory,
        }
    }
}

impl FromStr for TargetSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(TargetSetting::Auto),
            "memory" => Ok(TargetSetting::Fixed(OperationTarget::Memory)),
            "database" => Ok(TargetSetting::Fixed(OperationTarget::Database)),
            "all" => Ok(TargetSetting::Fixed(OperationTarget::All)),
            "default" => Ok(TargetSetting::Fixed(OperationTarget::Default)),
            _ => Err("expected one of auto, memory, database, all, default".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_resolves_from_the_hosts_database() {
        assert_eq!(TargetSetting::Auto.resolve(true), OperationTarget::Database);
        assert_eq!(TargetSetting::Auto.resolve(false), OperationTarget::Memory);
        let forced = TargetSetting::Fixed(OperationTarget::All);
        assert_eq!(forced.resolve(false), OperationTarget::All);
    }

    #[test]
    fn parses_the_documented_values_only() {
        assert_eq!("AUTO".parse::<TargetSetting>().unwrap(), TargetSetting::Auto);
        assert_eq!(
            "default".parse::<TargetSetting>().unwrap(),
            TargetSetting::Fixed(OperationTarget::Default)
        );
        assert!("disk".parse::<TargetSetting>().is_err());
        assert_eq!(OperationTarget::Default.wire(), None);
        assert_eq!(OperationTarget::Database.wire(), Some("database"));
    }
}
