//! People and organisations as rows (issue 10): an organisation is the set of OVH tokens an
//! admin attached; every user belongs to one, with a role and, for an agent, their lines.
//!
//! Plain functions on a `Conn`, shared by the running service (through its one writer)
//! and the `ovh-cti users` command (on the database file). Passwords are stored as argon2id
//! PHC strings only (`crate::password`); a login name is unique across the installation
//! whatever its case, so that a login page never needs to know the organisation.

use super::StoreError;
use crate::clock::UnixTime;
use crate::store::db::{params, Conn, OptionalExtension};
use crate::token::TokenId;
use serde::Serialize;

/// What a user may do. Checked on the server for every route and every stream message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only: every line and queue of the organisation.
    Viewer,
    /// Their own line(s) and the queues they answer for.
    Agent,
    /// Every line and queue; reset, callbacks done.
    Supervisor,
    /// Everything of the organisation: tokens, screen pop, webhooks, users.
    Admin,
}

pub const ROLES: &[&str] = &["admin", "supervisor", "agent", "viewer"];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "agent" => Some(Role::Agent),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A login name: 1 to 64 letters, digits and `.`, `-`, `_`, `@` (an e-mail address fits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginName(String);

pub const LOGIN_CHARS: usize = 64;

impl LoginName {
    pub fn parse(raw: &str) -> Result<LoginName, String> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > LOGIN_CHARS {
            return Err(format!("a login name has 1 to {LOGIN_CHARS} characters"));
        }
        if !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        {
            return Err("a login name has letters, digits, '.', '-', '_' and '@' only".into());
        }
        Ok(LoginName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One user, without the password hash.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub org_id: i64,
    pub login: String,
    pub role: Role,
    /// An agent's lines (OVH numbers); empty for the other roles.
    pub lines: Vec<String>,
    /// The queues an agent answers for; empty for the other roles.
    pub queues: Vec<String>,
    /// Whether signing in asks for a code from an authenticator app as well.
    pub totp: bool,
    #[serde(serialize_with = "crate::clock::as_rfc3339::option::serialize")]
    pub disabled_at: Option<UnixTime>,
    #[serde(serialize_with = "crate::clock::as_rfc3339::serialize")]
    pub created_at: UnixTime,
}

const USER_COLUMNS: &str =
    "id, org_id, login, role, lines, queues, disabled_at, created_at, totp_secret IS NOT NULL";

fn user(r: &crate::store::db::Row) -> crate::store::db::Result<User> {
    let list = |i: usize| -> crate::store::db::Result<Vec<String>> {
        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
    };
    Ok(User {
        id: r.get(0)?,
        org_id: r.get(1)?,
        login: r.get(2)?,
        role: Role::parse(&r.get::<_, String>(3)?).unwrap_or(Role::Viewer),
        lines: list(4)?,
        queues: list(5)?,
        disabled_at: r.get(6)?,
        created_at: r.get(7)?,
        totp: r.get(8)?,
    })
}

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("the login name {0:?} is taken")]
    Taken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The installation's own organisation — the one the `ovh-cti users` command and the tokens
/// of the service's configuration belong to — created on first use.
pub fn installation_org(conn: &Conn, now: UnixTime) -> Result<i64, StoreError> {
    if let Some(id) = installation_org_id(conn)? {
        return Ok(id);
    }
    Ok(conn.query_row(
        "INSERT INTO orgs (name, token_login, created_at) VALUES ('ovh-cti', 1, ?1) RETURNING id",
        params![now],
        |r| r.get(0),
    )?)
}

/// The installation's organisation (the first made), if there is one yet.
pub fn installation_org_id(conn: &Conn) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row("SELECT id FROM orgs ORDER BY id LIMIT 1", (), |r| r.get(0))
        .optional()?)
}

/// Puts configured tokens in the installation's organisation, in one transaction.
pub fn attach_to_installation(
    w: &mut super::Writer,
    tokens: &[TokenId],
    now: UnixTime,
) -> Result<(), StoreError> {
    let tx = w.connection_mut().transaction()?;
    let org = installation_org(&tx, now)?;
    for id in tokens {
        attach_token(&tx, org, id)?;
    }
    tx.commit()?;
    Ok(())
}

/// The organisation a token belongs to, if any.
pub fn org_of_token(conn: &Conn, token: &TokenId) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT org_id FROM org_tokens WHERE token_id = ?1",
            params![token.as_str()],
            |r| r.get(0),
        )
        .optional()?)
}

