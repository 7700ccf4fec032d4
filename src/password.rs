//! Passwords of user accounts (issue 10): checked for length when set, stored only as an
//! argon2id hash (a PHC string with its own salt and parameters, so that stronger
//! parameters later still verify old hashes), and verified in constant time by the `argon2`
//! crate. A login for an unknown name verifies against a fixed dummy hash, so that the time
//! an answer takes does not tell whether the name exists.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::LazyLock;

/// The shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_CHARS: usize = 10;
/// The longest: hashing cost grows with the input, and no one types more.
pub const MAX_BYTES: usize = 1024;

/// Whether a new password may be used; the reason when not.
pub fn check(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err(format!("a password has at least {MIN_CHARS} characters"));
    }
    if password.len() > MAX_BYTES {
        return Err(format!("a password has at most {MAX_BYTES} bytes"));
    }
    Ok(())
}

/// The argon2id hash of a password (default parameters: 19 MiB, 2 passes), as a PHC string.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with its default parameters hashes any input")
        .to_string()
}

/// Whether `password` matches `stored` (a PHC string); false for a malformed hash.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Verifies `password` against a hash no password matches: as long as a real check.
pub fn verify_nothing(password: &str) {
    static DUMMY: LazyLock<String> = LazyLock::new(|| hash("no account has this password"));
    let _ = verify(password, &DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_is_salted() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert_ne!(hash("correct horse battery"), h, "a new salt each time");
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check("123456789").is_err());
        assert!(check("1234567890").is_ok());
        assert!(check(&"x".repeat(MAX_BYTES + 1)).is_err());
        assert!(!verify(&"x".repeat(MAX_BYTES + 1), &hash("whatever it is")));
    }
}
