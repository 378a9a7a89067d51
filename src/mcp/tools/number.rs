//! How the tools print a number for people: the calculator's results and the schema
//! checker's bounds in its messages. (No spec section: this is presentation.)

/// Integers print without a fraction; everything else in the shortest form that reads back
/// as the same `f64` (exponent notation for very large or small magnitudes).
///
/// Non-integers go through serde_json's float writer, which the bundle carries anyway,
/// rather than `core::fmt`'s, which would add about 20 KB of wasm for this one call.
pub fn format_number(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return (value as i64).to_string();
    }
    match serde_json::Number::from_f64(value) {
        Some(n) => n.to_string().replace("e+", "e"),
        None => "not a finite number".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_plainly() {
        assert_eq!(format_number(512.0), "512");
        assert_eq!(format_number(-4.0), "-4");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1e20), "1e20");
        assert_eq!(format_number(-2.5e-9), "-2.5e-9");
        assert_eq!(format_number(0.125), "0.125");
    }
}
