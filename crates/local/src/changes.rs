//! What a reload of pipeline.toml changes (`cargo xtask dev --watch`): the one-line summary of routes,
//! consumers, filters, streams, tables and queues added, removed or changed, and the notes a user needs —
//! what a reload keeps on disk, and what it cannot apply.

use std::collections::BTreeMap;

use sluice_config::{Consumer, Pipeline, Route, Stream, Table};

/// The difference between the running pipeline and the reloaded one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// One phrase per change, e.g. `consumer event-writer: filters added (0 → 1)`.
    pub changed: Vec<String>,
    /// What the user should know: removed streams, tables and queues kept on disk, settings a reload
    /// cannot apply.
    pub notes: Vec<String>,
}

impl Changes {
    /// Compares the running pipeline `old` with the reloaded `new`.
    pub fn between(old: &Pipeline, new: &Pipeline) -> Changes {
        let mut changes = Changes::default();
        changes.settings(old, new);
        changes.compare(&old.routes, &new.routes, "route", route_fields, |_| None);
        changes.compare(
            &old.consumers,
            &new.consumers,
            "consumer",
            consumer_fields,
            |c| {
                Some(format!(
                    "consumer {}'s checkpoints are kept in pipeline.db (it resumes there if it comes back)",
                    c.name
                ))
            },
        );
        changes.compare(&old.streams, &new.streams, "stream", stream_fields, |s| {
            Some(format!(
                "stream {} is no longer in pipeline.toml; its records are kept in pipeline.db",
                s.name
            ))
        });
        changes.compare(&old.tables, &new.tables, "table", table_fields, |t| {
            Some(format!(
                "table {} is no longer in pipeline.toml; it is kept in pipeline.db with its items",
                t.name
            ))
        });
        changes.compare(&old.queues, &new.queues, "queue", queue_fields, |q| {
            Some(format!(
                "queue {} is no longer in pipeline.toml; it is kept in pipeline.db with its messages",
                q.name
            ))
        });
        for (name, old_stream) in &old.streams {
            if let Some(new_stream) = new.streams.get(name)
                && new_stream.shard_count() < old_stream.shard_count()
            {
                changes.notes.push(format!(
                    "stream {name} has fewer shards ({} → {}): records not yet delivered in the shards beyond \
                     the new count are not delivered",
                    old_stream.shard_count(),
                    new_stream.shard_count()
                ));
            }
        }
        for (name, old_table) in &old.tables {
            if let Some(new_table) = new.tables.get(name)
                && (new_table.partition_key != old_table.partition_key
                    || new_table.sort_key != old_table.sort_key)
            {
                changes.notes.push(format!(
                    "table {name}'s key changed: the local table keeps its old key, so items with the new one \
                     fail to write; stop `cargo xtask dev`, delete the state dir (or drop the table from \
                     pipeline.db) and start again"
                ));
            }
        }
        changes
    }

