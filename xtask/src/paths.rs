//! Paths the user types are taken from where the user stands, as cargo takes `--manifest-path`; the
//! defaults (`pipeline.toml`, `.sluice`, `terraform`) stay at the project root, where `main` then moves.
//!
//! Before clap parses, every relative value of a path-typed argument (a `PathBuf` flag or positional of
//! the command being run, found in the clap tree itself, so a new flag is covered without a list to keep) is
//! made absolute from the current directory. `-` (stdin) is left alone.

use std::any::TypeId;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, Command};

/// Whether clap parses this argument into a `PathBuf`.
fn is_path(arg: &Arg) -> bool {
    arg.get_value_parser().type_id() == TypeId::of::<PathBuf>()
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

/// `value` made absolute from `cwd` when it is relative (and not `-`).
fn resolve(value: &std::ffi::OsStr, cwd: &Path) -> OsString {
    let path = Path::new(value);
    if value == "-" || path.is_absolute() || value.is_empty() {
        value.to_owned()
    } else {
        cwd.join(path).into_os_string()
    }
}

/// `args` (including the program name) with the relative paths the user typed resolved from `cwd`.
pub fn resolve_user_paths(mut command: Command, args: Vec<OsString>, cwd: &Path) -> Vec<OsString> {
    command.build();
    let mut out = Vec::with_capacity(args.len());
    let mut tokens = args.into_iter();
    if let Some(program) = tokens.next() {
        out.push(program);
    }
    let mut current = &command;
    let mut positional = 0usize;
    let mut only_positionals = false;
    while let Some(token) = tokens.next() {
        let text = token.to_string_lossy().into_owned();
        if only_positionals || !text.starts_with('-') || text == "-" {
            if !only_positionals
                && positional == 0
                && let Some(sub) = current.find_subcommand(&text)
            {
                current = sub;
                out.push(token);
                continue;
            }
            let mut positionals: Vec<&Arg> = current.get_positionals().collect();
            positionals.sort_by_key(|a| a.get_index());
            let arg = positionals.get(positional).or_else(|| {
                positionals
                    .last()
                    .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))
            });
            positional += 1;
            match arg {
                Some(arg) if is_path(arg) => out.push(resolve(&token, cwd)),
                _ => out.push(token),
            }
            continue;
        }
        if text == "--" {
            only_positionals = true;
            out.push(token);
            continue;
        }
        // `--name=value`, `--name value`, `-x value`, `-xvalue`.
        let (arg, inline) = if let Some(long) = text.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (long, None),
            };
            let arg = current.get_arguments().find(|a| {
                a.get_long() == Some(name)
                    || a.get_all_aliases().is_some_and(|all| all.contains(&name))
            });
            (arg, value.map(|v| (format!("--{name}="), v)))
        } else {
            let mut chars = text[1..].chars();
            let short = chars.next();
            let rest: String = chars.collect();
            let arg = current.get_arguments().find(|a| a.get_short() == short);
            let inline = (!rest.is_empty()).then(|| (format!("-{}", short.unwrap_or('-')), rest));
            (arg, inline)
        };
        let Some(arg) = arg.filter(|a| takes_value(a)) else {
            out.push(token);
            continue;
        };
        match inline {
            Some((prefix, value)) => {
                let value = if is_path(arg) {
                    resolve(value.as_ref(), cwd)
                } else {
                    value.into()
                };
                let mut joined = OsString::from(prefix);
                joined.push(value);
                out.push(joined);
            }
            None => {
                out.push(token);
                if let Some(value) = tokens.next() {
                    out.push(if is_path(arg) {
                        resolve(&value, cwd)
                    } else {
                        value
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn resolved(args: &[&str]) -> Vec<String> {
        let args = std::iter::once("cargo xtask")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        resolve_user_paths(crate::Cli::command(), args, Path::new("/home/me/work"))
            .into_iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn typed_paths_are_taken_from_where_the_user_stands() {
        assert_eq!(
            resolved(&["validate", "--config", "./pipeline.toml"]),
            ["validate", "--config", "/home/me/work/./pipeline.toml"]
        );
        assert_eq!(
            resolved(&["--config=p.toml", "status", "--local", "--state-dir", "st"]),
            [
                "--config=/home/me/work/p.toml",
                "status",
                "--local",
                "--state-dir",
                "/home/me/work/st"
            ]
        );
        assert_eq!(
            resolved(&["gen", "--out-dir", "/abs/tf", "--config", "x/pipeline.toml"]),
            [
                "gen",
                "--out-dir",
                "/abs/tf",
                "--config",
                "/home/me/work/x/pipeline.toml"
            ]
        );
    }

    #[test]
    fn other_values_and_flags_are_left_alone() {
        assert_eq!(
            resolved(&["plan", "--rate", "5", "--body-bytes", "100"]),
            ["plan", "--rate", "5", "--body-bytes", "100"]
        );
        assert_eq!(
            resolved(&["items", "EventTable", "--local", "--limit", "3"]),
            ["items", "EventTable", "--local", "--limit", "3"]
        );
        assert_eq!(
            resolved(&["dev", "--port", "4567"]),
            ["dev", "--port", "4567"]
        );
    }

    /// Every path-typed argument of every command is a `PathBuf` (so this module finds it), and one flag name
    /// means one thing: a flag that is a path in one command is a path in all.
    #[test]
    fn one_flag_name_has_one_kind_everywhere() {
        let mut command = crate::Cli::command();
        command.build();
        let mut kinds: std::collections::BTreeMap<String, (bool, String)> = Default::default();
        fn walk(cmd: &Command, kinds: &mut std::collections::BTreeMap<String, (bool, String)>) {
            for arg in cmd.get_arguments() {
                if let Some(long) = arg.get_long() {
                    let kind = (is_path(arg), cmd.get_name().to_string());
                    if let Some((path, first)) = kinds.get(long) {
                        assert_eq!(
                            *path,
                            kind.0,
                            "--{long} is a path in one command and not in another ({first}, {})",
                            cmd.get_name()
                        );
                    } else {
                        kinds.insert(long.to_string(), kind);
                    }
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, kinds);
            }
        }
        walk(&command, &mut kinds);
        for name in ["config", "state-dir", "out-dir", "terraform-dir", "outputs"] {
            assert!(kinds.get(name).is_some_and(|k| k.0), "--{name} is a path");
        }
    }
}
