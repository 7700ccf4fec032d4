//! The audit log (issue 10): who changed what and when — settings, webhooks, users, sessions,
//! tokens, resets, callbacks marked — per organisation, kept in the store, read by its admins
//! (`GET /api/audit`, and as CSV). Each entry is written in the same transaction as the
//! change it records, so neither is ever kept without the other. What an entry holds is
//! capped like everything stored: the actor and action are short words of ours, the detail
//! at most `DETAIL_BYTES`.

use super::StoreError;
use crate::clock::UnixTime;
use crate::limits::clip;
use crate::store::db::{params, Conn};
use serde::Serialize;

pub const DETAIL_BYTES: usize = 512;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub id: i64,
    #[serde(serialize_with = "crate::clock::as_rfc3339::serialize")]
    pub at: UnixTime,
    /// `user alice`, or `token 3F25…` (the token itself: a bearer, or a login with it).
    pub actor: String,
    /// What was done: `settings.change`, `webhook.create`, `user.disable`…
    pub action: String,
    pub detail: String,
}

pub fn record(
    conn: &Conn,
    org: i64,
    at: UnixTime,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit (org_id, at, actor, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            org,
            at,
            clip(actor, 128),
            clip(action, 64),
            clip(detail, DETAIL_BYTES)
        ],
    )?;
    Ok(())
}

/// An organisation's entries, newest first: `limit` of them before the entry `before`; the
/// cursor of the next page.
pub fn list(
    conn: &Conn,
    org: i64,
    before: Option<i64>,
    limit: usize,
) -> Result<(Vec<Entry>, Option<i64>), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, detail FROM audit WHERE org_id = ?1 AND (id < ?2 OR ?2 IS NULL)
         ORDER BY id DESC LIMIT ?3",
    )?;
    let rows: Vec<Entry> = stmt
        .query_map(params![org, before, limit as i64 + 1], |r| {
            Ok(Entry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                detail: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut rows = rows;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|e| e.id)
    });
    Ok((rows, next.flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_paged_newest_first_per_organisation_and_capped() {
        let mut conn = Conn::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        for i in 0..5 {
            record(&conn, 1, f64::from(i), "user alice", "settings.change", "x").unwrap();
        }
        record(&conn, 2, 9.0, "user bob", "reset", &"y".repeat(5000)).unwrap();
        let (page, next) = list(&conn, 1, None, 3).unwrap();
        assert_eq!(
            page.iter().map(|e| e.at).collect::<Vec<_>>(),
            [4.0, 3.0, 2.0]
        );
        let (rest, end) = list(&conn, 1, next, 3).unwrap();
        assert_eq!((rest.len(), end), (2, None));
        let (other, _) = list(&conn, 2, None, 10).unwrap();
        assert!(other[0].detail.len() <= DETAIL_BYTES + 3, "clipped");
    }
}
