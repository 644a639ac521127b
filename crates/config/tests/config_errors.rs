//! One test per class of pipeline.toml error: each asserts the message, the line and column, and the
//! suggestion where there is one. Plus: the shipped file is valid, several errors come at once, and no
//! mangled input makes validation panic.

use std::path::PathBuf;

use sluice_config::{self as config, Attempts, ConfigError, PartitionKeySource, StreamTarget};

/// The workspace root (the folder holding the shipped pipeline.toml).
fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A small valid pipeline; tests replace one line of it.
const BASE: &str = r#"[pipeline]
name = "demo"
region = "eu-west-1"

[auth]
type = "basic"

[streams.Events]
shard_count = 2

[tables.Items]
partition_key = { name = "id" }

[queues.Dead]

[routes.put]
path = "/put/{stream}/{id}"
stream = { path_param = "stream" }
partition_key = { path_param = "id" }

[consumers.writer]
stream = "Events"
table = "Items"
dead_letter_queue = "Dead"
"#;

fn with(replace: &str, by: &str) -> String {
    assert!(BASE.contains(replace), "BASE has no {replace:?}");
    BASE.replacen(replace, by, 1)
}

fn errors(src: &str) -> Vec<ConfigError> {
    match config::parse(src, "pipeline.toml") {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(e) => e.errors,
    }
}

/// The single error of `src`, checked for line, column and a message fragment.
fn one(src: &str, line: usize, column: usize, fragment: &str) -> ConfigError {
    let errs = errors(src);
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
    let e = errs.into_iter().next().unwrap();
    assert_eq!((e.line, e.column), (line, column), "location of {e:?}");
    assert!(
        e.message.contains(fragment),
        "message {:?} lacks {fragment:?}",
        e.message
    );
    e
}

#[test]
fn base_and_shipped_files_are_valid() {
    let p = config::parse(BASE, "pipeline.toml").expect("BASE is valid");
    assert_eq!(p.stage, "prod");
    assert_eq!(p.streams["Events"].physical_name, "demo-Events");
    assert_eq!(
        p.routes["put"].stream,
        StreamTarget::PathParam {
            param: "stream".into(),
            allowed: vec!["Events".into()]
        }
    );
    assert_eq!(
        p.routes["put"].partition_key,
        PartitionKeySource::PathParam("id".into())
    );
    assert_eq!(p.consumers["writer"].batch_size, 100);
    assert_eq!(p.consumers["writer"].retry_attempts, Attempts::Finite(3));

    let shipped = config::load(&project_root().join("pipeline.toml"))
        .expect("the shipped pipeline.toml is valid");
    let c = &shipped.consumers["event-writer"];
    assert_eq!((c.batch_size, c.starting_position.as_str()), (10, "LATEST"));
    assert_eq!(shipped.stage, "prod");
    assert_eq!(
        shipped.routes["submit"].path,
        "/submit/{streamName}/{eventId}"
    );
    assert_eq!(
        shipped.routes["submit"].concrete_path("GatewayEventsStream"),
        "/submit/GatewayEventsStream/{eventId}"
    );
    assert!(
        shipped.tables.contains_key("EventTable")
            && shipped.queues.contains_key("LambdaDeadLetterQueue")
    );
}

#[test]
fn toml_syntax_error_is_located() {
    one(&with("shard_count = 2", "shard_count = = 2"), 9, 15, "");
}

#[test]
fn unknown_key_suggests_the_closest() {
    let e = one(
        &with("shard_count = 2", "shard_cuont = 2"),
        9,
        1,
        "unknown key `shard_cuont`",
    );
    assert_eq!(e.help.as_deref(), Some("did you mean `shard_count`?"));
}

#[test]
fn unknown_key_far_from_anything_lists_the_valid_keys() {
    let e = one(
        &with("[queues.Dead]", "[queues.Dead]\ncolour = \"red\""),
        15,
        1,
        "unknown key `colour`",
    );
    assert!(e.help.unwrap().contains("`message_retention_seconds`"));
}

#[test]
fn missing_required_key_is_named() {
    let errs = errors(&with("table = \"Items\"\n", ""));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("names no `table`"),
        "{:?}",
        errs[0]
    );
    assert_eq!(
        errs[0].line, 21,
        "points at the consumer's table: {:?}",
        errs[0]
    );
}

