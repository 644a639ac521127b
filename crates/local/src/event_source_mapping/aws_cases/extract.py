#!/usr/bin/env python3
"""Re-extracts the AWS-recorded filter cases in cases.json from LocalStack's AWS-validated tests.

LocalStack records its `@markers.aws.validated` tests against real AWS (the *.validation.json files say when);
their outcomes are AWS's answers:
- EventBridge `TestEventPattern` (tests/aws/services/events/test_events_patterns.py): each template of
  event_pattern_templates/ is a (pattern, event) pair; no suffix = AWS answered true, `_NEG` = false, `_EXC` =
  AWS refused the pattern (InvalidEventPatternException, its reason in the .snapshot.json); plus the
  duplicate-key case (complex_multi_key_*.json) and the escape-character case
  (test_event_pattern_with_escape_characters), answered true.
- Lambda `CreateEventSourceMapping` with SQS filter criteria
  (tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_sqs.py): `test_sqs_event_filter`
  (the first message is delivered, the second filtered out; the record is seen as {"body": <message>}) and
  `test_sqs_invalid_event_filter` (refused: InvalidParameterValueException).

Usage: extract.py <localstack git dir> > /tmp/cases.json && mv /tmp/cases.json cases.json
(needs `json5` from PyPI; reads the repository's HEAD; the recorded commit: 8b9a79f05846835cf4dff63ab7eefdde9df83783).
Numbers keep their text and duplicate keys are kept, as AWS received them.
"""

import ast
import json
import subprocess
import sys

import json5

REPO = "localstack/localstack"
EVENTS = "tests/aws/services/events"
TEMPLATES = f"{EVENTS}/event_pattern_templates"
SQS = "tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_sqs"


def git(gitdir, *args):
    return subprocess.run(["git", "--git-dir", gitdir, *args], check=True, capture_output=True, text=True).stdout


class Num(str):
    pass


class Obj(list):
    pass


def dump(v):
    """Compact JSON keeping numbers' text and duplicate keys."""
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, Obj):
        return "{" + ",".join(json.dumps(k) + ":" + dump(x) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dump(x) for x in v) + "]"
    return json.dumps(v)


def load5(text):
    return json5.loads(text, parse_float=Num, parse_int=Num, object_pairs_hook=Obj)


# Operators EventBridge takes and Lambda's event filtering does not (its developer guide's rule-syntax table;
# EventBridge's operator table marks them "Pipe support: No", or does not list them for pipes).
NOT_LAMBDA = ("wildcard", "cidr")


def outside_lambda(v, found):
    """The operators of a pattern that Lambda's filtering does not take."""
    if isinstance(v, Obj):
        for k, x in v:
            outside_lambda(x, found)
    elif isinstance(v, list):
        for rule in v:
            if isinstance(rule, Obj) and len(rule) == 1:
                op, x = rule[0]
                if op in NOT_LAMBDA:
                    found.add(op)
                elif op == "anything-but" and isinstance(x, Obj) and len(x) == 1:
                    found.add(f"anything-but/{x[0][0]}")
            if isinstance(rule, (Obj, list)):
                outside_lambda(rule, found)  # `$or` alternatives are patterns
    return found


def classify(case, pattern):
    outside = sorted(outside_lambda(pattern, set()))
    case["lambda_grammar"] = not outside
    if outside:
        case["outside_lambda"] = outside
    return case


def get(obj, key):
    return next(v for k, v in obj if k == key)


