//! Text shown to a person: what the `url` crate does not do for us. Hosts are
//! shown by [`crate::urls::display_host`] (punycode, with the Unicode form
//! beside it, marked); what is left here is recognising invisible formatting
//! characters in names a client chose.

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
    fn format_characters_are_recognised() {
        assert!(is_format_char('\u{202E}'));
        assert!(is_format_char('\u{200B}'));
        assert!(!is_format_char('a'));
        assert!(!is_format_char('é'));
    }
}