#[test]
fn wrong_type_is_located() {
    one(
        &with("shard_count = 2", "shard_count = \"two\""),
        9,
        15,
        "invalid type",
    );
}

#[test]
fn dangling_references_suggest_the_declared_name() {
    let e = one(
        &with("table = \"Items\"", "table = \"Item\""),
        23,
        9,
        "`table` refers to \"Item\", which is not declared in [tables]",
    );
    assert_eq!(e.help.as_deref(), Some("did you mean `Items`?"));
    let e = one(
        &with("stream = \"Events\"", "stream = \"Logs\""),
        22,
        10,
        "not declared in [streams]",
    );
    assert_eq!(e.help.as_deref(), Some("declared streams: `Events`"));
    let e = one(
        &with(
            "dead_letter_queue = \"Dead\"",
            "dead_letter_queue = \"Deed\"",
        ),
        24,
        21,
        "not declared in [queues]",
    );
    assert_eq!(e.help.as_deref(), Some("did you mean `Dead`?"));
}

#[test]
fn route_stream_allow_list_is_checked() {
    let src = with(
        "stream = { path_param = \"stream\" }",
        "stream = { path_param = \"stream\", allowed = [\"Event\"] }",
    );
    let e = one(&src, 18, 10, "`stream.allowed` refers to \"Event\"");
    assert_eq!(e.help.as_deref(), Some("did you mean `Events`?"));
}

#[test]
fn aws_limits_are_enforced() {
    let cases = [
        (
            "dead_letter_queue = \"Dead\"",
            "dead_letter_queue = \"Dead\"\nbatch_size = 10001",
            25,
            14,
            "`batch_size` is 10001, but must be between 1 and 10000",
        ),
        (
            "dead_letter_queue = \"Dead\"",
            "dead_letter_queue = \"Dead\"\nbatching_window_seconds = 301",
            25,
            27,
            "`batching_window_seconds` is 301, but must be between 0 and 300",
        ),
        (
            "dead_letter_queue = \"Dead\"",
            "dead_letter_queue = \"Dead\"\nparallelization_factor = 11",
            25,
            26,
            "`parallelization_factor` is 11, but must be between 1 and 10",
        ),
        (
            "dead_letter_queue = \"Dead\"",
            "dead_letter_queue = \"Dead\"\nretry_attempts = 10001",
            25,
            18,
            "`retry_attempts` is 10001, but must be -1 or between 0 and 10000",
        ),
        (
            "dead_letter_queue = \"Dead\"",
            "dead_letter_queue = \"Dead\"\nmaximum_record_age_seconds = 59",
            25,
            30,
            "must be -1 or between 60 and 604800",
        ),
        (
            "shard_count = 2",
            "shard_count = 2\nretention_hours = 23",
            10,
            19,
            "`retention_hours` is 23, but must be between 24 and 8760",
        ),
        (
            "shard_count = 2",
            "shard_count = 2\nretention_hours = 8761",
            10,
            19,
            "between 24 and 8760",
        ),
        (
            "type = \"basic\"",
            "type = \"basic\"\ncache_ttl_seconds = 3601",
            7,
            21,
            "`cache_ttl_seconds` is 3601, but must be between 0 and 3600",
        ),
    ];
    for (from, to, line, col, msg) in cases {
        one(&with(from, to), line, col, msg);
    }
}

#[test]
fn infinite_retries_are_refused_unless_allowed() {
    let src = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nretry_attempts = -1",
    );
    let e = one(&src, 25, 18, "retries a failing batch forever");
    assert!(e.help.unwrap().contains("allow_infinite_retries = true"));
    let allowed = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nretry_attempts = -1\nallow_infinite_retries = true",
    );
    let p = config::parse(&allowed, "pipeline.toml").expect("explicitly allowed");
    assert_eq!(p.consumers["writer"].retry_attempts, Attempts::Forever);
    let age = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nmaximum_record_age_seconds = -1",
    );
    one(&age, 25, 30, "keeps retrying records until they expire");
}