/// Attaches a token to an organisation (a token belongs to one: attaching it elsewhere moves
/// it).
pub fn attach_token(conn: &Conn, org: i64, token: &TokenId) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO org_tokens (token_id, org_id) VALUES (?1, ?2)
         ON CONFLICT (token_id) DO UPDATE SET org_id = excluded.org_id",
        params![token.as_str(), org],
    )?;
    Ok(())
}

/// The tokens of an organisation, oldest attached first.
pub fn org_tokens(conn: &Conn, org: i64) -> Result<Vec<TokenId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.token_id FROM org_tokens o JOIN tokens t ON t.id = o.token_id
         WHERE o.org_id = ?1 AND t.state != 'removed' ORDER BY t.added_at, o.token_id",
    )?;
    let rows = stmt.query_map(params![org], |r| r.get::<_, String>(0))?;
    Ok(rows
        .map(|r| r.map(TokenId::from_stored))
        .collect::<Result<_, _>>()?)
}

/// What a new user is: their role and, for an agent, the lines and queues they answer for.
#[derive(Clone, Debug, Default)]
pub struct Numbers {
    pub lines: Vec<String>,
    pub queues: Vec<String>,
}

pub fn add(
    conn: &Conn,
    org: i64,
    login: &LoginName,
    password_hash: &str,
    role: Role,
    numbers: &Numbers,
    now: UnixTime,
) -> Result<User, AddError> {
    let none = Numbers::default();
    let numbers = if role == Role::Agent { numbers } else { &none };
    let json = |l: &[String]| serde_json::to_string(l).unwrap_or_else(|_| "[]".into());
    let inserted: Option<i64> = conn
        .query_row(
            "INSERT INTO users (org_id, login, password_hash, role, lines, queues, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING RETURNING id",
            params![
                org,
                login.as_str(),
                password_hash,
                role.as_str(),
                json(&numbers.lines),
                json(&numbers.queues),
                now
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(StoreError::from)?;
    let Some(id) = inserted else {
        return Err(AddError::Taken(login.as_str().to_string()));
    };
    Ok(by_id(conn, id)?.expect("the row just inserted"))
}

/// How many users an organisation has.
pub fn count(conn: &Conn, org: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users WHERE org_id = ?1",
        params![org],
        |r| r.get(0),
    )?)
}

pub fn by_id(conn: &Conn, id: i64) -> Result<Option<User>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
            params![id],
            user,
        )
        .optional()?)
}

/// A user by login name (any case), with the password hash to check.
pub fn by_login(conn: &Conn, login: &str) -> Result<Option<(User, String)>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(login) = lower(?1)"
            ),
            params![login.trim()],
            |r| Ok((user(r)?, r.get::<_, String>(9)?)),
        )
        .optional()?)
}

/// Every user of an organisation (`None`: of every organisation), by login.
pub fn list(conn: &Conn, org: Option<i64>) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE org_id = ?1 OR ?1 IS NULL ORDER BY lower(login), id"
    ))?;
    let rows = stmt.query_map(params![org], user)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces a user's password hash; false when there is no such user.
pub fn set_password(conn: &Conn, id: i64, password_hash: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, password_hash],
    )? > 0)
}

/// Disables (`Some(now)`) or enables (`None`) a user; false when there is no such user.
pub fn set_disabled(
    conn: &Conn,
    id: i64,
    disabled_at: Option<UnixTime>,
) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
        params![id, disabled_at],
    )? > 0)
}

/// The organisation of a token, created (once) for a token that has none: a token typed at
/// the login page starts its own, of which it is the admin.
pub fn org_for(conn: &Conn, token: &TokenId, now: UnixTime) -> Result<i64, StoreError> {
    if let Some(org) = org_of_token(conn, token)? {
        return Ok(org);
    }
    let org: i64 = conn.query_row(
        "INSERT INTO orgs (name, token_login, created_at) VALUES ('ovh-cti', 1, ?1) RETURNING id",
        params![now],
        |r| r.get(0),
    )?;
    attach_token(conn, org, token)?;
    Ok(org)
}

/// A change to a user: each part given is applied.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub role: Option<Role>,
    pub numbers: Option<Numbers>,
    pub disabled: Option<bool>,
    /// Turns the user's second factor off (they lost the phone it was on).
    pub clear_totp: bool,
}

