//! `cargo xtask dev --watch`: pipeline.toml and the schema files it names are watched; a saved edit is
//! loaded and validated, and when valid the running pipeline switches to it (see
//! [`RunningPipeline::reload`]); when invalid, the errors are printed and the pipeline keeps serving as it was.
//!
//! The folders holding the files are watched, not the files: an editor that saves by writing a new file
//! and renaming it over the old one replaces the file a watch on it would follow.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use sluice_config::{Pipeline, SchemaSource};

use crate::changes::Changes;
use crate::credentials::CredentialsFile;
use crate::{DevError, RunningPipeline, gateway, start_consumers};

/// How long a file is quiet before its events count: an editor's save is several (write, rename, chmod).
const DEBOUNCE: Duration = Duration::from_millis(100);

impl RunningPipeline {
    /// Switches the running pipeline to `pipeline`, keeping everything stored: the tables and queues it adds
    /// are created, those it drops stay in the database; the event source mappings stop (their batches in
    /// flight finish and their checkpoints are stored) and the new consumers start from their checkpoints;
    /// then the gateway answers from the new pipeline, on the same listening socket (a request in flight
    /// finishes on the gateway it began with). Answers what changed.
    ///
    /// Records accepted while the consumers switch wait in the stream and are delivered once they have.
    /// The gateway's throttles (token buckets) start full again.
    pub async fn reload(&mut self, pipeline: Pipeline) -> Result<Changes, DevError> {
        let changes = Changes::between(&self.pipeline, &pipeline);
        let pipeline = Arc::new(pipeline);
        self.store.create_missing(pipeline.clone()).await?;
        let old = std::mem::replace(&mut self.consumers, crate::Consumers::none());
        old.stop().await;
        match start_consumers(
            &pipeline,
            &self.store,
            &self.consumer_runtime,
            &self.handlers,
            &self.processes,
            self.timings,
            self.aws_limits,
        )
        .await
        {
            Ok(consumers) => self.consumers = consumers,
            Err(e) => {
                // Back to the pipeline that ran: its consumers start again from their checkpoints.
                if let Ok(consumers) = start_consumers(
                    &self.pipeline,
                    &self.store,
                    &self.consumer_runtime,
                    &self.handlers,
                    &self.processes,
                    self.timings,
                    self.aws_limits,
                )
                .await
                {
                    self.consumers = consumers;
                }
                return Err(e);
            }
        }
        self.gateway.store(Arc::new(gateway::Gateway::new(
            &pipeline,
            CredentialsFile::new(&self.state_dir),
            self.store.clone(),
            self.serve,
            self.aws_limits,
        )));
        self.pipeline = pipeline;
        Ok(changes)
    }
}

/// The functions run as processes with a source to watch: name → its folders (canonical, as events name
/// them).
fn function_sources(running: &RunningPipeline) -> Vec<(String, Vec<PathBuf>)> {
    running
        .processes
        .iter()
        .filter_map(|(name, process)| {
            let source = process.source.as_ref()?;
            let dirs = source
                .dirs
                .iter()
                .filter_map(|dir| std::fs::canonicalize(dir).ok())
                .collect::<Vec<_>>();
            (!dirs.is_empty()).then(|| (name.clone(), dirs))
        })
        .collect()
}

impl RunningPipeline {
    /// Rebuilds the functions `names` (their source changed) and restarts them: the event source mappings
    /// stop first (their batches in flight finish; the processes exit, so the build may replace the
    /// binaries), each distinct build command runs once, then the mappings start again from their
    /// checkpoints; the next invocation starts the new binary. A failed build leaves the previous binary.
    pub(crate) async fn rebuild_functions(&mut self, names: &BTreeSet<String>) {
        let old = std::mem::replace(&mut self.consumers, crate::Consumers::none());
        old.stop().await;
        let mut commands: Vec<&Vec<String>> = Vec::new();
        for name in names {
            if let Some(source) = self.processes.get(name).and_then(|p| p.source.as_ref())
                && !commands.contains(&&source.build)
            {
                commands.push(&source.build);
            }
        }
        let names = names.iter().cloned().collect::<Vec<_>>().join(", ");
        for command in commands {
            let Some((program, args)) = command.split_first() else {
                continue;
            };
            println!(
                "sluice: {names}: source changed; rebuilding ({})",
                command.join(" ")
            );
            let started = Instant::now();
            match tokio::process::Command::new(program)
                .args(args)
                .status()
                .await
            {
                Ok(status) if status.success() => println!(
                    "sluice: {names}: rebuilt in {} ms; restarting (the next invocation is a cold start)",
                    started.elapsed().as_millis()
                ),
                Ok(status) => eprintln!(
                    "sluice: {names}: the build failed ({status}, output above); the previous binary keeps running"
                ),
                Err(e) => eprintln!(
                    "sluice: {names}: cannot run `{}`: {e}; the previous binary keeps running",
                    command.join(" ")
                ),
            }
        }
        match start_consumers(
            &self.pipeline,
            &self.store,
            &self.consumer_runtime,
            &self.handlers,
            &self.processes,
            self.timings,
            self.aws_limits,
        )
        .await
        {
            Ok(consumers) => self.consumers = consumers,
            Err(e) => eprintln!(
                "{:?}",
                miette::Report::new(e).wrap_err("the event source mappings did not start again")
            ),
        }
    }
}

/// The files a pipeline is read from: pipeline.toml and the schema files its routes name.
fn pipeline_files(config: &Path, pipeline: Option<&Pipeline>) -> Vec<PathBuf> {
    let mut files = vec![config.to_path_buf()];
    let dir = config.parent().unwrap_or(Path::new("."));
    for route in pipeline.iter().flat_map(|p| p.routes.values()) {
        if let Some(schema) = &route.schema
            && let SchemaSource::File(name) = &schema.source
        {
            files.push(dir.join(name));
        }
    }
    files
}