def main(gitdir):
    commit = git(gitdir, "rev-parse", "HEAD").strip()
    cases = []

    validation = json.loads(git(gitdir, "show", f"HEAD:{EVENTS}/test_events_patterns.validation.json"))
    snapshot = json.loads(git(gitdir, "show", f"HEAD:{EVENTS}/test_events_patterns.snapshot.json"))
    test = f"{EVENTS}/test_events_patterns.py::TestEventPattern::test_event_pattern"
    names = sorted(
        p.rsplit("/", 1)[-1][: -len(".json5")]
        for p in git(gitdir, "ls-tree", "--name-only", f"HEAD:{TEMPLATES}/").split()
        if p.endswith(".json5")
    )
    for name in names:
        key = f"{test}[{name}]"
        if key not in validation:
            continue  # not validated against AWS
        template = load5(git(gitdir, "show", f"HEAD:{TEMPLATES}/{name}.json5"))
        case = {
            "name": name,
            "recorded": f"{REPO}@{commit}:{TEMPLATES}/{name}.json5 ({key}, validated {validation[key]['last_validated_date']})",
            "pattern": dump(get(template, "EventPattern")),
            "event": dump(get(template, "Event")),
        }
        classify(case, get(template, "EventPattern"))
        if name.endswith("_EXC"):
            error = snapshot[key]["recorded-content"][name]["exception_message"]["Error"]
            case["expect"] = "refused"
            case["reason"] = error["Message"]
        else:
            case["expect"] = "no match" if name.endswith("_NEG") else "match"
        cases.append(case)

    key = f"{EVENTS}/test_events_patterns.py::TestEventPattern::test_event_pattern_with_multi_key"
    if key in validation:
        cases.append({
            "name": "complex_multi_key",
            "recorded": f"{REPO}@{commit}:{TEMPLATES}/complex_multi_key_event_pattern.json ({key}, validated {validation[key]['last_validated_date']})",
            "pattern": dump(load5(git(gitdir, "show", f"HEAD:{TEMPLATES}/complex_multi_key_event_pattern.json"))),
            "event": dump(load5(git(gitdir, "show", f"HEAD:{TEMPLATES}/complex_multi_key_event.json"))),
            "expect": "match",
            "lambda_grammar": True,
        })

    key = f"{EVENTS}/test_events_patterns.py::TestEventPattern::test_event_pattern_with_escape_characters"
    if key in validation:
        tree = ast.parse(git(gitdir, "show", f"HEAD:{EVENTS}/test_events_patterns.py"))
        fn = next(f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == key.rsplit("::", 1)[1])
        texts = {
            a.targets[0].id: ast.literal_eval(a.value)
            for a in fn.body
            if isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.Constant)
        }
        cases.append({
            "name": "escape_characters",
            "recorded": f"{REPO}@{commit}:{EVENTS}/test_events_patterns.py ({key}, validated {validation[key]['last_validated_date']})",
            "pattern": dump(load5(texts["event_pattern"])),
            "event": dump(load5(texts["event"])),
            "expect": "match",
            "lambda_grammar": True,
        })

    sqs_validation = json.loads(git(gitdir, "show", f"HEAD:{SQS}.validation.json"))
    sqs_snapshot = json.loads(git(gitdir, "show", f"HEAD:{SQS}.snapshot.json"))
    tree = ast.parse(git(gitdir, "show", f"HEAD:{SQS}.py"))
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or fn.name not in ("test_sqs_event_filter", "test_sqs_invalid_event_filter"):
            continue
        params = next(
            d.args[1] for d in fn.decorator_list
            if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "parametrize"
        )
        key_prefix = f"{SQS}.py::TestSQSEventSourceMapping::{fn.name}"
        for index, p in enumerate(params.elts):
            if fn.name == "test_sqs_event_filter":
                if any(getattr(k.value, "func", None) is not None for k in p.keywords if k.arg == "marks"):
                    continue  # skipped: not run against AWS
                pid = next(k.value.value for k in p.keywords if k.arg == "id")
                key = f"{key_prefix}[{pid}]"
                if key not in sqs_validation:
                    continue
                pattern, matching, not_matching = (ast.literal_eval(a) for a in p.args)
                for item, expect in ((matching, "match"), (not_matching, "no match")):
                    cases.append({
                        "name": f"lambda_sqs_{pid}_{expect.replace(' ', '_')}",
                        "recorded": f"{REPO}@{commit}:{SQS}.py ({key}, validated {sqs_validation[key]['last_validated_date']}); the SQS record as filtered: {{\"body\": <message>}}",
                        "pattern": json.dumps(pattern, separators=(",", ":")),
                        "event": json.dumps({"body": item}, separators=(",", ":")),
                        "expect": expect,
                        "lambda_grammar": True,
                    })
            else:
                value = ast.literal_eval(p)
                pid = value if isinstance(value, str) else ("None" if value is None else f"invalid_filter{index}")
                key = f"{key_prefix}[{pid}]"
                if key not in sqs_validation or value is None:
                    continue
                error = sqs_snapshot[key]["recorded-content"]["create_event_source_mapping_exception"]["Error"]
                cases.append({
                    "name": f"lambda_sqs_invalid_{index}",
                    "recorded": f"{REPO}@{commit}:{SQS}.py ({key}, validated {sqs_validation[key]['last_validated_date']})",
                    "pattern": value if isinstance(value, str) else json.dumps(value, separators=(",", ":")),
                    "event": "{}",
                    "expect": "refused",
                    "reason": f"{error['Code']}: {error['Message']}",
                    "lambda_grammar": True,
                })

    json.dump(cases, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
