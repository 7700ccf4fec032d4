//! Users' own screen pops (issue 10) as rows: the JSON of a `ScreenPop` in `users.screen_pop`,
//! or NULL for a user who follows their organisation's. Read whole by the ingest thread, which
//! pops each such user's calls by their own settings (`hooks::own_pops`).

use super::StoreError;
use crate::store::db::{params, Conn, OptionalExtension};
use crate::token::TokenId;

/// A user's own screen pop, as stored (`None`: they follow the organisation's).
pub fn get(conn: &Conn, user: i64) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT screen_pop FROM users WHERE id = ?1",
            params![user],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// Stores a user's own screen pop (`None`: back to the organisation's); false when there is
/// no such user.
pub fn set(conn: &Conn, user: i64, json: Option<&str>) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE users SET screen_pop = ?2 WHERE id = ?1",
        params![user, json],
    )? > 0)
}

/// Every enabled user's own screen pop, under each token of their organisation.
pub fn all(conn: &Conn) -> Result<Vec<(TokenId, i64, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT o.token_id, u.id, u.screen_pop FROM users u JOIN org_tokens o ON o.org_id = u.org_id
         WHERE u.screen_pop IS NOT NULL AND u.disabled_at IS NULL ORDER BY o.token_id, u.id",
    )?;
    let rows = stmt.query_map((), |r| {
        Ok((
            TokenId::from_stored(r.get::<_, String>(0)?),
            r.get(1)?,
            r.get(2)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
