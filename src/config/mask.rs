//! Passwords in URLs never reach a message: `redis://user:pw@host` is
//! written `redis://user:***@host` in every config error, `check-config`
//! line and logged error chain (`ops::with_causes`).

/// Characters that end a URL inside a message.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ',' | ';' | ')' | ']' | '}' | '>')
}

/// `text` with the password of every `scheme://user:password@` replaced by
/// `***` (a lone `scheme://secret@` user part is masked whole).
pub fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let span = tail.find(ends_url).unwrap_or(tail.len());
        match tail[..span].rfind('@') {
            Some(userinfo_end) => {
                let userinfo = &tail[..userinfo_end];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str("***"),
                }
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::mask_url_passwords as mask;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            mask("bad `redis://user:s3cr%40t@host:6379/0` here"),
            "bad `redis://user:***@host:6379/0` here"
        );
        assert_eq!(
            mask("redis://:pw@h redis://h:1"),
            "redis://:***@h redis://h:1"
        );
        assert_eq!(mask("rediss://token@h/2"), "rediss://***@h/2");
        assert_eq!(
            mask("found \"redis://a:b@c\", expected"),
            "found \"redis://a:***@c\", expected"
        );
        assert_eq!(mask("no url: a@b:c"), "no url: a@b:c");
    }
}
