//! Wall-screen links (issue 10): a TV on the wall has no keyboard, so an admin makes a link
//! that signs it in read-only to the wall view. The link's key is random (256 bits), shown
//! once, and kept only as its SHA-256; a link may be restricted to an address range, and is
//! revoked by deleting it, which ends the sessions it opened (and their live streams).

use super::StoreError;
use crate::clock::UnixTime;
use crate::store::db::{params, Conn, OptionalExtension};
use crate::token::TokenId;
use serde::Serialize;

/// A link as admins see it (never its key).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WallLink {
    pub id: i64,
    pub label: String,
    /// The address range it may be used from (a CIDR), or `null` for anywhere.
    pub allow: Option<String>,
    #[serde(serialize_with = "crate::clock::as_rfc3339::serialize")]
    pub created_at: UnixTime,
    #[serde(serialize_with = "crate::clock::as_rfc3339::option::serialize")]
    pub last_used_at: Option<UnixTime>,
}

/// What a used link signs in to: its id, token, and address range.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub id: i64,
    pub token: TokenId,
    pub allow: Option<String>,
}

pub fn create(
    conn: &Conn,
    org: i64,
    token: &TokenId,
    key_hash: &str,
    label: &str,
    allow: Option<&str>,
    now: UnixTime,
) -> Result<WallLink, StoreError> {
    let id = conn.query_row(
        "INSERT INTO wall_links (org_id, token_id, key_hash, label, allow, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![org, token.as_str(), key_hash, label, allow, now],
        |r| r.get(0),
    )?;
    Ok(WallLink {
        id,
        label: label.to_string(),
        allow: allow.map(str::to_string),
        created_at: now,
        last_used_at: None,
    })
}

pub fn list(conn: &Conn, org: i64) -> Result<Vec<WallLink>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, label, allow, created_at, last_used_at FROM wall_links WHERE org_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![org], |r| {
        Ok(WallLink {
            id: r.get(0)?,
            label: r.get(1)?,
            allow: r.get(2)?,
            created_at: r.get(3)?,
            last_used_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The link whose key hashes to `key_hash` (a read: a wrong key writes nothing).
pub fn find(conn: &Conn, key_hash: &str) -> Result<Option<Found>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, token_id, allow FROM wall_links WHERE key_hash = ?1",
            params![key_hash],
            |r| {
                Ok(Found {
                    id: r.get(0)?,
                    token: TokenId::from_stored(r.get(1)?),
                    allow: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// Marks a link used now.
pub fn used(conn: &Conn, id: i64, now: UnixTime) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE wall_links SET last_used_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Revokes a link of `org`: deletes it and its sessions. The keys of the sessions ended (to
/// close their streams), or `None` when there is no such link.
pub fn revoke(conn: &Conn, org: i64, id: i64) -> Result<Option<Vec<String>>, StoreError> {
    if conn.execute(
        "DELETE FROM wall_links WHERE id = ?1 AND org_id = ?2",
        params![id, org],
    )? == 0
    {
        return Ok(None);
    }
    let mut stmt =
        conn.prepare_cached("DELETE FROM sessions WHERE link_id = ?1 RETURNING id_hash")?;
    let keys = stmt
        .query_map(params![id], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(keys))
}
