//! The differential test: sluice's request validation against fge's json-schema-validator (API Gateway's),
//! over `tests/fge/corpus.jsonl` with fge's answers in `tests/fge/golden.jsonl` (see tests/fge/README.md).
//!
//! Every case is decided (valid or not) as fge decides it, and at least 99% are worded exactly as fge words
//! them; each case that differs is listed, with its reason, in `tests/fge/allowed.txt`. A schema fge refuses
//! must be refused here too; a schema sluice refuses (what cannot be reproduced, docs/CONTRACTS.md) is counted
//! and must be named in `allowed.txt` as well.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sluice_schema::{BodyError, RequestValidator, validate_text};

fn fge_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fge")
}

fn lines(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fge_dir().join(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `allowed.txt`: `id<TAB>reason` per line (`#` comments).
fn allowed() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(fge_dir().join("allowed.txt")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, why) = l.split_once('\t').unwrap_or((l, ""));
            assert!(!why.trim().is_empty(), "allowed.txt: {id} has no reason");
            (id.to_string(), why.to_string())
        })
        .collect()
}

/// What sluice answers: `Err` when it refuses the schema, else `None` (valid) or the error string.
fn sluice(schema: &str, body: &str) -> Result<Option<String>, String> {
    let validator = RequestValidator::from_text(schema).map_err(|e| e.to_string())?;
    match validate_text(&validator, body) {
        Ok(()) => Ok(None),
        Err(BodyError::NotJson) => Err("body is not JSON".into()),
        Err(e) => Ok(Some(e.validation_error_string().to_string())),
    }
}

#[test]
fn sluice_answers_as_fge_does() {
    let corpus: BTreeMap<String, Value> = lines("corpus.jsonl")
        .into_iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c))
        .collect();
    let allowed = allowed();
    let (mut compared, mut same_validity, mut same_answer, mut refused) = (0, 0, 0, 0);
    let mut unexplained = Vec::new();
    let mut differing = Vec::new();
    for g in lines("golden.jsonl") {
        let id = g["id"].as_str().unwrap();
        let c = &corpus[id];
        let (schema, body) = (c["schema"].as_str().unwrap(), c["body"].as_str().unwrap());
        let ours = sluice(schema, body);
        if g.get("error").is_some() {
            // fge refuses the schema (or the body): so must sluice.
            if let Ok(answer) = &ours
                && !allowed.contains_key(id)
            {
                unexplained.push(format!(
                    "{id}: fge refuses the schema ({}), sluice answers {answer:?}",
                    g["error"]
                ));
            }
            continue;
        }
        let theirs = g["answer"].as_str().map(str::to_string);
        let ours = match ours {
            Ok(a) => a,
            Err(why) => {
                refused += 1;
                if !allowed.contains_key(id) {
                    unexplained.push(format!(
                        "{id}: sluice refuses the schema: {why}\n  schema {schema}"
                    ));
                }
                continue;
            }
        };
        compared += 1;
        if ours.is_none() == theirs.is_none() {
            same_validity += 1;
        } else {
            unexplained.push(format!(
                "{id}: validity differs\n  schema {schema}\n  body   {body}\n  fge    {theirs:?}\n  sluice {ours:?}"
            ));
        }
        if ours == theirs {
            same_answer += 1;
        } else {
            differing.push(id.to_string());
            if !allowed.contains_key(id) {
                unexplained.push(format!(
                    "{id}: answer differs\n  schema {schema}\n  body   {body}\n  fge    {theirs:?}\n  sluice {ours:?}"
                ));
            }
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / compared.max(1) as f64;
    println!(
        "fge corpus: {compared} cases compared, {refused} refused by sluice; validity {same_validity}/{compared} ({:.2}%), exact answers {same_answer}/{compared} ({:.2}%)",
        pct(same_validity),
        pct(same_answer)
    );
    for u in &unexplained {
        println!("{u}");
    }
    assert!(
        unexplained.is_empty(),
        "{} unexplained differences (above)",
        unexplained.len()
    );
    assert_eq!(same_validity, compared, "validity must agree everywhere");
    assert!(pct(same_answer) >= 99.0, "exact answers below 99%");
}
