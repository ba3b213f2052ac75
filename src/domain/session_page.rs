//! Pages of a user's session list: where a page starts (`SessionCursor`,
//! the position of the last session the previous page looked at) and how
//! many sessions it holds (`PageSize`, bounded).

use std::fmt;

use super::{DomainError, Sid, err};

/// Sessions per page when the caller names no `limit`.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest `limit` a caller may ask for.
pub const MAX_PAGE_SIZE: usize = 200;

/// A position in a user's session list, which is ordered by the session's
/// expiry in milliseconds (`score`), then by the sid's text. A page starts
/// right after it, so a session listed once is never listed again, and a
/// session revoked between two pages shifts nothing. Written
/// `<score>.<sid>`; callers treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCursor {
    pub score: i64,
    pub sid: Sid,
}

impl SessionCursor {
    /// The text a previous page answered; anything else is refused.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || err("`cursor` is not one a previous page answered");
        if s.len() > 60 {
            return Err(bad());
        }
        let (score, sid) = s.split_once('.').ok_or_else(bad)?;
        if score.is_empty() || score.len() > 16 || !score.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(SessionCursor {
            score: score.parse().map_err(|_| bad())?,
            sid: Sid::parse(sid).map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for SessionCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.score, self.sid)
    }
}

/// How many sessions one page holds: 1 to [`MAX_PAGE_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(usize);

impl PageSize {
    /// The caller's `limit`, or the default when absent.
    pub fn parse(limit: Option<&str>) -> Result<Self, DomainError> {
        let Some(text) = limit else {
            return Ok(PageSize(DEFAULT_PAGE_SIZE));
        };
        let bad = || {
            err(format!(
                "`limit` must be a whole number from 1 to {MAX_PAGE_SIZE}"
            ))
        };
        if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(PageSize(n)),
            _ => Err(bad()),
        }
    }

    /// A size the caller chose in code (clamped into the bounds).
    pub fn new(n: usize) -> Self {
        PageSize(n.clamp(1, MAX_PAGE_SIZE))
    }

    pub fn get(self) -> usize {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let c = SessionCursor {
            score: 1_764_553_650_123,
            sid: Sid::new_random(),
        };
        assert_eq!(SessionCursor::parse(&c.to_string()), Ok(c));
        let sid = Sid::new_random();
        for bad in [
            String::new(),
            "123".into(),
            format!(".{sid}"),
            format!("-1.{sid}"),
            format!("1e3.{sid}"),
            format!("{}.{sid}", "9".repeat(17)),
            "12.not-a-uuid".into(),
            format!("12.{sid}.x"),
        ] {
            assert!(SessionCursor::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageSize::parse(None).unwrap().get(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageSize::parse(Some("200")).unwrap().get(), 200);
        for bad in ["0", "201", "-1", "", "1000000000000", "ten", "1.5"] {
            assert!(PageSize::parse(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(PageSize::new(10_000).get(), MAX_PAGE_SIZE);
    }
}