    /// Whether nothing the local pipeline runs changed.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.notes.is_empty()
    }

    /// The changes on one line (`; ` between them).
    pub fn summary(&self) -> String {
        if self.changed.is_empty() {
            "nothing the local pipeline runs changed".to_owned()
        } else {
            self.changed.join("; ")
        }
    }

    /// The pipeline-wide settings that changed.
    fn settings(&mut self, old: &Pipeline, new: &Pipeline) {
        let mut local = Vec::new();
        let mut deployed_only = Vec::new();
        let mut differ = |name: &'static str, differs: bool, locally: bool| {
            if differs {
                if locally {
                    local.push(name);
                } else {
                    deployed_only.push(name);
                }
            }
        };
        differ("name", old.name != new.name, true);
        differ("region", old.region != new.region, true);
        differ("stage", old.stage != new.stage, true);
        differ(
            "API throttle",
            old.api.throttle_rate_limit != new.api.throttle_rate_limit
                || old.api.throttle_burst_limit != new.api.throttle_burst_limit,
            true,
        );
        differ("waf", old.waf != new.waf, true);
        differ("auth", old.auth != new.auth, true);
        differ(
            "functions.writer",
            old.functions.writer != new.functions.writer,
            true,
        );
        differ("tags", old.tags != new.tags, false);
        differ(
            "access logs",
            old.api.access_log_retention_days != new.api.access_log_retention_days
                || old.api.manage_api_gateway_account != new.api.manage_api_gateway_account,
            false,
        );
        differ("kms_key", old.kms_key != new.kms_key, false);
        differ("xray_tracing", old.xray_tracing != new.xray_tracing, false);
        differ("alerts", old.alerts != new.alerts, false);
        differ(
            "functions.authorizer",
            old.functions.authorizer != new.functions.authorizer,
            false,
        );
        if !local.is_empty() {
            self.changed
                .push(format!("pipeline settings changed ({})", local.join(", ")));
        }
        if !deployed_only.is_empty() {
            self.changed.push(format!(
                "{} changed (no effect locally; applies on deploy)",
                deployed_only.join(", ")
            ));
        }
        if let (Some(old_auth), Some(new_auth)) = (&old.auth, &new.auth) {
            if old_auth.username != new_auth.username {
                self.notes.push(
                    "auth.username changed: the local credentials (credentials.json in the state dir) keep \
                     their user; delete that file and restart `cargo xtask dev` to generate new ones"
                        .to_owned(),
                );
            }
            if old_auth.password_version != new_auth.password_version {
                self.notes.push(
                    "auth.password_version changed: it rotates the deployed password; locally, rotate with \
                     `cargo xtask rotate --local`"
                        .to_owned(),
                );
            }
        }
    }

    /// Adds what was added, removed and changed between two maps of one kind of resource.
    fn compare<T: PartialEq>(
        &mut self,
        old: &BTreeMap<String, T>,
        new: &BTreeMap<String, T>,
        kind: &str,
        fields: impl Fn(&T, &T) -> Vec<String>,
        removed_note: impl Fn(&T) -> Option<String>,
    ) {
        for (name, item) in new {
            match old.get(name) {
                None => self.changed.push(format!("{kind} {name} added")),
                Some(before) if before != item => {
                    let fields = fields(before, item);
                    if fields.is_empty() {
                        self.changed.push(format!("{kind} {name} changed"));
                    } else {
                        self.changed
                            .push(format!("{kind} {name}: {}", fields.join(", ")));
                    }
                }
                Some(_) => {}
            }
        }
        for (name, item) in old {
            if !new.contains_key(name) {
                self.changed.push(format!("{kind} {name} removed"));
                self.notes.extend(removed_note(item));
            }
        }
    }
}

/// `name changed` for each field whose values differ.
fn differing(fields: &[(&str, bool)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| format!("{name} changed"))
        .collect()
}

fn route_fields(old: &Route, new: &Route) -> Vec<String> {
    let mut out = Vec::new();
    if old.method != new.method || old.path != new.path {
        out.push(format!(
            "{} {} → {} {}",
            old.method, old.path, new.method, new.path
        ));
    }
    if old.schema != new.schema {
        out.push(
            match (&old.schema, &new.schema) {
                (None, Some(_)) => "schema added",
                (Some(_), None) => "schema removed",
                _ => "schema changed",
            }
            .to_owned(),
        );
    }
    if old.streams() != new.streams() {
        out.push(format!(
            "streams {} → {}",
            old.streams().join(", "),
            new.streams().join(", ")
        ));
    }
    out.extend(differing(&[
        ("auth", old.auth != new.auth),
        (
            "stream",
            old.streams() == new.streams() && old.stream != new.stream,
        ),
        ("partition_key", old.partition_key != new.partition_key),
        ("content_type", old.content_type != new.content_type),
    ]));
    out
}