#[test]
fn name_rules_and_lengths_are_enforced() {
    one(
        &with("[streams.Events]", "[streams.\"Ev ents\"]")
            .replace("stream = \"Events\"", "stream = \"Ev ents\""),
        8,
        10,
        "stream name \"Ev ents\" contains ' '",
    );
    let long = "Q".repeat(76); // 76 + "demo-" = 81 > 80
    one(
        &with("[queues.Dead]", &format!("[queues.{long}]"))
            .replace("= \"Dead\"", &format!("= \"{long}\"")),
        14,
        9,
        "is 81 characters long; AWS allows 1 to 80",
    );
    one(
        &with("name = \"demo\"", "name = \"1demo\""),
        2,
        8,
        "must start with a letter",
    );
    one(
        &with("name = \"demo\"", "name = \"demo_x\""),
        2,
        8,
        "contains '_'",
    );
    one(
        &with("[tables.Items]", "[tables.\"It/ems\"]").replace("= \"Items\"", "= \"It/ems\""),
        11,
        9,
        "table name \"It/ems\" contains '/'",
    );
}

#[test]
fn path_parameters_must_exist_in_the_path() {
    let e = one(
        &with(
            "partition_key = { path_param = \"id\" }",
            "partition_key = { path_param = \"ident\" }",
        ),
        19,
        17,
        "uses path parameter `ident`, which is not in the route's path",
    );
    assert_eq!(
        e.help.as_deref(),
        Some("the path's parameters: `stream`, `id`")
    );
    one(
        &with(
            "path = \"/put/{stream}/{id}\"",
            "path = \"/put/{stream}/{id}/{id}\"",
        ),
        17,
        8,
        "appears twice",
    );
    one(
        &with(
            "path = \"/put/{stream}/{id}\"",
            "path = \"put/{stream}/{id}\"",
        ),
        17,
        8,
        "must start with '/'",
    );
}

#[test]
fn invalid_choices_suggest_the_closest_value() {
    let src = with(
        "[queues.Dead]",
        "[functions.writer]\narchitecture = \"arm\"\n\n[queues.Dead]",
    );
    let e = one(
        &src,
        15,
        16,
        "`architecture` is \"arm\", which is not a valid value",
    );
    assert!(e.help.unwrap().starts_with("did you mean `arm64`?"));
    let src = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nstarting_position = \"latest\"",
    );
    let e = one(&src, 25, 21, "`starting_position`");
    assert!(e.help.unwrap().starts_with("did you mean `LATEST`?"));
}

#[test]
fn capacity_settings_must_match_the_mode() {
    one(
        &with(
            "partition_key = { name = \"id\" }",
            "partition_key = { name = \"id\" }\nbilling_mode = \"provisioned\"\nread_capacity = 5",
        ),
        13,
        16,
        "needs `write_capacity`",
    );
    one(
        &with(
            "partition_key = { name = \"id\" }",
            "partition_key = { name = \"id\" }\nread_capacity = 5",
        ),
        13,
        17,
        "is on-demand, so `read_capacity` does not apply",
    );
    one(
        &with("shard_count = 2", "mode = \"on-demand\"\nshard_count = 2"),
        10,
        15,
        "is on-demand, so `shard_count` does not apply",
    );
}

#[test]
fn conflicting_routes_and_missing_auth_are_reported() {
    let dup = format!(
        "{BASE}\n[routes.again]\npath = \"/put/{{s}}/{{key}}\"\nstream = {{ path_param = \"s\" }}\npartition_key = {{ path_param = \"key\" }}\n"
    );
    one(&dup, 27, 8, "has the same method and path as route \"put\"");
    let no_auth = with("[auth]\ntype = \"basic\"\n", "")
        .replace("path = \"/put", "auth = \"basic\"\npath = \"/put");
    one(
        &no_auth,
        15,
        8,
        "uses auth \"basic\", but there is no [auth] section",
    );
}

#[test]
fn region_and_log_retention_are_checked() {
    one(
        &with("region = \"eu-west-1\"", "region = \"europe\""),
        3,
        10,
        "not an AWS region name",
    );
    let src = with(
        "[queues.Dead]",
        "[functions.writer]\nlog_retention_days = 10\n\n[queues.Dead]",
    );
    let e = one(
        &src,
        15,
        22,
        "`log_retention_days` is 10, which CloudWatch Logs does not offer",
    );
    assert!(e.help.unwrap().contains("the closest is 7"));
}

