//! A server's connection to each hosts database, and Kea's reaction to losing it
//! (`on-fail`, `max-reconnect-tries`, `reconnect-wait-time`), as measured on Kea 3.0.4 with
//! PostgreSQL 15:
//!
//! - the first query after the database went away answers result 1 "fatal database error or
//!   connectivity lost";
//! - with the default settings (no reconnect tries) Kea then exits;
//! - with reconnect tries it keeps answering without the database: reads miss, writes to the
//!   database fail with "Host database not available, cannot add host.", and with
//!   `stop-retry-exit` the DHCP service is disabled (`status-get` lists the connection in
//!   `disabled-by-db-connection`);
//! - once the tries are used up, the `*-exit` modes exit; `serve-retry-continue` carries on.

use std::sync::Arc;
use std::time::Instant;

use super::Node;
use crate::commands::CmdError;
use crate::config::OnFail;
use crate::store::HostDb;

/// Kea's text for the first failed query.
pub const FATAL_DB_ERROR: &str = "fatal database error or connectivity lost";

/// State of one database connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbConn {
    /// Usable.
    Connected,
    /// Lost at `since`; Kea is retrying.
    Lost {
        /// When the loss was noticed.
        since: Instant,
    },
}

/// The databases usable now; see the module documentation for the failure sequence.
pub fn alternate_sources(
    node: &Node,
    cfg: &crate::config::ServerConfig,
) -> Result<Vec<Arc<HostDb>>, CmdError> {
    let dbs = node.databases();
    let mut conns = node.db_conn();
    if conns.len() != dbs.len() {
        conns.resize(dbs.len(), DbConn::Connected);
    }
    let mut usable = Vec::with_capacity(dbs.len());
    let mut fatal = false;
    for (i, db) in dbs.iter().enumerate() {
        let dbcfg = cfg.hosts_databases.get(i);
        match (db.outage(), conns[i]) {
            (None, _) => {
                conns[i] = DbConn::Connected;
                usable.push(db.clone());
            }
            (Some(_), DbConn::Connected) => {
                conns[i] = DbConn::Lost {
                    since: Instant::now(),
                };
                fatal = true;
                if dbcfg.is_none_or(|c| c.max_reconnect_tries == 0) {
                    node.request_exit();
                }
            }
            (Some(_), DbConn::Lost { since }) => {
                if let Some(c) = dbcfg {
                    let budget = u128::from(c.max_reconnect_tries) * u128::from(c.reconnect_wait_time_ms);
                    if since.elapsed().as_millis() > budget && c.on_fail != OnFail::ServeRetryContinue {
                        node.request_exit();
                    }
                }
            }
        }
    }
    if fatal {
        return Err(CmdError::error(FATAL_DB_ERROR));
    }
    Ok(usable)
}

/// Connection ids listed in `status-get` `dhcp-state.disabled-by-db-connection`: lost
/// connections of databases whose `on-fail` stops the DHCP service.
pub fn disabled_by_db(node: &Node, cfg: &crate::config::ServerConfig) -> Vec<i64> {
    let dbs = node.databases();
    let conns = node.db_conn();
    let mut out = Vec::new();
    for (i, c) in conns.iter().enumerate() {
        let still_out = dbs.get(i).is_some_and(|d| d.outage().is_some());
        if matches!(c, DbConn::Lost { .. })
            && still_out
            && cfg
                .hosts_databases
                .get(i)
                .is_some_and(|d| d.on_fail == OnFail::StopRetryExit)
        {
            out.push(6012 + i as i64);
        }
    }
    out
}

/// How many hosts databases Kea still has (configured, and not known to be lost). Unlike
/// [`alternate_sources`] this has no side effect: it is what `getHostDataSource()` answers.
pub fn present_count(node: &Node, _cfg: &crate::config::ServerConfig) -> usize {
    let dbs = node.databases();
    let conns = node.db_conn();
    dbs.iter()
        .enumerate()
        .filter(|(i, d)| d.outage().is_none() || conns.get(*i).is_none_or(|c| *c == DbConn::Connected))
        .count()
}
