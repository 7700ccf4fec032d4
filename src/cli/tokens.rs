//! `ovh-cti tokens list|pause|resume|remove`: the operator's hand on the followed tokens,
//! working on the database file — whether the service runs or not. A running service reads
//! the token table every two seconds and follows suit (see `service::Service::reconcile`); a
//! stopped one finds the change at its next start.
//!
//! Tokens are named by the id `list` shows (a one-way digest, safe to paste in a ticket) or
//! by the token itself; nothing printed ever shows a token, only its first four characters.

use crate::clock::{rfc3339, Clock, SystemClock};
use crate::store::tokens::{self, State, TokenRow};
use crate::token::TokenId;
use clap::{Args, Subcommand};
use std::path::Path;

#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub action: TokensAction,
    #[command(flatten)]
    pub database: super::DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokensAction {
    /// Every token: id, hint, where it comes from, state, last successful poll (never the token).
    List,
    /// Stop polling a token; its users can still sign in and read what is stored.
    Pause {
        /// The token's id (as `list` shows it) or the token itself.
        #[arg(value_name = "ID")]
        token: String,
    },
    /// Poll a paused token again.
    Resume {
        /// The token's id (as `list` shows it) or the token itself.
        #[arg(value_name = "ID")]
        token: String,
    },
    /// Forget a token: its secret, sessions and live board go; its stored history stays
    /// unless --purge.
    Remove {
        /// The token's id (as `list` shows it) or the token itself.
        #[arg(value_name = "ID")]
        token: String,
        /// Also delete its stored history: events, calls, queue journal, settings, webhooks.
        #[arg(long, env = "OVH_CTI_PURGE")]
        purge: bool,
    },
}

/// Runs the command on the database at `db`; the text to print, or the one-line reason.
pub fn run(action: TokensAction, db: &Path) -> anyhow::Result<String> {
    if !db.exists() {
        anyhow::bail!(
            "no database at {}: give --db (or OVH_CTI_DB) the service's database file",
            db.display()
        );
    }
    // Opened as the service opens it (migrated, so that the state columns exist).
    let (writer, _) = crate::store::open(db)?;
    drop(writer);
    let mut conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let now = SystemClock.now();
    let named = |conn: &rusqlite::Connection, named: &str| -> anyhow::Result<TokenRow> {
        let id = tokens::resolve(conn, named)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no such token in {}: see `ovh-cti tokens list`",
                db.display()
            )
        })?;
        row(conn, &id)
    };
    const LATER: &str = "a running service follows suit within a few seconds";
    Ok(match action {
        TokensAction::List => table(&tokens::list(&conn)?),
        TokensAction::Pause { token } => {
            let row = named(&conn, &token)?;
            refuse_removed(&row)?;
            tokens::pause(&conn, &row.id, now, "paused by an operator")?;
            format!("paused {} ({}); {LATER}", row.hint, row.id)
        }
        TokensAction::Resume { token } => {
            let row = named(&conn, &token)?;
            refuse_removed(&row)?;
            tokens::resume(&conn, &row.id)?;
            format!("resumed {} ({}); {LATER}", row.hint, row.id)
        }
        TokensAction::Remove { token, purge } => {
            let row = named(&conn, &token)?;
            tokens::mark_removed(&mut conn, &row.id, purge, now)?;
            let history = if purge {
                "its stored history is deleted"
            } else {
                "its stored history is kept (--purge deletes it)"
            };
            let mut out = format!(
                "removed {} ({}): its secret, sessions and board are gone, {history}; {LATER}",
                row.hint, row.id
            );
            if row.source == "config" {
                out.push_str(
                    "\nnote: it is in the service's configuration (--token, OVH_CTI_TOKENS or \
                     the config file) and comes back at the next start unless removed there",
                );
            }
            out
        }
    })
}

fn row(conn: &rusqlite::Connection, id: &TokenId) -> anyhow::Result<TokenRow> {
    tokens::list(conn)?
        .into_iter()
        .find(|r| r.id == *id)
        .ok_or_else(|| anyhow::anyhow!("the token {id} vanished meanwhile"))
}

fn refuse_removed(row: &TokenRow) -> anyhow::Result<()> {
    if row.state == State::Removed {
        anyhow::bail!("the token {} is being removed", row.id);
    }
    Ok(())
}

/// The rows as a table, one line each, times in RFC 3339 (UTC).
fn table(rows: &[TokenRow]) -> String {
    let time = |t: Option<f64>| t.map_or_else(|| "never".to_string(), rfc3339);
    let mut lines = vec![[
        "ID".to_string(),
        "HINT".into(),
        "SOURCE".into(),
        "STATE".into(),
        "LAST SUCCESS".into(),
        "NOTE".into(),
    ]];
    for r in rows {
        let note = match (r.state, r.refused_since) {
            (State::Paused | State::Removed, _) => r.state_reason.clone().unwrap_or_default(),
            (State::Active, Some(since)) => format!("OVH refuses it since {}", rfc3339(since)),
            (State::Active, None) => String::new(),
        };
        lines.push([
            r.id.to_string(),
            r.hint.clone(),
            r.source.clone(),
            r.state.as_str().to_string(),
            time(r.last_success_at),
            note,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines
        .iter()
        .map(|l| {
            l.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
