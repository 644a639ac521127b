//! `cargo xtask new function NAME`: a consumer function's crate (`functions/NAME/`: a handler using
//! `sluice-consumer`, a unit test, a Cargo.toml whose bin is named after the function), added to the
//! workspace's `members` so that `cargo xtask build` builds it; then the lines to add to pipeline.toml.

use std::path::{Component, Path, PathBuf};

use sluice_config::settings::FUNCTION_NAME;

/// `cargo xtask new`.
#[derive(Debug, Clone, clap::Args)]
pub struct NewArgs {
    #[command(subcommand)]
    pub what: New,
}

/// What to scaffold.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum New {
    /// A consumer function's crate (functions/NAME/), added to the workspace; prints the pipeline.toml lines.
    Function(NewFunctionArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct NewFunctionArgs {
    /// The function's name: its `[functions.NAME]`, its bin and target/lambda/NAME/.
    pub name: String,
    /// The crate's folder, relative to the project root.
    #[arg(long, default_value = "functions/<NAME>")]
    pub dir: String,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ScaffoldError {
    #[error("function name {name:?} {problem}")]
    #[diagnostic(
        code(sluice::new::name),
        help("{} (e.g. `enricher`)", FUNCTION_NAME.rule)
    )]
    BadName { name: String, problem: String },
    #[error("{name:?} is a stock function of sluice")]
    #[diagnostic(
        code(sluice::new::stock),
        help(
            "pick another name; the stock authorizer and writer are configured under [functions.authorizer] and [functions.writer]"
        )
    )]
    Stock { name: String },
    #[error("{path} already exists")]
    #[diagnostic(
        code(sluice::new::exists),
        help("pick another name, or `--dir` for another folder; nothing was written")
    )]
    Exists { path: String },
    #[error("the workspace already has {what} named {name:?} (in {manifest})")]
    #[diagnostic(
        code(sluice::new::taken),
        help(
            "pick another name: cargo needs package and bin names unique in the workspace; nothing was written"
        )
    )]
    Taken {
        what: &'static str,
        name: String,
        manifest: String,
    },
    #[error("cannot find the workspace's `members = [ … ]` in {manifest}")]
    #[diagnostic(
        code(sluice::new::members),
        help("add \"{member}\" to [workspace] members by hand; the crate is written")
    )]
    Members { manifest: String, member: String },
    #[error("{what}: {source}")]
    #[diagnostic(code(sluice::new::io))]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ScaffoldError {
    let what = what.into();
    move |source| ScaffoldError::Io { what, source }
}

/// What [`new_function`] wrote, and the lines for pipeline.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaffolded {
    /// The crate's folder, relative to the project root.
    pub dir: String,
    /// `[functions.NAME]` and a consumer running it, to paste into pipeline.toml.
    pub pipeline_lines: String,
}

/// `cargo xtask new …`.
pub fn run(config: &Path, args: NewArgs) -> miette::Result<()> {
    let New::Function(args) = args.what;
    let root = sluice_config::project_root();
    let config_dir = root
        .join(config)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.clone());
    let done = new_function(&root, &config_dir, &args)?;
    println!(
        "created {dir}/ (Cargo.toml, src/main.rs) and added it to the workspace's members",
        dir = done.dir
    );
    println!("  cargo test -p {}    # its unit test", args.name);
    println!(
        "add to {} (then `cargo xtask gen` and `cargo xtask build`):\n",
        config.display()
    );
    println!("{}", done.pipeline_lines);
    Ok(())
}