/// Applies `change` to a user of `org`; the user as now stored, or `None` when there is no
/// such user in that organisation.
pub fn update(
    conn: &Conn,
    org: i64,
    id: i64,
    change: &Change,
    now: UnixTime,
) -> Result<Option<User>, StoreError> {
    let Some(user) = by_id(conn, id)?.filter(|u| u.org_id == org) else {
        return Ok(None);
    };
    let role = change.role.unwrap_or(user.role);
    let numbers = match (&change.numbers, role) {
        (_, r) if r != Role::Agent => Numbers::default(),
        (Some(n), _) => n.clone(),
        (None, _) => Numbers {
            lines: user.lines.clone(),
            queues: user.queues.clone(),
        },
    };
    let disabled_at = match change.disabled {
        Some(true) => user.disabled_at.or(Some(now)),
        Some(false) => None,
        None => user.disabled_at,
    };
    let json = |l: &[String]| serde_json::to_string(l).unwrap_or_else(|_| "[]".into());
    if change.clear_totp {
        set_totp(conn, id, Some(None), Some(None), None)?;
    }
    conn.execute(
        "UPDATE users SET role = ?2, lines = ?3, queues = ?4, disabled_at = ?5 WHERE id = ?1",
        params![
            id,
            role.as_str(),
            json(&numbers.lines),
            json(&numbers.queues),
            disabled_at
        ],
    )?;
    by_id(conn, id)
}

/// Deletes a user of `org` (their sessions go with them); false when there is none.
pub fn delete(conn: &Conn, org: i64, id: i64) -> Result<bool, StoreError> {
    conn.execute("DELETE FROM sessions WHERE user_id = ?1 AND user_id IN (SELECT id FROM users WHERE org_id = ?2)", params![id, org])?;
    Ok(conn.execute(
        "DELETE FROM users WHERE id = ?1 AND org_id = ?2",
        params![id, org],
    )? > 0)
}

/// A user's live session, as admins see it (its key is the SHA-256 of the cookie, not the
/// cookie).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub user: String,
    #[serde(serialize_with = "crate::clock::as_rfc3339::serialize")]
    pub created_at: UnixTime,
    #[serde(serialize_with = "crate::clock::as_rfc3339::serialize")]
    pub expires_at: UnixTime,
}

