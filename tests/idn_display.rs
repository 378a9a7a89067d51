//! The consent page's host display (src/idn.rs) held against a reference
//! implementation of IDNA (the `idna` crate that `url` uses).

use mcp_oauth_worker::idn::{display_host, punycode_decode};
use mcp_oauth_worker::oauth::redirect::redirect_host;

const NAMES: &[&str] = &[
    "bücher",
    "münchen",
    "пример",
    "例え",
    "παράδειγμα",
    "ドメイン名例",
    "xn-aaa",
    "fußball",
    "αβγ",
    "apple",
    "аррӏе",
    "مثال",
    "उदाहरण",
    "😀smile",
];

#[test]
fn our_punycode_decoder_agrees_with_the_idna_crate() {
    let mut checked = 0;
    for name in NAMES {
        let Ok(ascii) = idna::domain_to_ascii(name) else {
            continue;
        };
        for label in ascii.split('.') {
            let Some(encoded) = label.strip_prefix("xn--") else {
                continue;
            };
            let (reference, errors) = idna::domain_to_unicode(label);
            assert!(errors.is_ok(), "{label}");
            assert_eq!(
                punycode_decode(encoded).as_deref(),
                Some(reference.as_str()),
                "{name} -> {label}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} labels were compared");
}

#[test]
fn a_look_alike_host_shows_its_unicode_and_its_punycode() {
    // The first letter is Cyrillic U+0430, not Latin "a".
    let ascii = idna::domain_to_ascii("\u{0430}pple.com").unwrap();
    let shown = redirect_host(&format!("https://{ascii}/cb"));
    assert_eq!(shown, format!("\u{0430}pple.com ({ascii})"));
}

#[test]
fn percent_encoding_is_decoded_as_the_browser_does() {
    assert_eq!(redirect_host("https://%65vil.example/cb"), "evil.example");
    assert_eq!(display_host("%41pp.example"), "app.example");
}

#[test]
fn a_long_host_keeps_its_registrable_domain() {
    let host = format!("{}.login.attacker.example", "a".repeat(180));
    let shown = redirect_host(&format!("https://{host}/cb"));
    assert!(shown.ends_with(".attacker.example"), "{shown}");
}
