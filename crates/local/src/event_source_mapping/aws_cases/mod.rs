//! The filter matcher and grammar against AWS's own answers.
//!
//! `cases.json` holds (pattern, event, answer) cases recorded on real AWS: EventBridge's `TestEventPattern`
//! (match, no match, or refused with AWS's reason) and Lambda `CreateEventSourceMapping` with SQS filter
//! criteria, from LocalStack's AWS-validated tests; each case says where it was recorded (repository,
//! commit, path, test). `extract.py` re-extracts them. Lambda's filtering takes a subset of EventBridge's
//! operators: a case using another one (`lambda_grammar: false`) must be refused by sluice's config, as
//! `CreateEventSourceMapping` would refuse it; every other case must get AWS's answer.

use serde::Deserialize;
use sluice_config::filter::{self, Field, Pattern};
use sluice_config::json;

use super::filter::matches;

#[derive(Deserialize)]
struct Case {
    name: String,
    recorded: String,
    pattern: String,
    event: String,
    expect: String,
    #[serde(default)]
    reason: Option<String>,
    lambda_grammar: bool,
}

#[derive(Debug, PartialEq)]
enum Answer {
    Match,
    NoMatch,
    Refused(String),
}

fn cases() -> Vec<Case> {
    serde_json::from_str(include_str!("cases.json")).expect("cases.json is a list of cases")
}

/// The pattern as the matcher sees it: an AWS pattern is written on the whole record, so it is checked as
/// sluice's `{"body": P}` and `P` is taken back out of `{"data": {"body": P}}`.
fn compile(pattern: &str) -> Result<Pattern, String> {
    let json = json::parse(pattern).map_err(|e| format!("not JSON: {e:?}"))?;
    let wrapped = format!("{{\"body\": {}}}", filter::render(&json));
    let f =
        filter::compile(&json::parse(&wrapped).map_err(|e| format!("{e:?}"))?).map_err(|ps| {
            ps.into_iter()
                .map(|p| p.message)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let Field::Nested(data) = &f.pattern.fields[0].1 else {
        unreachable!("a body pattern is under data")
    };
    let Field::Nested(body) = &data.fields[0].1 else {
        unreachable!("a body pattern is an object")
    };
    Ok(body.clone())
}

fn sluice(case: &Case) -> Answer {
    match compile(&case.pattern) {
        Err(reason) => Answer::Refused(reason),
        Ok(pattern) => {
            let event = json::parse(&case.event).expect("a recorded event is JSON");
            if matches(&pattern, &event) {
                Answer::Match
            } else {
                Answer::NoMatch
            }
        }
    }
}

/// Whether sluice gives AWS's answer: Lambda's for a case in its grammar (the same answer), and a refusal
/// for one outside it (Lambda refuses the pattern).
fn agrees(case: &Case, answer: &Answer) -> bool {
    if !case.lambda_grammar {
        return matches!(answer, Answer::Refused(_));
    }
    matches!(
        (case.expect.as_str(), answer),
        ("match", Answer::Match) | ("no match", Answer::NoMatch) | ("refused", Answer::Refused(_))
    )
}

#[test]
fn every_aws_recorded_case_gets_aws_answer() {
    let cases = cases();
    let mut disagreements = Vec::new();
    let (mut lambda, mut lambda_agree, mut outside, mut outside_refused) = (0, 0, 0, 0);
    for case in &cases {
        let answer = sluice(case);
        let agree = agrees(case, &answer);
        if case.lambda_grammar {
            lambda += 1;
            lambda_agree += usize::from(agree);
        } else {
            outside += 1;
            outside_refused += usize::from(agree);
        }
        if !agree {
            disagreements.push(format!(
                "{}: AWS {}{}, sluice {answer:?} (pattern {}, event {}; recorded {})",
                case.name,
                case.expect,
                case.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                case.pattern,
                case.event,
                case.recorded,
            ));
        }
    }
    eprintln!(
        "{} AWS-recorded cases: {lambda} in Lambda's grammar, {lambda_agree} with AWS's answer; \
         {outside} outside it, {outside_refused} refused",
        cases.len(),
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree with AWS:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

/// A refusal in Lambda's grammar quotes AWS's reason (EventBridge's, where `TestEventPattern` recorded one;
/// Lambda's own `Invalid filter pattern definition.` names none).
#[test]
fn refusals_quote_aws_reasons() {
    let mut missing = Vec::new();
    let mut quoted = 0;
    for case in cases()
        .into_iter()
        .filter(|c| c.lambda_grammar && c.expect == "refused")
    {
        let Some(reason) = case
            .reason
            .as_deref()
            .and_then(|r| r.split_once("Reason: "))
            .map(|r| r.1)
        else {
            continue;
        };
        match sluice(&case) {
            Answer::Refused(message) if message.contains(reason) => quoted += 1,
            answer => missing.push(format!("{}: AWS {reason:?}, sluice {answer:?}", case.name)),
        }
    }
    eprintln!("{quoted} refusals quote AWS's reason");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
