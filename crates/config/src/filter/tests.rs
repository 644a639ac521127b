//! The filter grammar's tests: what compiles, and each refusal located in the pattern.

use super::*;
use crate::json::parse;

fn problems(text: &str) -> Vec<(String, String)> {
    match compile(&parse(text).unwrap()) {
        Ok(_) => Vec::new(),
        Err(ps) => ps
            .into_iter()
            .map(|p| (text[p.span].to_string(), p.message))
            .collect(),
    }
}

#[test]
fn envelope_members_go_under_data_and_numbers_keep_their_text() {
    let f = compile(
        &parse(
            r#"{"partitionKey": ["a"], "body": {"n": [3.0e2]}, "sourceIp": [{"prefix": "10."}]}"#,
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        f.aws_pattern,
        r#"{"data":{"body":{"n":[3.0e2]},"sourceIp":[{"prefix":"10."}]},"partitionKey":["a"]}"#
    );
    let f = compile(
        &parse(r#"{"$or": [{"body": {"a": ["x"]}}, {"partitionKey": [{"prefix": "p"}]}]}"#)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        f.aws_pattern,
        r#"{"$or":[{"data":{"body":{"a":["x"]}}},{"partitionKey":[{"prefix":"p"}]}]}"#
    );
    assert_eq!(f.pattern.any_of[0].len(), 2);
}

#[test]
fn every_operator_of_the_grammar_compiles() {
    let text = r#"{"body": {
        "a": ["x", 1, true, null, ""],
        "b": [{"prefix": "us-"}, {"prefix": {"equals-ignore-case": "US-"}}],
        "c": [{"suffix": ".png"}, {"suffix": {"equals-ignore-case": ".PNG"}}],
        "d": [{"equals-ignore-case": "Alice"}],
        "f": [{"anything-but": "x"}, {"anything-but": 1}, {"anything-but": ["x", "y"]}, {"anything-but": [1, 2]}],
        "h": [{"numeric": ["=", 100]}, {"numeric": [">", 0, "<=", 5]}, {"numeric": ["<", 10]}],
        "i": [{"exists": true}], "j": [{"exists": false}],
        "nested": {"deeper": ["y"]},
        "$or": [{"p": ["1"]}, {"q": ["2"]}]
    }}"#;
    let f = compile(&parse(text).unwrap()).unwrap();
    let Field::Nested(body) = &f.pattern.fields[0].1.clone() else {
        panic!()
    };
    let Field::Nested(body) = &body.fields[0].1 else {
        panic!()
    };
    assert_eq!(body.fields.len(), 9);
    assert_eq!(body.any_of.len(), 1);
}

#[test]
fn grammar_errors_are_located() {
    let cases: &[(&str, &str, &str)] = &[
        (r#"{"kind": ["x"]}"#, "\"kind\"", "cannot name `kind`"),
        (r#"{"body": {"a": "x"}}"#, "\"x\"", "must be in a list"),
        (r#"{"body": {"a": []}}"#, "[]", "matches nothing"),
        (
            r#"{"body": {"a": [{"prefx": "x"}]}}"#,
            "\"prefx\"",
            "not a filter operator",
        ),
        (r#"{"body": {"a": [{"prefix": 1}]}}"#, "1", "takes a string"),
        (
            r#"{"body": {"a": [{"numeric": ["<", 5, ">", 1]}]}}"#,
            "[\"<\", 5, \">\", 1]",
            "lower bound",
        ),
        (
            r#"{"body": {"a": [{"numeric": [">", 6e9]}]}}"#,
            "[\">\", 6e9]",
            "5e9",
        ),
        (
            r#"{"body": {"a": [{"numeric": [">", 5, "<", 5]}]}}"#,
            "[\">\", 5, \"<\", 5]",
            "empty",
        ),
        (
            r#"{"body": {"a": [{"anything-but": ["x", 1]}]}}"#,
            "[\"x\", 1]",
            "only strings or only numbers",
        ),
        // EventBridge's operators that Lambda's filtering does not take.
        (
            r#"{"body": {"a": [{"wildcard": "a*b"}]}}"#,
            "\"wildcard\"",
            "EventBridge's, not Lambda's",
        ),
        (
            r#"{"sourceIp": [{"cidr": "10.0.0.0/8"}]}"#,
            "\"cidr\"",
            "EventBridge's, not Lambda's",
        ),
        (
            r#"{"body": {"a": [{"anything-but": {"prefix": "x"}}]}}"#,
            "\"prefix\"",
            "EventBridge's, not Lambda's",
        ),
        (
            r#"{"body": {"a": [{"anything-but": {"equals-ignore-case": "x"}}]}}"#,
            "\"equals-ignore-case\"",
            "EventBridge's, not Lambda's",
        ),
        (
            r#"{"body": {"a": [{"anything-but": {"suffix": ""}}]}}"#,
            "\"\"",
            "Null prefix/suffix not allowed",
        ),
        (
            r#"{"body": {"a": [{"anything-but": null}]}}"#,
            "null",
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            r#"{"body": {"a": [{"numeric": [">", 0, "<"]}]}}"#,
            "[\">\", 0, \"<\"]",
            "Value of < must be numeric",
        ),
        (
            r#"{"body": {"a": [{"exists": "yes"}]}}"#,
            "\"yes\"",
            "true or false",
        ),
        (
            r#"{"body": {"$or": [{"a": ["x"]}]}}"#,
            "[{\"a\": [\"x\"]}]",
            "at least two",
        ),
        (
            r#"{"body": {"a": [{"prefix": "x", "suffix": "y"}]}}"#,
            "{\"prefix\": \"x\", \"suffix\": \"y\"}",
            "exactly one",
        ),
        (r#"{"body": ["x"]}"#, "[\"x\"]", "request body"),
        (r#"{}"#, "{}", "every record"),
    ];
    for (text, at, fragment) in cases {
        let ps = problems(text);
        assert_eq!(ps.len(), 1, "{text}: {ps:?}");
        assert_eq!(ps[0].0, *at, "{text}");
        assert!(ps[0].1.contains(fragment), "{text}: {}", ps[0].1);
    }
}

#[test]
fn a_pattern_over_the_aws_size_limit_is_refused() {
    let values: Vec<String> = (0..800).map(|i| format!("\"v{i}\"")).collect();
    let text = format!(r#"{{"body": {{"a": [{}]}}}}"#, values.join(","));
    let ps = problems(&text);
    assert!(ps[0].1.contains("4096"), "{ps:?}");
}

#[test]
fn keys_are_paths_and_a_path_given_twice_keeps_its_last_rules() {
    let dotted =
        compile(&parse(r#"{"body": {"a.b": ["x"], "a": {"c": [1]}, "a.b": ["y"]}}"#).unwrap())
            .unwrap();
    let nested = compile(&parse(r#"{"body": {"a": {"b": ["y"], "c": [1]}}}"#).unwrap()).unwrap();
    assert_eq!(dotted.pattern, nested.pattern);
    // AWS takes the pattern as written.
    assert_eq!(
        dotted.aws_pattern,
        r#"{"data":{"body":{"a.b":["x"],"a":{"c":[1]},"a.b":["y"]}}}"#
    );
}