#[test]
fn several_errors_are_reported_at_once_in_file_order() {
    let src = BASE
        .replace("region = \"eu-west-1\"", "region = \"nowhere\"")
        .replace("shard_count = 2", "shard_count = 0")
        .replace("table = \"Items\"", "table = \"Itemz\"");
    let errs = errors(&src);
    let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 9, 23], "{errs:#?}");
    let rendered = config::parse(&src, "pipeline.toml").unwrap_err();
    let plain = rendered.to_plain();
    assert!(
        plain.contains("pipeline.toml:3:10: `region` is \"nowhere\""),
        "{plain}"
    );
    assert!(
        plain.contains("pipeline.toml:23:9: `table` refers to \"Itemz\""),
        "{plain}"
    );
    let graphic = rendered.render();
    assert!(
        graphic.contains("table = \"Itemz\""),
        "the rendering shows the line: {graphic}"
    );
    assert!(
        graphic.contains("[pipeline.toml:23:9]"),
        "and its location: {graphic}"
    );
}

#[test]
fn no_mangled_input_panics() {
    let shipped = std::fs::read_to_string(project_root().join("pipeline.toml")).unwrap();
    let mut checked = 0;
    // Every prefix at a char boundary, and the file with each line removed or doubled.
    for (i, _) in shipped.char_indices().step_by(7) {
        let _ = config::parse(&shipped[..i], "pipeline.toml");
        checked += 1;
    }
    let lines: Vec<&str> = shipped.lines().collect();
    for i in 0..lines.len() {
        let mut v = lines.clone();
        v.remove(i);
        let _ = config::parse(&v.join("\n"), "pipeline.toml");
        let mut d = lines.clone();
        d.insert(i, lines[i]);
        let _ = config::parse(&d.join("\n"), "pipeline.toml");
        checked += 2;
    }
    for weird in [
        "",
        "\u{0}",
        "[pipeline]\nname = \"é\u{301}\"\nregion = \"us-east-1\"",
        "[[pipeline]]",
        "pipeline = 3",
    ] {
        assert!(config::parse(weird, "pipeline.toml").is_err());
    }
    assert!(checked > 100);
}

#[test]
fn a_key_named_like_a_writer_attribute_is_refused() {
    for (from, to, line, col) in [
        (
            "partition_key = { name = \"id\" }",
            "partition_key = { name = \"id\" }\nsort_key = { name = \"payload\" }",
            13,
            21,
        ),
        (
            "partition_key = { name = \"id\" }",
            "partition_key = { name = \"sequenceNumber\" }",
            12,
            26,
        ),
    ] {
        let e = one(
            &with(from, to),
            line,
            col,
            "an attribute the writer sets on every item",
        );
        assert!(e.help.unwrap().contains("`payload`"));
    }
}

#[test]
fn structural_errors_in_different_sections_are_reported_together() {
    // An unknown key in one section and a wrongly typed value in another: both, in one run.
    let src = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nbatch_sise = 10",
    )
    .replace(
        "shard_count = 2",
        "shard_count = 2\nretention_hours = \"24\"",
    );
    let errs = errors(&src);
    let found: Vec<(usize, usize, &str)> = errs
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!((found[0].0, found[0].1), (10, 19), "{found:?}");
    assert!(found[0].2.contains("invalid type"), "{found:?}");
    assert_eq!((found[1].0, found[1].1), (26, 1), "{found:?}");
    assert_eq!(found[1].2, "unknown key `batch_sise`");
    assert_eq!(errs[1].help.as_deref(), Some("did you mean `batch_size`?"));
}

#[test]
fn structural_and_semantic_errors_are_reported_together_without_echoes() {
    // Two unknown keys in one table, a semantic error elsewhere: all three.
    let src = with("[queues.Dead]", "[queues.Dead]\ncolour = 1\nsize = 2")
        .replace("table = \"Items\"", "table = \"Itemz\"");
    let errs = errors(&src);
    let messages: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(errs.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("`colour`") && messages[1].contains("`size`"));
    assert!(messages[2].contains("refers to \"Itemz\""));

    // A required key of the wrong type is one error, not also "missing field".
    let src = with("table = \"Items\"", "table = 5");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].message.contains("invalid type"));
}

