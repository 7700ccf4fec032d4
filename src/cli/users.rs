//! `ovh-cti users add|list|passwd|disable|enable`: user accounts on the database file, the
//! service running or not (issue 10). This is how the first admin is made; admins make the
//! others in the dashboard too.
//!
//! A password is never a flag (it would stay in the shell's history and be visible to other
//! users in the process list): it is read from standard input — one line — when that is not a
//! terminal (scripts: `echo "$PW" | ovh-cti users add …`), and asked for twice without echo
//! when it is.

use crate::clock::{rfc3339, Clock, SystemClock};
use crate::normalise::phone;
use crate::store::users::{self, AddError, LoginName, Role, User};
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub action: UsersAction,
    #[command(flatten)]
    pub database: super::DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Add a user to the installation's organisation (the database is created if missing, so
    /// the first admin can be made before the first start). The password is read from
    /// standard input.
    Add {
        /// The login name: letters, digits, '.', '-', '_', '@'; unique whatever its case.
        #[arg(value_name = "NAME")]
        name: String,
        /// admin, supervisor, agent or viewer.
        #[arg(long, value_name = "ROLE", value_parser = parse_role)]
        role: Role,
        /// An agent's line (repeatable), as OVH writes it or in any usual form.
        #[arg(long = "line", value_name = "NUMBER")]
        lines: Vec<String>,
        /// A queue an agent answers for (repeatable): they see its callers and journal.
        #[arg(long = "queue", value_name = "NUMBER")]
        queues: Vec<String>,
    },
    /// Every user: login, role, lines, state (never a password or its hash).
    List,
    /// Set a user's password (read from standard input); their sessions end.
    Passwd {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Stop a user from signing in; their sessions end.
    Disable {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        #[arg(value_name = "NAME")]
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("expected one of {}", users::ROLES.join(", ")))
}

/// Runs the command on the database at `db`; the text to print, or the one-line reason.
pub fn run(action: UsersAction, db: &Path) -> anyhow::Result<String> {
    let creates = matches!(action, UsersAction::Add { .. });
    if !creates && !crate::store::Location::is_postgres(db) && !db.exists() {
        anyhow::bail!(
            "no database at {}: give --db (or OVH_CTI_DB) the service's database file",
            db.display()
        );
    }
    // Opened as the service opens it: created and migrated.
    let conn = crate::store::open(db)?.0.into_conn();
    let now = SystemClock.now();
    let named = |name: &str| -> anyhow::Result<User> {
        users::by_login(&conn, name)?
            .map(|(u, _)| u)
            .ok_or_else(|| anyhow::anyhow!("no user {name:?}: see `ovh-cti users list`"))
    };
    Ok(match action {
        UsersAction::Add {
            name,
            role,
            lines,
            queues,
        } => {
            let login = LoginName::parse(&name).map_err(anyhow::Error::msg)?;
            if role != Role::Agent && !(lines.is_empty() && queues.is_empty()) {
                anyhow::bail!(
                    "--line and --queue are for agents: the other roles see every number"
                );
            }
            if role == Role::Agent && lines.is_empty() {
                anyhow::bail!("an agent needs at least one --line NUMBER: the lines they answer");
            }
            let numbers = users::Numbers {
                lines: lines.iter().map(|l| phone::ovh_form(l)).collect(),
                queues: queues.iter().map(|q| phone::ovh_form(q)).collect(),
            };
            let password = read_password()?;
            let hash = crate::password::hash(&password);
            let org = users::installation_org(&conn, now)?;
            let user = users::add(&conn, org, &login, &hash, role, &numbers, now).map_err(
                |e| match e {
                    AddError::Taken(n) => anyhow::anyhow!(
                        "the login name {n:?} is taken: choose another, or `ovh-cti users passwd {n}`"
                    ),
                    AddError::Store(e) => e.into(),
                },
            )?;
            format!("added {} ({})", user.login, user.role.as_str())
        }
        UsersAction::List => table(&users::list(&conn, None)?),
        UsersAction::Passwd { name } => {
            let user = named(&name)?;
            let password = read_password()?;
            users::set_password(&conn, user.id, &crate::password::hash(&password))?;
            end_sessions(&conn, user.id)?;
            format!(
                "the password of {} is changed; their sessions ended",
                user.login
            )
        }
        UsersAction::Disable { name } => {
            let user = named(&name)?;
            users::set_disabled(&conn, user.id, Some(now))?;
            end_sessions(&conn, user.id)?;
            format!("{} is disabled; their sessions ended", user.login)
        }
        UsersAction::Enable { name } => {
            let user = named(&name)?;
            users::set_disabled(&conn, user.id, None)?;
            format!("{} may sign in again", user.login)
        }
    })
}

/// Ends a user's sessions (a running service notices within a minute at most: its session
/// cache re-checks the database).
fn end_sessions(conn: &crate::store::db::Conn, user: i64) -> anyhow::Result<()> {
    conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1",
        crate::store::db::params![user],
    )?;
    Ok(())
}

/// The new password: one line of standard input, or typed twice at a terminal without echo.
fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ: nothing was changed");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(crate::password::MAX_BYTES as u64 + 2)
            .read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    crate::password::check(&password).map_err(anyhow::Error::msg)?;
    Ok(password)
}

fn table(users: &[User]) -> String {
    if users.is_empty() {
        return "no users yet: `ovh-cti users add NAME --role admin` makes the first".into();
    }
    let mut out = format!(
        "{:<24} {:<10} {:<28} {}\n",
        "LOGIN", "ROLE", "LINES, QUEUES", "STATE"
    );
    for u in users {
        let state = match u.disabled_at {
            Some(at) => format!("disabled {}", rfc3339(at)),
            None => "active".into(),
        };
        let numbers = [u.lines.join(","), u.queues.join(",")]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let lines = if numbers.is_empty() {
            "—".to_string()
        } else {
            numbers
        };
        out.push_str(&format!(
            "{:<24} {:<10} {:<28} {}\n",
            u.login,
            u.role.as_str(),
            lines,
            state
        ));
    }
    out.trim_end().to_string()
}
