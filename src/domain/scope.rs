//! `Scope`: a set of RFC 6749 §3.3 scope tokens.

use std::collections::BTreeSet;
use std::fmt;

use super::{DomainError, err};

/// A space-separated set of scope tokens (RFC 6749 §3.3), kept sorted and
/// without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if s.len() > Self::MAX_LEN {
            return Err(err(format!(
                "`scope` is longer than {} bytes",
                Self::MAX_LEN
            )));
        }
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if let Some(c) = token.chars().find(|&c| {
                !(c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c))
            }) {
                return Err(err(format!("`scope` contains a forbidden character {c:?}")));
            }
            set.insert(token.to_owned());
        }
        Ok(Scope(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scope tokens, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The members of both `self` and `other`.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// The first member of `self` missing from `other`.
    pub fn first_outside<'a>(&'a self, other: &Scope) -> Option<&'a str> {
        self.0
            .iter()
            .find(|s| !other.0.contains(*s))
            .map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_sorted_and_deduplicated() {
        let s = Scope::parse("write read  read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn scope_subset() {
        let all = Scope::parse("read write admin").unwrap();
        let some = Scope::parse("read").unwrap();
        assert!(some.is_subset(&all));
        assert!(!all.is_subset(&some));
        assert_eq!(all.first_outside(&some), Some("admin"));
        let other = Scope::parse("admin audit").unwrap();
        assert_eq!(all.intersection(&other).to_string(), "admin");
        assert!(some.intersection(&other).is_empty());
    }
}