/// The watched folders and the files in them that count.
#[derive(Default)]
struct WatchSet {
    dirs: BTreeSet<PathBuf>,
    files: BTreeSet<PathBuf>,
}

impl WatchSet {
    /// Watches the folders of `files` (and no others). A file is known by its folder's canonical path and
    /// its name, as the events name it.
    fn update(
        &mut self,
        watcher: &mut Debouncer<RecommendedWatcher, RecommendedCache>,
        files: &[PathBuf],
    ) {
        let mut dirs = BTreeSet::new();
        let mut wanted = BTreeSet::new();
        for file in files {
            let (Some(parent), Some(name)) = (file.parent(), file.file_name()) else {
                continue;
            };
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            let Ok(dir) = std::fs::canonicalize(parent) else {
                continue;
            };
            wanted.insert(dir.join(name));
            dirs.insert(dir);
        }
        for gone in self.dirs.difference(&dirs) {
            let _ = watcher.unwatch(gone);
        }
        for dir in &dirs {
            if !self.dirs.contains(dir)
                && let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive)
            {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch this folder; edits in it are not seen");
            }
        }
        self.dirs = dirs;
        self.files = wanted;
    }

    /// Whether an event is about one of the files.
    fn concerns(&self, path: &Path) -> bool {
        self.files.contains(path)
            || path
                .parent()
                .and_then(|dir| std::fs::canonicalize(dir).ok())
                .zip(path.file_name())
                .is_some_and(|(dir, name)| self.files.contains(&dir.join(name)))
    }
}

/// Serves `running` until `until` completes, reloading it whenever pipeline.toml (at `config`) or one of
/// its schema files is saved. Each outcome is one line on stdout (invalid files: the errors on stderr).
pub async fn watch(running: &mut RunningPipeline, config: &Path, until: impl Future<Output = ()>) {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel::<DebounceEventResult>();
    let mut debouncer = match new_debouncer(DEBOUNCE, None, move |result| {
        let _ = tx.send(result);
    }) {
        Ok(debouncer) => debouncer,
        Err(e) => {
            eprintln!(
                "sluice: cannot watch {} ({e}); serving without --watch (restart to apply edits)",
                config.display()
            );
            until.await;
            return;
        }
    };
    let mut watched = WatchSet::default();
    watched.update(
        &mut debouncer,
        &pipeline_files(config, Some(&running.pipeline)),
    );
    let sources = function_sources(running);
    for (name, dirs) in &sources {
        for dir in dirs {
            match debouncer.watch(dir, RecursiveMode::Recursive) {
                Ok(()) => println!(
                    "sluice: watching {} (function {name}): a change rebuilds and restarts it",
                    dir.display()
                ),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch this folder; function {name} is not rebuilt on a change")
                }
            }
        }
    }
    println!(
        "sluice: watching {} and its schema files: a valid edit is applied at once; \
         --port, --credentials, --state-dir, --sync and --unlimited take a restart",
        config.display()
    );
    tokio::pin!(until);
    loop {
        let result = tokio::select! {
            () = &mut until => return,
            result = events.recv() => result,
        };
        let Some(result) = result else {
            until.await;
            return;
        };
        let events = match result {
            Ok(events) => events,
            Err(errors) => {
                for e in errors {
                    tracing::warn!(error = %e, "watching pipeline.toml failed");
                }
                continue;
            }
        };
        let changed: BTreeSet<String> = events
            .iter()
            .filter(|event| !matches!(event.kind, EventKind::Access(_)))
            .flat_map(|event| event.paths.iter())
            .filter(|path| !path.components().any(|c| c.as_os_str() == "target"))
            .flat_map(|path| {
                sources
                    .iter()
                    .filter(|(_, dirs)| dirs.iter().any(|dir| path.starts_with(dir)))
                    .map(|(name, _)| name.clone())
            })
            .collect();
        if !changed.is_empty() {
            running.rebuild_functions(&changed).await;
        }
        // Reading a file is an event too (inotify's open): only writes, creations, renames and removals count.
        let edited = events.iter().any(|event| {
            !matches!(event.kind, EventKind::Access(_))
                && event.paths.iter().any(|path| watched.concerns(path))
        });
        if !edited {
            continue;
        }
        let started = Instant::now();
        // The environment it runs (`dev --env`) stays the one reloaded.
        let env = running.pipeline.environment.clone();
        let pipeline = match sluice_config::load_env(config, env.as_deref()) {
            Ok(pipeline) => pipeline,
            Err(e) => {
                eprintln!("{:?}", miette::Report::new(e));
                eprintln!(
                    "sluice: {} not reloaded: it has errors (above); still serving the previous pipeline. \
                     Save a fixed file to try again.",
                    config.display()
                );
                continue;
            }
        };
        watched.update(&mut debouncer, &pipeline_files(config, Some(&pipeline)));
        if pipeline == *running.pipeline {
            println!(
                "sluice: {} saved; the pipeline is the one running (nothing to reload)",
                config.display()
            );
            continue;
        }
        match running.reload(pipeline).await {
            Ok(changes) => {
                println!(
                    "sluice: reloaded {} in {} ms: {}",
                    config.display(),
                    started.elapsed().as_millis(),
                    changes.summary()
                );
                for note in &changes.notes {
                    println!("  note: {note}");
                }
            }
            Err(e) => {
                eprintln!("{:?}", miette::Report::new(e));
                eprintln!(
                    "sluice: {} not reloaded; still serving the previous pipeline",
                    config.display()
                );
            }
        }
    }
}
