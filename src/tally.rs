//! Counts per key that forget a key once its count is back to zero: the bookkeeping behind
//! every "at most N per address / per session" cap (login checks, live streams, the health
//! lane), so that the maps hold only what is open now and cannot grow with every address
//! ever seen.

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub struct Tally<K>(HashMap<K, usize>);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally(HashMap::new())
    }
}

impl<K: Eq + Hash> Tally<K> {
    pub fn get(&self, key: &K) -> usize {
        self.0.get(key).copied().unwrap_or(0)
    }

    pub fn add(&mut self, key: K) {
        *self.0.entry(key).or_default() += 1;
    }

    /// One less for `key`; the key is forgotten at zero.
    pub fn remove_one(&mut self, key: &K) {
        if let Some(n) = self.0.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(key);
            }
        }
    }

    /// Keys with a count above zero.
    pub fn keys(&self) -> usize {
        self.0.len()
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_back_at_zero_is_forgotten() {
        let mut t = Tally::default();
        t.add("a");
        t.add("a");
        t.add("b");
        assert_eq!((t.get(&"a"), t.total(), t.keys()), (2, 3, 2));
        t.remove_one(&"a");
        t.remove_one(&"b");
        t.remove_one(&"c");
        assert_eq!((t.get(&"a"), t.get(&"b"), t.keys()), (1, 0, 1));
    }
}