/// The live sessions of an organisation's users (`user`: one user's only), newest first.
pub fn sessions(
    conn: &Conn,
    org: i64,
    user: Option<i64>,
    now: UnixTime,
) -> Result<Vec<SessionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id_hash, u.login, s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE u.org_id = ?1 AND (u.id = ?2 OR ?2 IS NULL) AND s.expires_at > ?3
         ORDER BY s.created_at DESC",
    )?;
    let rows = stmt.query_map(params![org, user, now], |r| {
        Ok(SessionRow {
            id: r.get(0)?,
            user: r.get(1)?,
            created_at: r.get(2)?,
            expires_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ends sessions of an organisation's users: one (`key`) or all of one user's; the keys
/// ended, so that their live streams can be closed.
pub fn end_sessions(
    conn: &Conn,
    org: i64,
    user: Option<i64>,
    key: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM sessions WHERE (id_hash = ?3 OR ?3 IS NULL) AND (user_id = ?2 OR ?2 IS NULL)
         AND user_id IN (SELECT id FROM users WHERE org_id = ?1) RETURNING id_hash",
    )?;
    let rows = stmt.query_map(params![org, user, key], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A user's second factor: the active secret, the one being set up, the last step used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totp {
    pub secret: Option<String>,
    pub pending: Option<String>,
    pub step: Option<i64>,
}

pub fn totp(conn: &Conn, id: i64) -> Result<Totp, StoreError> {
    Ok(conn
        .query_row(
            "SELECT totp_secret, totp_pending, totp_step FROM users WHERE id = ?1",
            params![id],
            |r| {
                Ok(Totp {
                    secret: r.get(0)?,
                    pending: r.get(1)?,
                    step: r.get(2)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

/// Stores what changed of a user's second factor: `Some(None)` clears a column.
pub fn set_totp(
    conn: &Conn,
    id: i64,
    secret: Option<Option<&str>>,
    pending: Option<Option<&str>>,
    step: Option<i64>,
) -> Result<(), StoreError> {
    if let Some(s) = secret {
        conn.execute(
            "UPDATE users SET totp_secret = ?2 WHERE id = ?1",
            params![id, s],
        )?;
    }
    if let Some(p) = pending {
        conn.execute(
            "UPDATE users SET totp_pending = ?2 WHERE id = ?1",
            params![id, p],
        )?;
    }
    if let Some(s) = step {
        conn.execute(
            "UPDATE users SET totp_step = ?2 WHERE id = ?1",
            params![id, s],
        )?;
    }
    Ok(())
}

/// Whether an organisation is only its token: no users, no wall links, no other token (a
/// token typed at the login page once). Such a token may join another organisation.
pub fn is_bare(conn: &Conn, org: i64) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM users WHERE org_id = ?1)
            AND NOT EXISTS (SELECT 1 FROM wall_links WHERE org_id = ?1)
            AND (SELECT COUNT(*) FROM org_tokens WHERE org_id = ?1) <= 1",
        params![org],
        |r| r.get(0),
    )?)
}

/// Points a user's session at another token of their organisation.
pub fn switch_session(conn: &Conn, key: &str, token: &TokenId) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE sessions SET token_id = ?2 WHERE id_hash = ?1 AND user_id IS NOT NULL",
        params![key, token.as_str()],
    )? > 0)
}

/// An organisation as its admins see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Org {
    pub id: i64,
    pub name: String,
    /// Whether its tokens may sign in (the login page, and as bearer) as its admin.
    pub token_login: bool,
    /// Whether its events and states are published to NATS (`--nats`).
    pub publish_nats: bool,
    /// Whether they are published to MQTT (`--mqtt`).
    pub publish_mqtt: bool,
}

pub fn org(conn: &Conn, id: i64) -> Result<Option<Org>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, name, token_login, publish_nats, publish_mqtt FROM orgs WHERE id = ?1",
            params![id],
            |r| {
                Ok(Org {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    token_login: r.get::<_, i64>(2)? != 0,
                    publish_nats: r.get::<_, i64>(3)? != 0,
                    publish_mqtt: r.get::<_, i64>(4)? != 0,
                })
            },
        )
        .optional()?)
}

/// The column that says whether an organisation publishes to `target`.
fn publish_column(target: crate::publish::Target) -> &'static str {
    match target {
        crate::publish::Target::Nats => "publish_nats",
        crate::publish::Target::Mqtt => "publish_mqtt",
    }
}

/// Turns publishing to `target` on or off for an organisation.
pub fn set_publish(
    conn: &Conn,
    org: i64,
    target: crate::publish::Target,
    on: bool,
) -> Result<(), StoreError> {
    let column = publish_column(target);
    conn.execute(
        &format!("UPDATE orgs SET {column} = ?2 WHERE id = ?1"),
        params![org, on as i64],
    )?;
    Ok(())
}

/// The organisation of `token`, when it publishes to `target`.
pub fn publishing_org(
    conn: &Conn,
    token: &TokenId,
    target: crate::publish::Target,
) -> Result<Option<i64>, StoreError> {
    let column = publish_column(target);
    Ok(conn
        .prepare_cached(&format!(
            "SELECT o.id FROM org_tokens t JOIN orgs o ON o.id = t.org_id
             WHERE t.token_id = ?1 AND o.{column} = 1"
        ))?
        .query_row(params![token.as_str()], |r| r.get(0))
        .optional()?)
}

/// Whether `token` may sign in as its organisation's admin (yes when it has none yet).
pub fn token_login_allowed(conn: &Conn, token: &TokenId) -> Result<bool, StoreError> {
    let token_login: Option<i64> = conn
        .query_row(
            "SELECT o.token_login FROM org_tokens t JOIN orgs o ON o.id = t.org_id WHERE t.token_id = ?1",
            params![token.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    // No organisation yet, or one that allows it.
    Ok(token_login != Some(0))
}

/// Whether the organisation has an admin account that may sign in.
pub fn has_active_admin(conn: &Conn, org: i64) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE org_id = ?1 AND role = 'admin' AND disabled_at IS NULL)",
        params![org],
        |r| r.get(0),
    )?)
}