#[test]
fn the_summary_does_not_point_at_errors_above_it() {
    let src = with("shard_count = 2", "shard_count = 0");
    let rendered = config::parse(&src, "pipeline.toml").unwrap_err().render();
    let summary = rendered.find("nothing was written").expect("a summary");
    let error = rendered.find("shard_count").expect("the error");
    assert!(
        summary > error || !rendered[summary..].contains("above"),
        "{rendered}"
    );
}

#[test]
fn edge_defaults_reserve_the_authorizer_and_leave_the_rest_off() {
    let p = config::parse(BASE, "pipeline.toml").unwrap();
    assert_eq!(p.functions.authorizer.reserved_concurrency, Some(20));
    assert_eq!(p.functions.writer.reserved_concurrency, None);
    assert_eq!(p.kms_key, config::KmsKey::AwsManaged);
    assert!(!p.xray_tracing);
    assert_eq!(p.waf, None);
}

#[test]
fn reserved_concurrency_minus_one_is_unreserved_and_below_is_an_error() {
    let src = format!("{BASE}\n[functions.authorizer]\nreserved_concurrency = -1\n");
    let p = config::parse(&src, "pipeline.toml").unwrap();
    assert_eq!(p.functions.authorizer.reserved_concurrency, None);
    let src = format!("{BASE}\n[functions.writer]\nreserved_concurrency = 7\n");
    let p = config::parse(&src, "pipeline.toml").unwrap();
    assert_eq!(p.functions.writer.reserved_concurrency, Some(7));
    assert_eq!(p.functions.authorizer.reserved_concurrency, Some(20));
    let src = format!("{BASE}\n[functions.authorizer]\nreserved_concurrency = -2\n");
    one(
        &src,
        27,
        24,
        "`reserved_concurrency` is -2, but must be between -1 and 10000",
    );
}

#[test]
fn waf_section_turns_the_rate_rule_on_within_aws_bounds() {
    let p = config::parse(&format!("{BASE}\n[waf]\n"), "pipeline.toml").unwrap();
    assert_eq!(p.waf, Some(config::Waf { rate_limit: 2000 }));
    let p = config::parse(
        &format!("{BASE}\n[waf]\nrate_limit = 500\n"),
        "pipeline.toml",
    )
    .unwrap();
    assert_eq!(p.waf, Some(config::Waf { rate_limit: 500 }));
    let e = one(
        &format!("{BASE}\n[waf]\nrate_limit = 9\n"),
        27,
        14,
        "`rate_limit` is 9, but must be between 10 and 2000000000 (AWS WAF's rate-based rule limit)",
    );
    assert!(e.help.is_none());
    let e = one(
        &format!("{BASE}\n[waf]\nrate = 100\n"),
        27,
        1,
        "unknown key `rate`",
    );
    assert_eq!(e.help.as_deref(), Some("valid keys here: `rate_limit`"));
}

#[test]
fn kms_key_is_aws_managed_create_or_a_key_arn() {
    let arn = "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for (value, expected) in [
        ("aws-managed", config::KmsKey::AwsManaged),
        ("create", config::KmsKey::Create),
        (arn, config::KmsKey::Arn(arn.into())),
    ] {
        let src = with(
            "region = \"eu-west-1\"",
            &format!("region = \"eu-west-1\"\nkms_key = \"{value}\""),
        );
        assert_eq!(
            config::parse(&src, "pipeline.toml").unwrap().kms_key,
            expected
        );
    }
    let alias = with(
        "region = \"eu-west-1\"",
        "region = \"eu-west-1\"\nkms_key = \"arn:aws:kms:eu-west-1:210987654321:alias/mine\"",
    );
    let e = one(
        &alias,
        4,
        11,
        "`kms_key` is \"arn:aws:kms:eu-west-1:210987654321:alias/mine\", which is not",
    );
    assert!(e.help.unwrap().contains("not an alias"));
    let typo = with(
        "region = \"eu-west-1\"",
        "region = \"eu-west-1\"\nkms_key = \"aws_managed\"",
    );
    let e = one(&typo, 4, 11, "`kms_key` is \"aws_managed\"");
    assert!(e.help.unwrap().contains("\"create\""));
}