fn consumer_fields(old: &Consumer, new: &Consumer) -> Vec<String> {
    let mut out = Vec::new();
    let (before, after) = (old.filters.len(), new.filters.len());
    let patterns =
        |c: &Consumer| -> Vec<String> { c.filters.iter().map(|f| f.aws_pattern.clone()).collect() };
    if patterns(old) != patterns(new) {
        out.push(if before == 0 {
            format!("filters added (0 → {after})")
        } else if after == 0 {
            format!("filters removed ({before} → 0)")
        } else {
            format!("filters changed ({before} → {after})")
        });
    }
    out.extend(differing(&[
        ("stream", old.stream != new.stream),
        ("table", old.table != new.table),
        (
            "dead_letter_queue",
            old.dead_letter_queue != new.dead_letter_queue,
        ),
        ("batch_size", old.batch_size != new.batch_size),
        (
            "batching_window_seconds",
            old.batching_window_seconds != new.batching_window_seconds,
        ),
        (
            "starting_position",
            old.starting_position != new.starting_position,
        ),
        ("retry_attempts", old.retry_attempts != new.retry_attempts),
        (
            "maximum_record_age_seconds",
            old.maximum_record_age != new.maximum_record_age,
        ),
        (
            "bisect_on_error",
            old.bisect_on_error != new.bisect_on_error,
        ),
        (
            "parallelization_factor",
            old.parallelization_factor != new.parallelization_factor,
        ),
    ]));
    out
}

fn stream_fields(old: &Stream, new: &Stream) -> Vec<String> {
    let mut out = Vec::new();
    if old.shard_count() != new.shard_count() {
        out.push(format!(
            "shards {} → {}",
            old.shard_count(),
            new.shard_count()
        ));
    }
    out.extend(differing(&[
        (
            "retention_hours",
            old.retention_hours != new.retention_hours,
        ),
        (
            "mode",
            std::mem::discriminant(&old.capacity) != std::mem::discriminant(&new.capacity),
        ),
        ("kms_key_arn", old.kms_key_arn != new.kms_key_arn),
    ]));
    out
}

fn table_fields(old: &Table, new: &Table) -> Vec<String> {
    differing(&[
        (
            "key",
            old.partition_key != new.partition_key || old.sort_key != new.sort_key,
        ),
        ("capacity", old.billing != new.billing),
        (
            "point_in_time_recovery",
            old.point_in_time_recovery != new.point_in_time_recovery,
        ),
        ("ttl_attribute", old.ttl_attribute != new.ttl_attribute),
        (
            "deletion_protection",
            old.deletion_protection != new.deletion_protection,
        ),
    ])
}

fn queue_fields(old: &sluice_config::Queue, new: &sluice_config::Queue) -> Vec<String> {
    differing(&[(
        "message_retention_seconds",
        old.message_retention_seconds != new.message_retention_seconds,
    )])
}

#[cfg(test)]
mod tests {
    use super::Changes;

    const BASE: &str = r#"
[pipeline]
name = "sluice"
region = "us-east-1"
stage = "prod"

[auth]
type = "basic"
username = "sluice"

[streams.GatewayEventsStream]
mode = "provisioned"
shard_count = 2

[tables.EventTable]
partition_key = { name = "eventId", type = "S" }

[queues.LambdaDeadLetterQueue]

[routes.submit]
method = "POST"
path = "/submit/{streamName}/{eventId}"
auth = "basic"
stream = { path_param = "streamName" }
partition_key = { path_param = "eventId" }
content_type = "application/json"

[consumers.event-writer]
stream = "GatewayEventsStream"
table = "EventTable"
dead_letter_queue = "LambdaDeadLetterQueue"
"#;

    fn pipeline(src: &str) -> sluice_config::Pipeline {
        match sluice_config::parse(src, "pipeline.toml") {
            Ok(p) => p,
            Err(e) => panic!("invalid test pipeline: {e:?}"),
        }
    }

    fn between(old: &str, new: &str) -> Changes {
        Changes::between(&pipeline(old), &pipeline(new))
    }

    #[test]
    fn the_same_pipeline_changes_nothing() {
        let changes = between(BASE, BASE);
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(changes.summary(), "nothing the local pipeline runs changed");
    }

    #[test]
    fn filters_added_changed_and_removed_are_named() {
        let one =
            format!("{BASE}filters = ['{{\"body\": {{\"message\": [{{\"exists\": true}}]}}}}']\n");
        let other = format!("{BASE}filters = ['{{\"body\": {{\"kind\": [\"a\"]}}}}']\n");
        assert_eq!(
            between(BASE, &one).summary(),
            "consumer event-writer: filters added (0 → 1)"
        );
        assert_eq!(
            between(&one, &other).summary(),
            "consumer event-writer: filters changed (1 → 1)"
        );
        assert_eq!(
            between(&one, BASE).summary(),
            "consumer event-writer: filters removed (1 → 0)"
        );
    }