/// Renames an organisation and turns its token login on or off; turned off, the sessions its
/// tokens opened themselves end (their keys are returned, to close their streams).
pub fn set_org(
    conn: &Conn,
    org: i64,
    name: Option<&str>,
    token_login: Option<bool>,
) -> Result<Vec<String>, StoreError> {
    if let Some(name) = name {
        conn.execute(
            "UPDATE orgs SET name = ?2 WHERE id = ?1",
            params![org, name],
        )?;
    }
    let Some(on) = token_login else {
        return Ok(Vec::new());
    };
    conn.execute(
        "UPDATE orgs SET token_login = ?2 WHERE id = ?1",
        params![org, on as i64],
    )?;
    if on {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "DELETE FROM sessions WHERE user_id IS NULL AND link_id IS NULL
         AND token_id IN (SELECT token_id FROM org_tokens WHERE org_id = ?1) RETURNING id_hash",
    )?;
    let keys = stmt
        .query_map(params![org], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Conn {
        let mut conn = Conn::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn only_an_organisation_that_asked_publishes_and_a_token_without_one_does_not() {
        use crate::publish::Target;
        let conn = db();
        let org = installation_org(&conn, 1.0).unwrap();
        let id = |s: &str| crate::token::Token::parse(s).unwrap().id();
        let (a, b) = (
            id("3F2504E0-4F89-11D3-9A0C-0305E82C3301"),
            id("9B2D5C1E-1C3E-4F5A-8B7C-0D1E2F3A4B5C"),
        );
        attach_token(&conn, org, &a).unwrap();
        assert_eq!(
            publishing_org(&conn, &a, Target::Nats).unwrap(),
            None,
            "off by default"
        );
        set_publish(&conn, org, Target::Nats, true).unwrap();
        assert_eq!(publishing_org(&conn, &a, Target::Nats).unwrap(), Some(org));
        assert!(org_of(&conn, org).publish_nats);
        assert_eq!(
            publishing_org(&conn, &a, Target::Mqtt).unwrap(),
            None,
            "each target its own"
        );
        assert_eq!(
            publishing_org(&conn, &b, Target::Nats).unwrap(),
            None,
            "no organisation yet"
        );
        set_publish(&conn, org, Target::Nats, false).unwrap();
        assert_eq!(publishing_org(&conn, &a, Target::Nats).unwrap(), None);
    }

    fn org_of(conn: &Conn, id: i64) -> Org {
        super::org(conn, id).unwrap().unwrap()
    }

    #[test]
    fn login_names_are_unique_whatever_their_case() {
        let conn = db();
        let org = installation_org(&conn, 1.0).unwrap();
        assert_eq!(installation_org(&conn, 2.0).unwrap(), org, "created once");
        let alice = LoginName::parse("alice").unwrap();
        let added = add(
            &conn,
            org,
            &alice,
            "h",
            Role::Admin,
            &Numbers::default(),
            1.0,
        )
        .unwrap();
        assert_eq!(added.login, "alice");
        let again = LoginName::parse("ALICE").unwrap();
        assert!(matches!(
            add(
                &conn,
                org,
                &again,
                "h",
                Role::Viewer,
                &Numbers::default(),
                1.0
            ),
            Err(AddError::Taken(_))
        ));
        let (found, hash) = by_login(&conn, "Alice").unwrap().unwrap();
        assert_eq!((found.id, hash.as_str()), (added.id, "h"));
    }

    #[test]
    fn only_agents_keep_lines_and_queues() {
        let conn = db();
        let org = installation_org(&conn, 1.0).unwrap();
        let numbers = Numbers {
            lines: vec!["0033972101010".to_string()],
            queues: vec!["0033972100100".to_string()],
        };
        let a = LoginName::parse("agent.1").unwrap();
        let s = LoginName::parse("sup@example.com").unwrap();
        let agent = add(&conn, org, &a, "h", Role::Agent, &numbers, 1.0).unwrap();
        assert_eq!(
            (agent.lines, agent.queues),
            (numbers.lines.clone(), numbers.queues.clone())
        );
        let sup = add(&conn, org, &s, "h", Role::Supervisor, &numbers, 1.0).unwrap();
        assert!(sup.lines.is_empty() && sup.queues.is_empty());
    }

    #[test]
    fn login_names_are_checked() {
        assert!(LoginName::parse("").is_err());
        assert!(LoginName::parse("a b").is_err());
        assert!(LoginName::parse(&"x".repeat(65)).is_err());
        assert!(LoginName::parse("jean-luc.o'neil").is_err());
        assert_eq!(LoginName::parse(" zoé ").unwrap().as_str(), "zoé");
    }
}
