//! The simulated OVHcloud billing account: its lines, its call queues and the two event tokens
//! that read it.
//!
//! Everything is derived from a seed so that a demo, a test and a benchmark started with the same
//! seed see the same numbers and the same tokens. The shapes (number format, `Details` values)
//! follow the recorded fixtures in `shared/fixtures/`.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Salt mixed into the seed for the account, so that the account and the traffic do not draw
/// from the same random sequence (changing the traffic model must not renumber the lines).
const ACCOUNT_SALT: u64 = 0x0A11_CE5E_ED00_0001;

/// One telephone line of the account (`sip` or `mgcp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLine {
    /// OVH number, international form with `00` (`0033972101010`).
    pub number: String,
    /// The customer's label (`Accueil`, `Compta`…).
    pub description: String,
    /// `sip` or `mgcp`: the event's `Service` and the Data `Protocol`.
    pub service: &'static str,
    /// `sipCirpack` or `mgcpCirpack`.
    pub kind: &'static str,
    /// How many calls the line may carry at once.
    pub simultaneous: u32,
    /// OVH service id (`Details.Id`).
    pub id: String,
}

/// One call queue of the account (Service `queues`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimQueue {
    /// OVH number of the queue.
    pub number: String,
    /// The customer's label.
    pub description: String,
    /// `easyHunting` or `cloudHunting`.
    pub kind: &'static str,
    /// OVH service id (`Details.Id`).
    pub id: String,
    /// Indexes into [`SimAccount::lines`] of the agents, in agent order (`agent_<number>_<n>`, n from 1).
    pub agents: Vec<usize>,
    /// The longest a caller may wait before the queue lets go of it (`Cancel`/`TIMEOUT`), seconds.
    pub max_wait_s: u32,
}

/// An event token known to the simulated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimToken {
    /// The token, upper-case UUID form.
    pub token: String,
    /// What it covers, for humans (`billing account 12345`, `line 0033972101010 (Accueil)`).
    pub label: String,
}

/// The whole simulated billing account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAccount {
    /// OVH billing account id (`Details.IdBillingAccount`).
    pub billing_account: String,
    /// The lines: four sip lines then one mgcp line.
    pub lines: Vec<SimLine>,
    /// The call queues: one easyHunting, one cloudHunting.
    pub queues: Vec<SimQueue>,
    /// Token covering every number of the account.
    pub account_token: String,
    /// Token covering exactly one line ([`SimAccount::token_line`]).
    pub line_token: String,
    /// Index into `lines` of the line covered by `line_token`.
    pub token_line: usize,
}

const LINE_LABELS: [&str; 8] = [
    "Compta",
    "Atelier",
    "Direction",
    "Ventes",
    "Secrétariat",
    "Entrepôt",
    "Magasin",
    "Bureau d'études",
];
const QUEUE_LABELS: [&str; 4] = ["Support", "Service client", "Commandes", "Standard"];