    #[test]
    fn consumer_settings_are_listed_by_key() {
        let new = format!("{BASE}batch_size = 50\nbisect_on_error = false\n");
        let changes = between(BASE, &new);
        assert_eq!(
            changes.summary(),
            "consumer event-writer: batch_size changed, bisect_on_error changed"
        );
        assert!(changes.notes.is_empty());
    }

    #[test]
    fn routes_added_removed_and_changed() {
        let added = format!(
            "{BASE}
[routes.audit]
method = \"PUT\"
path = \"/audit/{{id}}\"
stream = \"GatewayEventsStream\"
partition_key = {{ path_param = \"id\" }}
"
        );
        assert_eq!(between(BASE, &added).summary(), "route audit added");
        assert_eq!(between(&added, BASE).summary(), "route audit removed");
        let schema = BASE.replace(
            "content_type = \"application/json\"",
            "content_type = \"application/json\"\nschema = '{\"type\": \"object\", \"required\": [\"message\"]}'",
        );
        assert_eq!(
            between(BASE, &schema).summary(),
            "route submit: schema added"
        );
        let moved = BASE.replace("/submit/{streamName}", "/events/{streamName}");
        assert_eq!(
            between(BASE, &moved).summary(),
            "route submit: POST /submit/{streamName}/{eventId} → POST /events/{streamName}/{eventId}"
        );
    }

    #[test]
    fn removed_resources_are_kept_on_disk_and_said_so() {
        let more = BASE.replace(
            "[queues.LambdaDeadLetterQueue]",
            "[queues.LambdaDeadLetterQueue]\n\n[queues.Audit]\n\n[tables.Audit]\npartition_key = { name = \"id\", type = \"S\" }\n\n[streams.AuditStream]\nmode = \"on-demand\"\n",
        );
        let added = between(BASE, &more);
        assert_eq!(
            added.summary(),
            "route submit: streams GatewayEventsStream → AuditStream, GatewayEventsStream; \
             stream AuditStream added; table Audit added; queue Audit added"
        );
        assert!(added.notes.is_empty(), "{:?}", added.notes);
        let removed = between(&more, BASE);
        assert_eq!(
            removed.summary(),
            "route submit: streams AuditStream, GatewayEventsStream → GatewayEventsStream; \
             stream AuditStream removed; table Audit removed; queue Audit removed"
        );
        assert_eq!(removed.notes.len(), 3, "{:?}", removed.notes);
        assert!(
            removed
                .notes
                .iter()
                .all(|n| n.contains("kept in pipeline.db")),
            "{:?}",
            removed.notes
        );
    }

    #[test]
    fn what_a_reload_cannot_apply_is_a_note() {
        let fewer = BASE.replace("shard_count = 2", "shard_count = 1");
        let changes = between(BASE, &fewer);
        assert_eq!(
            changes.summary(),
            "stream GatewayEventsStream: shards 2 → 1"
        );
        assert!(changes.notes[0].contains("fewer shards"), "{changes:?}");

        let rekeyed = BASE.replace(
            "name = \"eventId\", type = \"S\"",
            "name = \"eventId\", type = \"N\"",
        );
        let changes = between(BASE, &rekeyed);
        assert_eq!(changes.summary(), "table EventTable: key changed");
        assert!(
            changes.notes[0].contains("keeps its old key"),
            "{changes:?}"
        );

        let user = BASE.replace("username = \"sluice\"", "username = \"someone\"");
        let changes = between(BASE, &user);
        assert_eq!(changes.summary(), "pipeline settings changed (auth)");
        assert!(changes.notes[0].contains("credentials.json"), "{changes:?}");
    }

    #[test]
    fn settings_without_a_local_effect_say_so() {
        let tagged = BASE.replace(
            "stage = \"prod\"",
            "stage = \"dev\"\n\n[pipeline.tags]\nteam = \"data\"",
        );
        assert_eq!(
            between(BASE, &tagged).summary(),
            "pipeline settings changed (stage); tags changed (no effect locally; applies on deploy)"
        );
    }
}
