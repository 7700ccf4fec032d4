//! OVH's REST API (issue 11): what the event feed cannot say or do — which agents are logged
//! in, on a break or free, the queues' own statistics, click-to-call and live-call actions,
//! and event tokens created for the user.
//!
//! - `sign`: OVH's request signature, pure (its published vectors are unit tests);
//! - `budget`: the request budget shared by all calls made with one consumer key;
//! - `client`: signed HTTP calls, the clock offset, retries after OVH's waits;
//! - `error`: OVH's refusals mapped to what an admin should do;
//! - `models`: the telephony objects used, typed.

pub mod budget;
pub mod client;
pub mod error;
pub mod models;
pub mod sign;

pub use budget::Budget;
pub use client::{Client, Keys};
pub use error::OvhError;
