//! `TokenKind`: access or refresh token, and the RFC 7009 / RFC 7662
//! `token_type_hint` that orders the search for one.

/// Which kind of token a revocation or introspection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    /// The hint's kind; unknown hints are ignored (RFC 7009 §2.1 lets the
    /// server search anyway).
    pub fn from_hint(raw: Option<&str>) -> Option<TokenKind> {
        match raw {
            Some("access_token") => Some(TokenKind::Access),
            Some("refresh_token") => Some(TokenKind::Refresh),
            _ => None,
        }
    }

    /// The kinds to try, the hinted one first (access first without a hint).
    pub fn search_order(hint: Option<TokenKind>) -> [TokenKind; 2] {
        match hint {
            Some(TokenKind::Refresh) => [TokenKind::Refresh, TokenKind::Access],
            _ => [TokenKind::Access, TokenKind::Refresh],
        }
    }

    /// The RFC 7009 name: `access_token` or `refresh_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access_token",
            TokenKind::Refresh => "refresh_token",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hinted_kind_is_searched_first() {
        let refresh = TokenKind::from_hint(Some("refresh_token"));
        assert_eq!(
            TokenKind::search_order(refresh),
            [TokenKind::Refresh, TokenKind::Access]
        );
        for hint in [None, Some("access_token"), Some("bogus")] {
            assert_eq!(
                TokenKind::search_order(TokenKind::from_hint(hint)),
                [TokenKind::Access, TokenKind::Refresh],
                "{hint:?}"
            );
        }
    }
}
