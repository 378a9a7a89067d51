//! Checks a JSON value against the small part of JSON Schema 2020-12 that tool schemas here
//! use: `type`, `enum`, `properties`, `required`, `additionalProperties`, `items`, `minimum`,
//! `maximum`, `minLength`, `maxLength`. Other keywords are ignored, never guessed at.
//!
//! Hand-written because a full validator crate would weigh more in the wasm bundle than every
//! tool together; the messages name the argument and the rule so a model can correct itself.

use serde_json::Value;

/// `Ok` when `value` satisfies `schema`; otherwise the first violation, in plain words.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "")
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        // `true`, `{}` and other non-object schemas accept everything here.
        return Ok(());
    };
    let at = |p: &str| {
        if p.is_empty() {
            "the arguments".to_owned()
        } else {
            format!("`{p}`")
        }
    };
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !names.iter().any(|t| has_type(value, t)) {
            return Err(format!(
                "{} must be {}, not {}",
                at(path),
                names
                    .iter()
                    .map(|t| article(t))
                    .collect::<Vec<_>>()
                    .join(" or "),
                describe(value)
            ));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(format!("{} must be one of {}", at(path), list.join(", ")));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                return Err(format!(
                    "{} must be at least {} (got {})",
                    at(path),
                    number(min),
                    number(n)
                ));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                return Err(format!(
                    "{} must be at most {} (got {})",
                    at(path),
                    number(max),
                    number(n)
                ));
            }
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if len < min {
                return Err(format!(
                    "{} must be at least {min} characters long",
                    at(path)
                ));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if len > max {
                return Err(format!(
                    "{} must be at most {max} characters long (got {len})",
                    at(path)
                ));
            }
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    return Err(format!("{} is required", at(&join(path, name))));
                }
            }
        }
        for (key, item) in obj {
            match props.and_then(|p| p.get(key)) {
                Some(sub) => check(sub, item, &join(path, key))?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        let known: Vec<String> = props
                            .map(|p| p.keys().map(|k| format!("`{k}`")).collect())
                            .unwrap_or_default();
                        let hint = if known.is_empty() {
                            "this tool takes no arguments".to_owned()
                        } else {
                            format!("known: {}", known.join(", "))
                        };
                        return Err(format!(
                            "unknown argument `{}` ({hint})",
                            join(path, &crate::mcp::jsonrpc::truncate(key, 60))
                        ));
                    }
                    Some(sub @ Value::Object(_)) => check(sub, item, &join(path, key))?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(items, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "object" | "array" | "integer" => format!("an {type_name}"),
        "null" => "null".to_owned(),
        other => format!("a {other}"),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Numbers in messages go through the tools' number printer (serde_json's float writer),
/// which keeps `core::fmt`'s float formatting out of the wasm bundle.
fn number(value: f64) -> String {
    super::number::format_number(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
                "sort": {"type": "string", "enum": ["created", "updated"]},
                "name": {"type": "string", "minLength": 1, "maxLength": 5},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["name"],
            "additionalProperties": false
        })
    }

    #[test]
    fn a_matching_value_passes() {
        assert_eq!(
            validate(
                &schema(),
                &json!({"name": "a", "per_page": 5, "sort": "created"})
            ),
            Ok(())
        );
    }

    #[test]
    fn each_rule_names_the_argument() {
        let cases = [
            (json!([]), "the arguments must be an object, not an array"),
            (json!({}), "`name` is required"),
            (
                json!({"name": 1}),
                "`name` must be a string, not an integer",
            ),
            (
                json!({"name": ""}),
                "`name` must be at least 1 characters long",
            ),
            (
                json!({"name": "abcdef"}),
                "`name` must be at most 5 characters long (got 6)",
            ),
            (
                json!({"name": "a", "per_page": 0}),
                "`per_page` must be at least 1 (got 0)",
            ),
            (
                json!({"name": "a", "per_page": 101}),
                "`per_page` must be at most 100 (got 101)",
            ),
            (
                json!({"name": "a", "per_page": 2.5}),
                "`per_page` must be an integer, not a fractional number",
            ),
            (
                json!({"name": "a", "sort": "stars"}),
                "`sort` must be one of \"created\", \"updated\"",
            ),
            (
                json!({"name": "a", "tags": ["x", 2]}),
                "`tags[1]` must be a string, not an integer",
            ),
        ];
        for (value, message) in cases {
            assert_eq!(
                validate(&schema(), &value),
                Err(message.to_owned()),
                "{value}"
            );
        }
    }

    #[test]
    fn unknown_arguments_are_refused_when_additional_properties_is_false() {
        let err = validate(&schema(), &json!({"name": "a", "nmae": 1})).unwrap_err();
        assert!(err.starts_with("unknown argument `nmae`"), "{err}");
        let none = json!({"type": "object", "additionalProperties": false});
        assert_eq!(
            validate(&none, &json!({"x": 1})),
            Err("unknown argument `x` (this tool takes no arguments)".to_owned())
        );
    }

    #[test]
    fn integral_floats_count_as_integers_and_type_lists_work() {
        assert_eq!(validate(&json!({"type": "integer"}), &json!(3.0)), Ok(()));
        let nullable = json!({"type": ["string", "null"]});
        assert_eq!(validate(&nullable, &Value::Null), Ok(()));
        assert_eq!(
            validate(&nullable, &json!(true)),
            Err("the arguments must be a string or null, not a boolean".to_owned())
        );
    }
}
