//! `ovh-cti tokens list|add|disable|enable|remove`: the operator's hand on the followed
//! tokens, working on the database file — whether the service runs or not. A running service
//! notices within a second (it reads the table's change counter twice a second, see
//! `service::Service::reconcile`) and follows suit; a stopped one finds the change at its next
//! start. The admin API (`/api/admin/tokens`) does the same over HTTP.
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
    /// Follow a token from now on, without a restart: read from standard input when TOKEN is
    /// `-` (kept out of the shell's history and the process list). It is its own organisation,
    /// as one typed at the login page.
    Add {
        /// The OVH event token, or `-` to read it from standard input.
        #[arg(value_name = "TOKEN")]
        token: String,
    },
    /// Stop polling a token; its users can still sign in and read what is stored.
    #[command(visible_alias = "pause")]
    Disable {
        /// The token's id (as `list` shows it) or the token itself.
        #[arg(value_name = "ID")]
        token: String,
    },
    /// Poll a disabled token again.
    #[command(visible_alias = "resume")]
    Enable {
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
    if !crate::store::Location::is_postgres(db) && !db.exists() {
        anyhow::bail!(
            "no database at {}: give --db (or OVH_CTI_DB) the service's database file",
            db.display()
        );
    }
    // Opened as the service opens it (migrated, so that the state columns exist).
    let mut conn = crate::store::open(db)?.0.into_conn();
    let now = SystemClock.now();
    let named = |conn: &crate::store::db::Conn, named: &str| -> anyhow::Result<TokenRow> {
        let id = tokens::resolve(conn, named)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no such token in {}: see `ovh-cti tokens list`",
                crate::store::describe(db)
            )
        })?;
        row(conn, &id)
    };
    const LATER: &str = "a running service follows suit within a second";
    Ok(match action {
        TokensAction::List => table(&tokens::list(&conn)?),
        TokensAction::Add { token } => {
            let token = read_token(&token)?;
            let (id, hint) = (token.id(), token.hint());
            match tokens::add(&conn, &token, crate::service::OPERATOR, now)? {
                tokens::Added::New => format!("added {hint} ({id}); {LATER}"),
                tokens::Added::Known(State::Active) => {
                    format!("{hint} ({id}) is followed already")
                }
                tokens::Added::Known(State::Paused) => format!(
                    "{hint} ({id}) is known and disabled: `ovh-cti tokens enable {id}` follows it again"
                ),
                tokens::Added::Known(State::Removed) => anyhow::bail!(
                    "{hint} ({id}) is being removed: try again in a few seconds"
                ),
            }
        }
        TokensAction::Disable { token } => {
            let row = named(&conn, &token)?;
            refuse_removed(&row)?;
            tokens::pause(&conn, &row.id, now, "disabled by an operator")?;
            format!("disabled {} ({}); {LATER}", row.hint, row.id)
        }
        TokensAction::Enable { token } => {
            let row = named(&conn, &token)?;
            refuse_removed(&row)?;
            tokens::resume(&conn, &row.id)?;
            format!("enabled {} ({}); {LATER}", row.hint, row.id)
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

/// The token given, or read from standard input (one line) when `-`. The error never repeats
/// what was typed.
fn read_token(given: &str) -> anyhow::Result<crate::token::Token> {
    let mut line = given.to_string();
    if given == "-" {
        line.clear();
        std::io::stdin().read_line(&mut line)?;
    }
    crate::token::Token::parse(line.trim())
        .map_err(|e| anyhow::anyhow!("not an OVH event token: {e}"))
}

fn row(conn: &crate::store::db::Conn, id: &TokenId) -> anyhow::Result<TokenRow> {
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
