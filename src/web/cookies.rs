//! Cookies: reading the `Cookie` header and writing `Set-Cookie`.
//!
//! On https every cookie is `__Host-`-prefixed, `Secure`, `HttpOnly`,
//! `SameSite=Lax`, `Path=/` (RFC 6265bis §4.1.3.2). Plain http is only served
//! to loopback development, where browsers refuse `Secure` on some hosts, so
//! there the prefix and `Secure` are left out. Values we rely on are signed
//! (`oauth::crypto::sign`), so a cookie is never trusted for what it says alone.

/// The name a cookie has on this connection.
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// The value of cookie `name` in a `Cookie` header, if present once.
///
/// Parsed leniently, as RFC 6265 §5.2 asks of user agents: a pair without `=`
/// is skipped, not taken as the end of the header, so one malformed cookie set
/// by some other page on the host does not hide ours.
pub fn get<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    let mut found = None;
    for pair in header?.split(';') {
        let Some((k, v)) = pair.trim().split_once('=') else {
            continue;
        };
        if k.trim() == name {
            if found.is_some() {
                // Two cookies of one name: someone planted one; trust neither.
                return None;
            }
            found = Some(v.trim_matches('"'));
        }
    }
    found
}

/// A `Set-Cookie` value.
pub fn set(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A `Set-Cookie` that deletes the cookie.
pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_cookies_use_the_host_prefix_and_secure() {
        assert_eq!(name("csrf", true), "__Host-csrf");
        assert_eq!(
            set("__Host-csrf", "v", 60, true),
            "__Host-csrf=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert_eq!(name("csrf", false), "csrf");
        assert!(!set("csrf", "v", 60, false).contains("Secure"));
    }

    #[test]
    fn reads_one_cookie_among_many() {
        let h = Some("a=1; __Host-csrf=abc.def; b=2");
        assert_eq!(get(h, "__Host-csrf"), Some("abc.def"));
        assert_eq!(get(h, "csrf"), None);
        assert_eq!(get(None, "a"), None);
    }

    #[test]
    fn a_malformed_pair_does_not_hide_the_other_cookies() {
        let h = Some("garbage; csrf-x=abc; =; other");
        assert_eq!(get(h, "csrf-x"), Some("abc"));
        assert_eq!(get(Some("novalue"), "novalue"), None);
    }

    #[test]
    fn duplicated_cookies_are_not_trusted() {
        assert_eq!(get(Some("csrf=a; csrf=b"), "csrf"), None);
    }
}
