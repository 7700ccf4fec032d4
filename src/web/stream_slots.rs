//! Caps on live streams (`GET /api/stream`): each holds a connection for as long as its page is
//! open, so without a cap 2,000 of them took every file the service had. A stream takes a
//! slot for its login session (or bearer token), one for its client address and one of the
//! service's, and gives them back when it ends (its `StreamSlot` is dropped with the stream).
//! Over a session's or an address's cap the answer is `429`; over the service's, `503`.

use crate::tally::Tally;
use parking_lot::Mutex;
use std::net::IpAddr;
use std::sync::Arc;

/// Which cap a refused stream hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Full {
    Session,
    Address,
    Service,
}

impl Full {
    pub fn name(self) -> &'static str {
        match self {
            Full::Session => "session",
            Full::Address => "address",
            Full::Service => "service",
        }
    }
}

#[derive(Default)]
struct Counts {
    sessions: Tally<String>,
    addresses: Tally<IpAddr>,
    total: usize,
}

pub struct StreamSlots {
    per_session: usize,
    per_address: usize,
    total: usize,
    counts: Mutex<Counts>,
}

/// One stream's slots, given back on drop.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    session: String,
    address: IpAddr,
}

impl StreamSlots {
    pub fn new(per_session: usize, per_address: usize, total: usize) -> StreamSlots {
        StreamSlots {
            per_session,
            per_address,
            total,
            counts: Mutex::default(),
        }
    }

    /// Takes a slot for a stream of `session` from `address`, or says which cap is reached.
    pub fn take(self: &Arc<Self>, session: &str, address: IpAddr) -> Result<StreamSlot, Full> {
        let mut c = self.counts.lock();
        if c.total >= self.total {
            return Err(Full::Service);
        }
        if c.sessions.get(&session.to_string()) >= self.per_session {
            return Err(Full::Session);
        }
        if c.addresses.get(&address) >= self.per_address {
            return Err(Full::Address);
        }
        c.total += 1;
        c.sessions.add(session.to_string());
        c.addresses.add(address);
        Ok(StreamSlot {
            slots: self.clone(),
            session: session.to_string(),
            address,
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.counts.lock().total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut c = self.slots.counts.lock();
        c.total -= 1;
        c.sessions.remove_one(&self.session);
        c.addresses.remove_one(&self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cap_refuses_in_turn_and_slots_come_back_when_streams_end() {
        let slots = Arc::new(StreamSlots::new(2, 3, 4));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = slots.take("s1", a).unwrap();
        let _s1b = slots.take("s1", a).unwrap();
        assert_eq!(slots.take("s1", a).err(), Some(Full::Session));
        let _s2 = slots.take("s2", a).unwrap();
        assert_eq!(slots.take("s3", a).err(), Some(Full::Address));
        let _s4 = slots.take("s4", b).unwrap();
        assert_eq!(slots.take("s5", b).err(), Some(Full::Service));
        drop(s1);
        assert_eq!(slots.open(), 3);
        let _again = slots.take("s1", a).unwrap();
        assert_eq!(slots.counts.lock().sessions.keys(), 3);
    }
}
