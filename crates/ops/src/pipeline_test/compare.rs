//! Expected members against a stored item: a subset match (objects: the members named must be there and
//! match, others may be; arrays and scalars: equal, numbers by value), and its differences worded for the
//! report.

use serde_json::Value;

/// Every difference between `expected` (a subset) and `got`, one line each (`member payload.kind differs:
/// expected "order", got "test"`); empty when `got` matches.
pub fn differences(expected: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(expected, got, "", &mut out);
    out
}

fn walk(expected: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(want), Value::Object(have)) => {
            for (name, value) in want {
                let at = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match have.get(name) {
                    Some(v) => walk(value, v, &at, out),
                    None => out.push(format!("member {at} is missing: expected {}", show(value))),
                }
            }
        }
        _ if equal(expected, got) => {}
        _ => out.push(format!(
            "member {} differs: expected {}, got {}",
            if path.is_empty() { "(the item)" } else { path },
            show(expected),
            show(got)
        )),
    }
}

/// JSON equality with numbers compared by value (`1` = `1.0`), as DynamoDB's numbers are.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// A value for a report line: compact JSON, cut after 200 characters.
pub fn show(value: &Value) -> String {
    cut(&value.to_string(), 200)
}

/// `text`, cut after `max` characters (with an ellipsis).
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subset_matches_and_numbers_compare_by_value() {
        let item = json!({"orderId": "o-1", "version": 2, "payload": {"kind": "order", "amount": 12.5, "items": ["A"]}});
        assert!(differences(&json!({}), &item).is_empty());
        assert!(
            differences(
                &json!({"version": 2.0, "payload": {"kind": "order"}}),
                &item
            )
            .is_empty()
        );
        assert!(differences(&json!({"payload": {"items": ["A"]}}), &item).is_empty());
    }

    #[test]
    fn each_difference_names_the_member_and_both_values() {
        let item = json!({"payload": {"kind": "test", "items": ["A", "B"]}});
        let diffs = differences(
            &json!({"payload": {"kind": "order", "items": ["A"], "status": "paid"}}),
            &item,
        );
        assert_eq!(
            diffs,
            vec![
                r#"member payload.items differs: expected ["A"], got ["A","B"]"#,
                r#"member payload.kind differs: expected "order", got "test""#,
                r#"member payload.status is missing: expected "paid""#,
            ]
        );
        assert_eq!(
            differences(
                &json!({"payload": {"kind": "order"}}),
                &json!({"payload": 3})
            ),
            vec![r#"member payload differs: expected {"kind":"order"}, got 3"#]
        );
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
