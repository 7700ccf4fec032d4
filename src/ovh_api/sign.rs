//! OVH's request signature (`X-Ovh-Signature`): `$1$` and the lower-case hex SHA-1 of the
//! application secret, the consumer key, the method, the full URL as sent (query included), the
//! body exactly as sent, and the timestamp, joined by `+`. Pure, so that OVH's published test
//! vectors are unit tests, and shared with the simulator, which checks what it receives.

use sha1::{Digest, Sha1};

/// What a signed request is made of.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub application_secret: &'a str,
    pub consumer_key: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    pub body: &'a str,
    pub timestamp: i64,
}

/// The `X-Ovh-Signature` header's value.
pub fn signature(s: &Signed) -> String {
    let mut hasher = Sha1::new();
    for (i, part) in [
        s.application_secret,
        s.consumer_key,
        &s.method.to_ascii_uppercase(),
        s.url,
        s.body,
        &s.timestamp.to_string(),
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            hasher.update(b"+");
        }
        hasher.update(part.as_bytes());
    }
    format!("$1${}", crate::token::hex(&hasher.finalize()))
}

/// Whether `given` is the signature of `s`, compared in constant time.
pub fn verify(s: &Signed, given: &str) -> bool {
    let want = signature(s);
    want.len() == given.len()
        && want
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, ck: &str, method: &str, url: &str, body: &str, ts: i64) -> String {
        signature(&Signed {
            application_secret: secret,
            consumer_key: ck,
            method,
            url,
            body,
            timestamp: ts,
        })
    }

    /// The vectors of `shared/ovh-rest.md` §2.6, computed with OVH's Python and node clients.
    #[test]
    fn the_published_vectors_are_reproduced() {
        let (s, ck, ts) = ("AS_EXAMPLE", "CK_EXAMPLE", 1_700_000_000);
        assert_eq!(
            sign(s, ck, "GET", "https://eu.api.ovh.com/1.0/telephony", "", ts),
            "$1$5540e6f5050745d43411e85dbe96a372ac4cddc0"
        );
        assert_eq!(
            sign(
                s,
                ck,
                "POST",
                "https://eu.api.ovh.com/1.0/telephony/ba-ovh-1/line/0033123456789/click2Call",
                r#"{"calledNumber":"0033987654321","intercom":true}"#,
                ts
            ),
            "$1$b6476eb1c7e82b2ddd04ccb730f632463c0b5159"
        );
    }

    /// OVH's own clients' test vectors (python-ovh, go-ovh).
    #[test]
    fn the_official_clients_vectors_are_reproduced() {
        let (s, ck, ts) = (
            "9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk",
            "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY",
            1_457_018_875,
        );
        let body = r#"{"a":"b","c":"d"}"#;
        let auth = "https://eu.api.ovh.com/1.0/auth";
        for (method, url, body, want) in [
            (
                "GET",
                auth,
                "",
                "$1$e9556054b6309771395efa467c22e627407461ad",
            ),
            (
                "POST",
                auth,
                body,
                "$1$ec2fb5c7a81f64723c77d2e5b609ae6f58a84fc1",
            ),
            (
                "PUT",
                auth,
                body,
                "$1$8a75a9e7c8e7296c9dbeda6a2a735eb6bd58ec4b",
            ),
            (
                "DELETE",
                auth,
                "",
                "$1$a1eecd00b3b02b6cf5708b84b9ff42059a950d85",
            ),
            (
                "GET",
                "https://eu.api.ovh.com/1.0/call",
                "",
                "$1$7f2db49253edfc41891023fcd1a54cf61db05fbb",
            ),
            (
                "GET",
                "https://eu.api.ovh.com/v1/call",
                "",
                "$1$e6e7906d385eb28adcbfbe6b66c1528a42d741ad",
            ),
        ] {
            assert_eq!(sign(s, ck, method, url, body, ts), want, "{method} {url}");
        }
    }

    #[test]
    fn a_signature_of_anything_else_does_not_verify() {
        let s = Signed {
            application_secret: "AS",
            consumer_key: "CK",
            method: "GET",
            url: "https://eu.api.ovh.com/1.0/telephony",
            body: "",
            timestamp: 1,
        };
        assert!(verify(&s, &signature(&s)));
        let later = Signed { timestamp: 2, ..s };
        assert!(!verify(&later, &signature(&s)));
        assert!(!verify(&s, "$1$"));
    }
}
