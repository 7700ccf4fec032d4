//! Organisations' access to OVH's REST API (issue 11) as rows: the application key, its
//! secret and the consumer key — kept like event tokens, in the database file and never
//! shown again — and whether the consumer key's owner has validated it at OVH yet.

use super::StoreError;
use crate::clock::UnixTime;
use crate::store::db::{params, Conn, OptionalExtension};

/// One organisation's access, as stored.
#[derive(Clone, PartialEq)]
pub struct Access {
    pub org_id: i64,
    pub application_key: String,
    pub application_secret: String,
    pub consumer_key: String,
    /// Whether OVH has said the consumer key works.
    pub validated: bool,
    /// Where its owner validates it, while pending.
    pub validation_url: Option<String>,
    pub created_at: UnixTime,
    pub validated_at: Option<UnixTime>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("org_id", &self.org_id)
            .field("application_key", &self.application_key)
            .field("validated", &self.validated)
            .finish_non_exhaustive()
    }
}

fn access(r: &crate::store::db::Row) -> crate::store::db::Result<Access> {
    Ok(Access {
        org_id: r.get(0)?,
        application_key: r.get(1)?,
        application_secret: r.get(2)?,
        consumer_key: r.get(3)?,
        validated: r.get::<_, String>(4)? == "validated",
        validation_url: r.get(5)?,
        created_at: r.get(6)?,
        validated_at: r.get(7)?,
    })
}

const COLUMNS: &str = "org_id, application_key, application_secret, consumer_key, state, validation_url, created_at, validated_at";

pub fn get(conn: &Conn, org: i64) -> Result<Option<Access>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM ovh_access WHERE org_id = ?1"),
            params![org],
            access,
        )
        .optional()?)
}

/// Every organisation's access (the service starts one supervisor for each).
pub fn all(conn: &Conn) -> Result<Vec<Access>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM ovh_access ORDER BY org_id"))?;
    let rows = stmt.query_map((), access)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores an organisation's access, replacing what it had.
pub fn put(conn: &Conn, a: &Access) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO ovh_access (org_id, application_key, application_secret, consumer_key, state, validation_url, created_at, validated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (org_id) DO UPDATE SET application_key = excluded.application_key,
           application_secret = excluded.application_secret, consumer_key = excluded.consumer_key,
           state = excluded.state, validation_url = excluded.validation_url,
           created_at = excluded.created_at, validated_at = excluded.validated_at",
        params![
            a.org_id,
            a.application_key,
            a.application_secret,
            a.consumer_key,
            if a.validated { "validated" } else { "pending" },
            a.validation_url,
            a.created_at,
            a.validated_at
        ],
    )?;
    Ok(())
}

/// Marks a pending consumer key validated (it worked); false when it is no longer the one
/// stored.
pub fn validated(
    conn: &Conn,
    org: i64,
    consumer_key: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE ovh_access SET state = 'validated', validation_url = NULL, validated_at = ?3
         WHERE org_id = ?1 AND consumer_key = ?2",
        params![org, consumer_key, now],
    )? > 0)
}

/// Forgets an organisation's access; false when it had none.
pub fn delete(conn: &Conn, org: i64) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM ovh_access WHERE org_id = ?1", params![org])? > 0)
}
