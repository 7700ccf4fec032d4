//! The OVH event token: a secret that reads every call of an account.
//!
//! `Token` parses what a user pasted (white space trimmed, either case) and never prints itself:
//! its `Debug` and `Display` show only a masked hint. Everything that needs to name a token
//! without revealing it — the store, logs, sessions, health — uses its `TokenId`, a short
//! one-way digest.

use sha2::{Digest, Sha256};
use std::fmt;

/// A token in OVH's UUID format, kept in upper case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

/// Why a string is not a token. Deliberately does not echo the input: it may be a real secret
/// with one typo.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a token: expected a UUID such as ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB")]
pub struct NotAToken;

impl Token {
    pub fn parse(input: &str) -> Result<Token, NotAToken> {
        let s = input.trim();
        let groups: Vec<&str> = s.split('-').collect();
        let lengths = [8, 4, 4, 4, 12];
        if groups.len() != lengths.len()
            || groups
                .iter()
                .zip(lengths)
                .any(|(g, n)| g.len() != n || !g.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(NotAToken);
        }
        Ok(Token(s.to_ascii_uppercase()))
    }

    /// The secret itself: only for the request to OVH and the token table.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn id(&self) -> TokenId {
        let digest = Sha256::digest(self.0.as_bytes());
        TokenId(hex(&digest[..8]))
    }

    /// What a person may be shown to recognise the token: its first four characters.
    pub fn hint(&self) -> String {
        format!("{}…", &self.0[..4])
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.hint())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hint())
    }
}

/// A stable, non-secret name for a token (16 hex characters of its SHA-256).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct TokenId(String);

impl TokenId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn from_stored(s: String) -> TokenId {
        TokenId(s)
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

    #[test]
    fn parses_trimmed_lower_case_tokens() {
        let t = Token::parse(&format!("  {}\n", T.to_lowercase())).unwrap();
        assert_eq!(t.expose(), T);
    }

    #[test]
    fn rejects_what_is_not_a_uuid() {
        for bad in [
            "",
            "abc",
            "3F2504E0-4F89-11D3-9A0C-0305E82C330",
            "3F2504E0_4F89-11D3-9A0C-0305E82C3301",
            "ZF2504E0-4F89-11D3-9A0C-0305E82C3301",
        ] {
            assert_eq!(Token::parse(bad), Err(NotAToken), "{bad}");
        }
    }

    #[test]
    fn never_prints_the_secret() {
        let t = Token::parse(T).unwrap();
        for shown in [
            format!("{t}"),
            format!("{t:?}"),
            t.id().to_string(),
            NotAToken.to_string(),
        ] {
            assert!(!shown.contains("4F89"), "{shown}");
        }
    }

    #[test]
    fn id_is_stable_and_case_insensitive() {
        let a = Token::parse(T).unwrap().id();
        let b = Token::parse(&T.to_lowercase()).unwrap().id();
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 16);
    }
}