#[test]
fn xray_tracing_is_a_boolean() {
    let src = with(
        "region = \"eu-west-1\"",
        "region = \"eu-west-1\"\nxray_tracing = true",
    );
    assert!(config::parse(&src, "pipeline.toml").unwrap().xray_tracing);
    let src = with(
        "region = \"eu-west-1\"",
        "region = \"eu-west-1\"\nxray_tracing = \"yes\"",
    );
    one(&src, 4, 16, "invalid type");
}

#[test]
fn an_inline_schema_is_checked_and_its_errors_point_into_pipeline_toml() {
    let good = with(
        "partition_key = { path_param = \"id\" }",
        "partition_key = { path_param = \"id\" }\nschema = '{\"type\": \"object\", \"required\": [\"message\"]}'",
    );
    let p = config::parse(&good, "pipeline.toml").unwrap();
    let schema = p.routes["put"].schema.as_ref().expect("a schema");
    assert_eq!(schema.value["required"][0], "message");
    assert_eq!(schema.source, config::SchemaSource::Inline);

    // A refused keyword, in a literal string: the column is the keyword's own.
    let src = with(
        "partition_key = { path_param = \"id\" }",
        "partition_key = { path_param = \"id\" }\nschema = '{\"type\": \"object\", \"format\": \"email\"}'",
    );
    one(&src, 20, 30, "`format` cannot be used in a request schema");

    // In a basic string with escapes: still the keyword's position in the file.
    let src = with(
        "partition_key = { path_param = \"id\" }",
        "partition_key = { path_param = \"id\" }\nschema = \"{\\\"type\\\": \\\"object\\\", \\\"nullable\\\": true}\"",
    );
    one(&src, 20, 34, "`nullable` cannot be used");

    // Not JSON.
    let src = with(
        "partition_key = { path_param = \"id\" }",
        "partition_key = { path_param = \"id\" }\nschema = '{\"type\": }'",
    );
    one(&src, 20, 20, "the inline `schema` is not JSON");
}

#[test]
fn a_schema_file_is_read_next_to_pipeline_toml_and_its_errors_point_into_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    let src = with(
        "partition_key = { path_param = \"id\" }",
        "partition_key = { path_param = \"id\" }\nschema = \"schemas/put.json\"",
    );
    std::fs::write(dir.path().join("pipeline.toml"), &src).unwrap();
    std::fs::write(
        dir.path().join("schemas/put.json"),
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"n\": {\"type\": \"integer\", \"format\": \"int32\"}\n  }\n}\n",
    )
    .unwrap();
    let err = match config::load(&dir.path().join("pipeline.toml")) {
        Err(config::LoadError::Invalid(e)) => e,
        other => panic!("expected a schema error, got {other:?}"),
    };
    assert_eq!(err.errors.len(), 1, "{:#?}", err.errors);
    let e = &err.errors[0];
    assert_eq!(e.file.as_deref(), Some("schemas/put.json"));
    assert_eq!((e.line, e.column), (4, 30), "{e:?}");
    assert!(
        e.message.contains("`format` cannot be used"),
        "{}",
        e.message
    );
    assert!(
        err.to_plain().starts_with("schemas/put.json:4:30: "),
        "{}",
        err.to_plain()
    );
    assert!(
        err.render().contains("schemas/put.json"),
        "{}",
        err.render()
    );

    std::fs::write(
        dir.path().join("schemas/put.json"),
        "{\"type\": \"object\", \"required\": [\"message\"]}",
    )
    .unwrap();
    let p = config::load(&dir.path().join("pipeline.toml")).unwrap();
    assert_eq!(
        p.routes["put"].schema.as_ref().unwrap().source,
        config::SchemaSource::File("schemas/put.json".into())
    );

    // A missing file, and a path leaving the folder, are errors at the key.
    let missing = with(
        "partition_key = { path_param = \"id\" }",
        "partition_key = { path_param = \"id\" }\nschema = \"schemas/nope.json\"",
    );
    std::fs::write(dir.path().join("pipeline.toml"), &missing).unwrap();
    let Err(config::LoadError::Invalid(e)) = config::load(&dir.path().join("pipeline.toml")) else {
        panic!("a missing schema file is an error")
    };
    assert_eq!((e.errors[0].line, e.errors[0].column), (20, 10));
    assert!(e.errors[0].message.contains("cannot read the schema file"));
    one(
        &with(
            "partition_key = { path_param = \"id\" }",
            "partition_key = { path_param = \"id\" }\nschema = \"../x.json\"",
        ),
        20,
        10,
        "inside pipeline.toml's folder",
    );
}

