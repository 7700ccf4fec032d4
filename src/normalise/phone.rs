//! Phone numbers as people type them (`+33 9 72 10 10 10`, `09 72 10 10 10`, `0972101010`,
//! `0033 9 72…`) read into the form OVH writes them in (`0033972101010`), so that the search
//! box and the number filters find a number however it is printed on the page or on a card.
//! A complete number is read by the `phonenumber` crate (Google's libphonenumber metadata),
//! France being the default country of a number without one; a part of a number is reduced
//! to the digits that must appear in OVH's form.

use phonenumber::{country, Mode};

/// What a typed text is, as a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Typed {
    /// A whole, valid number, in OVH's form.
    Full(String),
    /// A part of a number: digits to find inside OVH's form.
    Partial(String),
    /// Not a number (a name, a word).
    Text,
}

/// Reads `input` as a number.
pub fn read(input: &str) -> Typed {
    let s = input.trim();
    let allowed = |c: char| c.is_ascii_digit() || " +.-()/".contains(c);
    if s.is_empty() || !s.chars().all(allowed) {
        return Typed::Text;
    }
    if let Ok(n) = phonenumber::parse(Some(country::Id::FR), s) {
        if phonenumber::is_valid(&n) {
            let e164 = n.format().mode(Mode::E164).to_string();
            return Typed::Full(format!("00{}", e164.trim_start_matches('+')));
        }
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    // A national prefix (`09…`) is not in OVH's form (`00339…`); an international one is.
    let national = s.starts_with('0') && !s.starts_with("00");
    let digits = if national { &digits[1..] } else { &digits[..] };
    if digits.is_empty() {
        Typed::Text
    } else {
        Typed::Partial(digits.to_string())
    }
}

/// A number filter's value (`number`, `queue`) in OVH's form when it is a whole number, as
/// typed otherwise.
pub fn ovh_form(input: &str) -> String {
    match read(input) {
        Typed::Full(n) => n,
        _ => input.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_found_however_it_is_typed() {
        for typed in [
            "+33 9 72 10 10 10",
            "09 72 10 10 10",
            "0972101010",
            "0033972101010",
            "0033 9 72 10 10 10",
            " 09.72.10.10.10 ",
        ] {
            assert_eq!(read(typed), Typed::Full("0033972101010".into()), "{typed}");
            assert_eq!(ovh_form(typed), "0033972101010");
        }
        assert_eq!(read("09 72 10"), Typed::Partial("97210".into()));
        assert_eq!(read("10 10"), Typed::Partial("1010".into()));
        assert_eq!(read("+33 9 72"), Typed::Partial("33972".into()));
        assert_eq!(read("Accueil"), Typed::Text);
        assert_eq!(read("0"), Typed::Text);
        assert_eq!(ovh_form("anonymous"), "anonymous");
    }
}