impl SimAccount {
    /// Builds the account for a seed. Same seed, same account.
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ ACCOUNT_SALT);
        let billing_account = rng.gen_range(10_000..100_000u32).to_string();
        // A block of numbers like OVH hands out: 0033972 + 3 digits + 3 digits.
        let block: u32 = rng.gen_range(100..1000);
        let mut labels: Vec<&str> = LINE_LABELS.to_vec();
        labels.shuffle(&mut rng);
        // The first line is always the reception desk: it is the busy, 2-channel one that demos
        // show off, and the one the line token covers.
        let mut lines = Vec::new();
        for i in 0..5u32 {
            let suffix = 10 + i;
            let number = format!("0033972{block:03}{suffix:03}");
            let description = if i == 0 {
                "Accueil".to_string()
            } else {
                labels[i as usize - 1].to_string()
            };
            let (service, kind) = if i == 4 {
                ("mgcp", "mgcpCirpack")
            } else {
                ("sip", "sipCirpack")
            };
            let simultaneous = if i == 0 || i == 2 { 2 } else { 1 };
            let id = number[number.len() - 6..].to_string();
            lines.push(SimLine {
                number,
                description,
                service,
                kind,
                simultaneous,
                id,
            });
        }
        let mut qlabels: Vec<&str> = QUEUE_LABELS.to_vec();
        qlabels.shuffle(&mut rng);
        let queues = vec![
            SimQueue {
                number: format!("0033972{block:03}100"),
                description: qlabels[0].to_string(),
                kind: "easyHunting",
                id: format!("{block:03}100"),
                agents: vec![0, 1],
                max_wait_s: 60,
            },
            SimQueue {
                number: format!("0033972{block:03}200"),
                description: qlabels[1].to_string(),
                kind: "cloudHunting",
                id: format!("{block:03}200"),
                agents: vec![1, 2, 3],
                max_wait_s: 45,
            },
        ];
        let account_token = upper_uuid(&mut rng);
        let line_token = upper_uuid(&mut rng);
        SimAccount {
            billing_account,
            lines,
            queues,
            account_token,
            line_token,
            token_line: 0,
        }
    }

    /// The tokens of the account with a human label each.
    pub fn tokens(&self) -> Vec<SimToken> {
        let line = &self.lines[self.token_line];
        vec![
            SimToken {
                token: self.account_token.clone(),
                label: format!("billing account {}", self.billing_account),
            },
            SimToken {
                token: self.line_token.clone(),
                label: format!("line {} ({})", line.number, line.description),
            },
        ]
    }

    /// Is this (normalised, upper-case) token one of the account's?
    pub fn knows_token(&self, token: &str) -> bool {
        token == self.account_token || token == self.line_token
    }

    /// The tokens that see events about `number` (a line or a queue).
    pub fn tokens_for(&self, number: &str) -> Vec<String> {
        let mut out = vec![self.account_token.clone()];
        if self.lines[self.token_line].number == number {
            out.push(self.line_token.clone());
        }
        out
    }

    /// `Details` of a line event.
    pub(crate) fn line_details(&self, line: usize) -> Value {
        let l = &self.lines[line];
        json!({
            "Description": l.description,
            "Id": l.id,
            "IdBillingAccount": self.billing_account,
            "SimultaneousLine": l.simultaneous.to_string(),
            "Type": l.kind,
        })
    }

    /// `Details` of a queue event (queues carry SimultaneousLine "0" in the traces).
    pub(crate) fn queue_details(&self, queue: usize) -> Value {
        let q = &self.queues[queue];
        json!({
            "Description": q.description,
            "Id": q.id,
            "IdBillingAccount": self.billing_account,
            "SimultaneousLine": "0",
            "Type": q.kind,
        })
    }
}

/// Random upper-case UUID (version 4 layout), the form OVH shows its tokens in.
fn upper_uuid(rng: &mut StdRng) -> String {
    uuid_from(rng).to_ascii_uppercase()
}

/// Random lower-case UUID (version 4 layout), the form FreeSWITCH writes its UUIDs in.
pub(crate) fn uuid_from<R: Rng>(rng: &mut R) -> String {
    let mut b: [u8; 16] = rng.gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Normalises a token the way the simulator compares them: trimmed, upper-case. Returns `None`
/// when it is not a UUID (8-4-4-4-12 hex digits).
pub fn normalize_token(raw: &str) -> Option<String> {
    let t = raw.trim().to_ascii_uppercase();
    let groups: Vec<&str> = t.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if groups.len() != 5
        || groups
            .iter()
            .zip(lens)
            .any(|(g, n)| g.len() != n || !g.bytes().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(t)
}

/// A token fit for a log line: the first four characters and an ellipsis.
pub fn mask_token(token: &str) -> String {
    let head: String = token.trim().chars().take(4).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_deterministic_and_well_formed() {
        let a = SimAccount::from_seed(7);
        assert_eq!(a, SimAccount::from_seed(7));
        assert_ne!(a.account_token, SimAccount::from_seed(8).account_token);
        assert_eq!(a.lines.len(), 5);
        assert_eq!(a.lines.iter().filter(|l| l.service == "mgcp").count(), 1);
        assert!(a.lines.iter().any(|l| l.simultaneous == 2));
        for l in &a.lines {
            assert!(l.number.starts_with("0033972") && l.number.len() == 13);
        }
        assert_eq!(a.queues[0].kind, "easyHunting");
        assert_eq!(a.queues[1].kind, "cloudHunting");
        for t in [&a.account_token, &a.line_token] {
            assert_eq!(normalize_token(t).as_deref(), Some(t.as_str()));
            assert_eq!(t, &t.to_ascii_uppercase());
        }
        let line = &a.lines[a.token_line].number;
        assert_eq!(a.tokens_for(line).len(), 2);
        assert_eq!(a.tokens_for(&a.queues[0].number).len(), 1);
    }

    #[test]
    fn tokens_normalise_and_mask() {
        assert_eq!(
            normalize_token("  3f2504e0-4f89-11d3-9a0c-0305e82c3301\n").as_deref(),
            Some("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
        );
        assert_eq!(normalize_token("not-a-token"), None);
        assert_eq!(
            normalize_token("3F2504E0-4F89-11D3-9A0C-0305E82C330Z"),
            None
        );
        assert_eq!(mask_token("3F2504E0-4F89"), "3F25…");
    }
}