#[test]
fn filters_are_compiled_for_aws_and_their_errors_located() {
    let good = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nfilters = ['{\"body\": {\"kind\": [\"order\"]}}', '{\"partitionKey\": [{\"prefix\": \"vip-\"}]}']",
    );
    let p = config::parse(&good, "pipeline.toml").unwrap();
    let filters = &p.consumers["writer"].filters;
    assert_eq!(filters.len(), 2);
    assert_eq!(
        filters[0].aws_pattern,
        r#"{"data":{"body":{"kind":["order"]}}}"#
    );
    assert_eq!(
        filters[1].aws_pattern,
        r#"{"partitionKey":[{"prefix":"vip-"}]}"#
    );
    assert!(
        config::parse(BASE, "pipeline.toml").unwrap().consumers["writer"]
            .filters
            .is_empty()
    );

    let src = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nfilters = ['{\"body\": {\"n\": [{\"numbr\": [\">\", 1]}]}}']",
    );
    let e = one(&src, 25, 30, "`numbr` is not a filter operator");
    assert!(e.help.unwrap().contains("numeric"));

    let six: Vec<String> = (0..6)
        .map(|i| format!("'{{\"body\": {{\"k\": [{i}]}}}}'"))
        .collect();
    let src = with(
        "dead_letter_queue = \"Dead\"",
        &format!(
            "dead_letter_queue = \"Dead\"\nfilters = [{}]",
            six.join(", ")
        ),
    );
    one(&src, 25, 11, "an event source mapping takes 5");

    let src = with(
        "dead_letter_queue = \"Dead\"",
        "dead_letter_queue = \"Dead\"\nfilters = ['{\"body\": {\"k\": [1]}}', '{\"body\": {\"k\": [1]}}']",
    );
    one(&src, 25, 36, "listed twice");
}

#[test]
fn alerts_take_email_addresses_and_a_standard_topic_arn() {
    let p = config::parse(BASE, "pipeline.toml").unwrap();
    assert_eq!(p.alerts, config::Alerts::default());
    let topic = "arn:aws:sns:eu-west-1:210987654321:oncall";
    let p = config::parse(
        &format!(
            "{BASE}\n[alerts]\nemails = [\"a@example.com\", \"b@example.org\"]\nsns_topic_arn = \"{topic}\"\n"
        ),
        "pipeline.toml",
    )
    .unwrap();
    assert_eq!(
        p.alerts,
        config::Alerts {
            emails: vec!["a@example.com".into(), "b@example.org".into()],
            sns_topic_arn: Some(topic.into()),
        }
    );

    let e = one(
        &format!("{BASE}\n[alerts]\nemails = [\"a@example.com\", \"oncall\"]\n"),
        27,
        28,
        "`emails` has \"oncall\", which is not an e-mail address",
    );
    assert!(e.help.is_some());
    one(
        &format!("{BASE}\n[alerts]\nemails = [\"a@example.com\", \"A@example.com\"]\n"),
        27,
        28,
        "`emails` has \"A@example.com\" twice",
    );
    one(
        &format!("{BASE}\n[alerts]\nsns_topic_arn = \"arn:aws:sqs:eu-west-1:210987654321:q\"\n"),
        27,
        17,
        "which is not an SNS topic ARN",
    );
    one(
        &format!(
            "{BASE}\n[alerts]\nsns_topic_arn = \"arn:aws:sns:eu-west-1:210987654321:t.fifo\"\n"
        ),
        27,
        17,
        "FIFO topic",
    );
    one(
        &format!("{BASE}\n[alerts]\nemail = \"a@example.com\"\n"),
        27,
        1,
        "unknown key `email`",
    );
}