/// Writes the crate under `root` (a workspace root), adds it to the workspace's members, and answers the
/// lines for the pipeline.toml in `config_dir`. Refuses, writing nothing, a bad or stock name, an existing
/// folder, or a name the workspace already gives a package or bin.
pub fn new_function(
    root: &Path,
    config_dir: &Path,
    args: &NewFunctionArgs,
) -> Result<Scaffolded, ScaffoldError> {
    let name = args.name.as_str();
    check_name(name)?;
    let dir = args.dir.replace("<NAME>", name);
    let crate_dir = root.join(&dir);
    if crate_dir.exists() {
        return Err(ScaffoldError::Exists {
            path: crate_dir.display().to_string(),
        });
    }
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(io(format!("cannot read {}", manifest_path.display())))?;
    check_taken(root, &manifest, name)?;
    let member = dir.trim_end_matches('/').to_owned();
    let with_member = add_member(&manifest, &member).ok_or_else(|| ScaffoldError::Members {
        manifest: manifest_path.display().to_string(),
        member: member.clone(),
    })?;

    std::fs::create_dir_all(crate_dir.join("src"))
        .map_err(io(format!("cannot create {}", crate_dir.display())))?;
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).map_err(io(format!("cannot write {}", path.display())))
    };
    let written = write(crate_dir.join("Cargo.toml"), cargo_toml(name))
        .and_then(|()| write(crate_dir.join("src/main.rs"), main_rs(name)))
        .and_then(|()| write(manifest_path.clone(), with_member));
    if let Err(e) = written {
        // Nothing partial: the crate goes, and the workspace manifest is as it was.
        let _ = std::fs::remove_dir_all(&crate_dir);
        let _ = std::fs::write(&manifest_path, &manifest);
        return Err(e);
    }
    let crate_path = relative(config_dir, &crate_dir);
    Ok(Scaffolded {
        dir,
        pipeline_lines: format!(
            "[functions.{name}]\ncrate = \"{crate_path}\"\n\n[consumers.{name}]\nstream = \"<a stream>\"\nfunction = \"{name}\"\ntables = [\"<a table it writes>\"]\ndead_letter_queue = \"<a queue>\"\n"
        ),
    })
}

fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let bad = |problem: String| ScaffoldError::BadName {
        name: name.to_owned(),
        problem,
    };
    if let Some(c) = name.chars().find(|c| !(FUNCTION_NAME.allowed)(*c)) {
        return Err(bad(format!("contains {c:?}")));
    }
    let len = name.chars().count();
    if !(FUNCTION_NAME.min..=FUNCTION_NAME.max).contains(&len) {
        return Err(bad(format!(
            "is {len} characters long; {} to {} are allowed",
            FUNCTION_NAME.min, FUNCTION_NAME.max
        )));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(bad("does not start with a letter".into()));
    }
    if ["authorizer", "writer"].contains(&name) {
        return Err(ScaffoldError::Stock {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Fails when a workspace member already has a package or bin called `name`.
fn check_taken(root: &Path, manifest: &str, name: &str) -> Result<(), ScaffoldError> {
    let Ok(parsed) = toml::from_str::<toml::Table>(manifest) else {
        return Ok(());
    };
    let members = parsed
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for member in members.iter().filter_map(toml::Value::as_str) {
        let path = root.join(member).join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(member) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        let taken = |what| ScaffoldError::Taken {
            what,
            name: name.to_owned(),
            manifest: path.display().to_string(),
        };
        if member
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(toml::Value::as_str)
            == Some(name)
        {
            return Err(taken("a package"));
        }
        let bins = member.get("bin").and_then(toml::Value::as_array);
        if bins
            .into_iter()
            .flatten()
            .any(|b| b.get("name").and_then(toml::Value::as_str) == Some(name))
        {
            return Err(taken("a bin"));
        }
    }
    Ok(())
}

/// The workspace manifest with `member` added as the last entry of `members = [ … ]` (written one per line),
/// checked by reading it back; `None` when the list is not found.
fn add_member(manifest: &str, member: &str) -> Option<String> {
    let start = manifest.find("members = [")?;
    let close = start + manifest[start..].find("\n]")?;
    let mut out = String::with_capacity(manifest.len() + member.len() + 8);
    out.push_str(&manifest[..close]);
    out.push_str(&format!("\n    \"{member}\","));
    out.push_str(&manifest[close..]);
    let parsed: toml::Table = toml::from_str(&out).ok()?;
    let listed = parsed
        .get("workspace")?
        .get("members")?
        .as_array()?
        .iter()
        .any(|m| m.as_str() == Some(member));
    listed.then_some(out)
}

/// `to` relative to `from` (both absolute), with `/` separators.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn cargo_toml(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
description = "The consumer function {name}: a record of its stream → items for its tables (sluice-consumer)"
version.workspace = true
edition.workspace = true
license.workspace = true
publish.workspace = true

# The bin is named after the function: `cargo xtask build` builds it into target/lambda/{name}/.
[[bin]]
name = "{name}"
path = "src/main.rs"

[dependencies]
sluice-consumer = {{ workspace = true, features = ["aws"] }}
lambda_runtime.workspace = true
tokio.workspace = true
serde.workspace = true
serde_json.workspace = true

[lints]
workspace = true
"#
    )
}

fn main_rs(name: &str) -> String {
    format!(
        r#"//! The consumer function {name}: one record's body in, an outcome out. sluice-consumer does the rest
//! (the ordering guard, retries, dead letters with their data, the partial batch response, metrics).
//! docs/CONSUMERS.md says what each outcome means.

use serde::Deserialize;
use serde_json::json;
use sluice_consumer::{{Outcome, Record}};

/// The request body, as your route receives it (members not named here are ignored).
#[derive(Debug, Deserialize)]
struct Event {{
    message: String,
}}

/// The table this function writes: one of its consumer's `tables` in pipeline.toml.
const TABLE: &str = "<a table it writes>";

async fn handle(record: Record<Event>) -> Outcome {{
    let Record {{ body, stream, .. }} = record;
    if body.message.is_empty() {{
        return Outcome::DeadLetter("the message is empty".into());
    }}
    // The item must hold the table's key attributes (here: a partition key named `id`).
    Outcome::write(
        TABLE,
        json!({{ "id": stream.partition_key, "message": body.message }}),
    )
}}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {{
    sluice_consumer::aws::run(handle).await
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[tokio::test]
    async fn a_message_is_written_and_an_empty_one_dead_lettered() {{
        let mut record = Record::with_body(Event {{
            message: "hello".into(),
        }});
        record.stream.partition_key = "e-1".into();
        let Outcome::Write(puts) = handle(record).await else {{
            panic!("expected a write");
        }};
        assert_eq!(puts[0].table(), TABLE);
        assert_eq!(puts[0].item().unwrap()["id"], "e-1");

        let empty = Record::with_body(Event {{
            message: String::new(),
        }});
        assert!(matches!(handle(empty).await, Outcome::DeadLetter(_)));
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[workspace]\nresolver = \"3\"\nmembers = [\n    \"crates/a\",\n]\n\n[workspace.package]\nedition = \"2024\"\n";

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), MANIFEST).unwrap();
        std::fs::create_dir_all(dir.path().join("crates/a")).unwrap();
        std::fs::write(
            dir.path().join("crates/a/Cargo.toml"),
            "[package]\nname = \"taken\"\n\n[[bin]]\nname = \"busy\"\n",
        )
        .unwrap();
        dir
    }

    fn args(name: &str) -> NewFunctionArgs {
        NewFunctionArgs {
            name: name.into(),
            dir: "functions/<NAME>".into(),
        }
    }

    #[test]
    fn a_function_crate_is_written_and_joins_the_workspace() {
        let dir = project();
        let root = dir.path();
        let done = new_function(root, &root.join("examples/x"), &args("enricher")).unwrap();
        assert_eq!(done.dir, "functions/enricher");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("    \"crates/a\",\n    \"functions/enricher\",\n]"),
            "{manifest}"
        );
        let cargo = std::fs::read_to_string(root.join("functions/enricher/Cargo.toml")).unwrap();
        let cargo: toml::Table = toml::from_str(&cargo).unwrap();
        assert_eq!(cargo["bin"][0]["name"].as_str(), Some("enricher"));
        let main = std::fs::read_to_string(root.join("functions/enricher/src/main.rs")).unwrap();
        assert!(main.contains("sluice_consumer::aws::run(handle)"));
        assert!(main.contains("#[tokio::test]"));
        // The lines name the crate from pipeline.toml's folder, and are a valid [functions.*] there.
        assert!(
            done.pipeline_lines
                .starts_with("[functions.enricher]\ncrate = \"../../functions/enricher\"\n"),
            "{}",
            done.pipeline_lines
        );

        // Again: the folder exists; nothing changes.
        let before = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let again = new_function(root, root, &args("enricher")).unwrap_err();
        assert!(matches!(again, ScaffoldError::Exists { .. }), "{again}");
        assert_eq!(
            std::fs::read_to_string(root.join("Cargo.toml")).unwrap(),
            before
        );
    }

    #[test]
    fn bad_stock_and_taken_names_are_refused_and_nothing_is_written() {
        let dir = project();
        let root = dir.path();
        for (name, expect) in [
            ("en richer", "contains ' '"),
            ("9lives", "does not start with a letter"),
            ("writer", "stock function"),
            ("taken", "a package named \"taken\""),
            ("busy", "a bin named \"busy\""),
        ] {
            let e = new_function(root, root, &args(name))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expect), "{name}: {e}");
        }
        assert!(!root.join("functions").exists());
        assert_eq!(
            std::fs::read_to_string(root.join("Cargo.toml")).unwrap(),
            MANIFEST
        );
    }

    #[test]
    fn relative_paths_climb_out_of_the_config_folder() {
        let r = Path::new("/p");
        assert_eq!(relative(r, &r.join("functions/f")), "functions/f");
        assert_eq!(
            relative(&r.join("ex/e"), &r.join("functions/f")),
            "../../functions/f"
        );
        assert_eq!(relative(r, r), ".");
    }
}
