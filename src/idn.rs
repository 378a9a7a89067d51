//! How a host is shown to a person deciding whether to trust it (the consent
//! page): the host the browser will really go to.
//!
//! - Percent-encoding in a registered name (RFC 3986 §3.2.2) is decoded, as
//!   browsers do, so `%65vil.example` shows as `evil.example`.
//! - An internationalized name arrives as punycode (`xn--…`, RFC 3492, RFC 5891
//!   §4.4); it is shown in Unicode *and* in its punycode form, so a look-alike
//!   cannot pass as the name it imitates.
//! - Nothing is cut from the right: a long host keeps its registrable domain.
//!
//! Only decoding is here (display needs nothing else); the decoder is checked
//! against the `idna` crate in the native tests (`tests/oauth_leaf.rs`).

/// Decodes one punycode label (without the `xn--` prefix), RFC 3492 §6.2.
/// `None` for anything malformed, overflowing, or decoding to a control
/// character.
pub fn punycode_decode(input: &str) -> Option<String> {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    const INITIAL_BIAS: u32 = 72;
    const INITIAL_N: u32 = 128;

    fn adapt(mut delta: u32, num_points: u32, first: bool) -> u32 {
        delta /= if first { DAMP } else { 2 };
        delta += delta / num_points;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (((BASE - TMIN + 1) * delta) / (delta + SKEW))
    }

    if !input.is_ascii() || input.len() > 63 {
        return None;
    }
    let (basic, extended) = match input.rfind('-') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => ("", input),
    };
    let mut output: Vec<char> = basic.chars().collect();
    let mut n = INITIAL_N;
    let mut i: u32 = 0;
    let mut bias = INITIAL_BIAS;
    let mut digits = extended.bytes().peekable();
    while digits.peek().is_some() {
        let old_i = i;
        let mut w: u32 = 1;
        let mut k = BASE;
        loop {
            let byte = digits.next()?;
            let digit = match byte {
                b'a'..=b'z' => byte - b'a',
                b'A'..=b'Z' => byte - b'A',
                b'0'..=b'9' => byte - b'0' + 26,
                _ => return None,
            } as u32;
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = if k <= bias {
                TMIN
            } else if k >= bias + TMAX {
                TMAX
            } else {
                k - bias
            };
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
        }
        let len = output.len() as u32 + 1;
        bias = adapt(i - old_i, len, old_i == 0);
        n = n.checked_add(i / len)?;
        i %= len;
        let c = char::from_u32(n)?;
        if c.is_control() {
            return None;
        }
        output.insert(i as usize, c);
        i += 1;
    }
    Some(output.into_iter().collect())
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not
/// printable UTF-8.
fn percent_decode(host: &str) -> Option<String> {
    if !host.contains('%') {
        return Some(host.to_owned());
    }
    let bytes = host.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = host.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

/// The host as a person should read it (see the module docs). Hosts that do
/// not decode are shown exactly as written, never prettified.
pub fn display_host(host: &str) -> String {
    let Some(decoded) = percent_decode(host) else {
        return host.to_owned();
    };
    // ASCII case folding only: a decoded non-ASCII byte sequence is shown as
    // is, and the Unicode case tables stay out of the bundle.
    let ascii = decoded.to_ascii_lowercase();
    let mut any_idn = false;
    let mut labels = Vec::new();
    for label in ascii.split('.') {
        match label.strip_prefix("xn--").and_then(punycode_decode) {
            Some(unicode) => {
                any_idn = true;
                labels.push(unicode);
            }
            None => labels.push(label.to_owned()),
        }
    }
    if any_idn {
        format!("{} ({ascii})", labels.join("."))
    } else {
        ascii
    }
}

/// Whether `c` is a Unicode format character (general category Cf: bidi
/// controls such as U+202E, zero-width characters, tags), which can make text
/// read differently from what it is. The list is Unicode 15.1's Cf category.
pub fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_labels_decode() {
        assert_eq!(punycode_decode("bcher-kva").unwrap(), "bücher");
        assert_eq!(punycode_decode("mnchen-3ya").unwrap(), "münchen");
    }

    #[test]
    fn malformed_punycode_is_refused() {
        assert_eq!(punycode_decode("!!"), None);
        assert_eq!(punycode_decode("zzzzzzzzzzzzzzzzzzzzzzzzzzzz"), None);
    }

    #[test]
    fn hosts_show_what_the_browser_visits() {
        assert_eq!(display_host("%65vil.example"), "evil.example");
        assert_eq!(
            display_host("xn--bcher-kva.example"),
            "bücher.example (xn--bcher-kva.example)"
        );
        assert_eq!(display_host("App.Example"), "app.example");
        // A broken escape is shown as written, not guessed at.
        assert_eq!(display_host("a%zz.example"), "a%zz.example");
        let long = format!("{}.attacker.example", "a".repeat(200));
        assert!(display_host(&long).ends_with("attacker.example"));
    }

    #[test]
    fn format_characters_are_recognised() {
        assert!(is_format_char('\u{202E}'));
        assert!(is_format_char('\u{200B}'));
        assert!(!is_format_char('a'));
        assert!(!is_format_char('é'));
    }
}
