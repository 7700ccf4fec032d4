//! Users' own screen pops (issue 10): an agent may choose their own screen pop — on or off, a
//! dialog or a new window, their CRM's address, which events, directions and numbers — in
//! place of the organisation's. The ingest thread keeps every such choice by token and, for
//! each new event, makes one `event: pop` message per user whose choice matches it, marked
//! with that user; the live stream gives a user the messages marked for them, or the
//! organisation's unmarked ones when they have no choice of their own.
//!
//! Only `modal` and `popup` are a user's to choose: a `silent` pop is a request the service
//! itself sends, an integration the organisation's admins set up.

use super::{pop_matches, PopMessage};
use crate::engine::QueueLink;
use crate::normalise::Event;
use crate::settings::{PopMode, ScreenPop};
use crate::store::db::Conn;
use crate::store::StoreError;
use crate::token::TokenId;
use std::collections::{HashMap, HashSet};

/// Every enabled user's own screen pop, by the tokens of their organisation.
#[derive(Debug, Default)]
pub struct OwnPops {
    by_token: HashMap<TokenId, Vec<(i64, ScreenPop)>>,
    users: HashSet<i64>,
}

impl OwnPops {
    /// Reads them all from the store. A stored choice that does not read as a screen pop a
    /// user may have (written by a later version, or `silent`) is left out: that user
    /// follows the organisation's.
    pub fn load(conn: &Conn) -> Result<OwnPops, StoreError> {
        let mut own = OwnPops::default();
        for (token, user, json) in crate::store::own_pops::all(conn)? {
            let Ok(pop) = serde_json::from_str::<ScreenPop>(&json) else {
                continue;
            };
            if pop.mode == PopMode::Silent {
                continue;
            }
            own.users.insert(user);
            own.by_token.entry(token).or_default().push((user, pop));
        }
        Ok(own)
    }

    /// Whether `user` pops by their own choice (and so not by the organisation's).
    pub fn has(&self, user: i64) -> bool {
        self.users.contains(&user)
    }

    /// The pops `e` (an event of `token`) makes for the users who chose their own.
    pub fn messages(&self, token: &TokenId, e: &Event, via: Option<&QueueLink>) -> Vec<PopMessage> {
        self.by_token
            .get(token)
            .into_iter()
            .flatten()
            .filter(|(_, pop)| pop_matches(pop, e, via))
            .map(|(user, pop)| PopMessage::of(pop, e, via, Some(*user)))
            .collect()
    }
}
