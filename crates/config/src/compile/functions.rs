//! `[functions.authorizer]`, `[functions.writer]` and the user's `[functions.<name>]` (built from a cargo
//! package): architecture, memory, timeout, concurrency, logs.

use std::collections::BTreeMap;

use toml::Spanned;

use super::checker::Checker;
use crate::raw::RawFunction;
use crate::settings::{self, Setting};
use crate::{Architecture, CustomFunction, FunctionSettings, Functions};

#[derive(Clone, Copy)]
pub(super) enum Role {
    Authorizer,
    /// The stock writer, and (with its defaults) the user's functions.
    Writer,
}

/// The stock functions, whose sections take settings but no `crate`.
const STOCK: [&str; 2] = ["authorizer", "writer"];

/// Every `[functions.*]`: the stock two's settings and the user's functions, each crate checked to be a
/// cargo package with a bin of the function's name.
pub(super) fn functions(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawFunction>>,
) -> Functions {
    let find = |name: &str| {
        raw.iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    };
    let mut custom = BTreeMap::new();
    for (k, v) in raw {
        let name = k.get_ref();
        let f = v.get_ref();
        if STOCK.contains(&name.as_str()) {
            if let Some(krate) = &f.krate {
                c.err(
                    krate.span(),
                    format!("`crate` is not allowed in [functions.{name}]: the stock {name} is built from lambdas/{name}"),
                    Some("give your function its own name, e.g. [functions.enricher], and name it in a consumer's `function`".into()),
                );
            }
            continue;
        }
        c.name(k, &settings::FUNCTION_NAME, "");
        let Some(krate) = &f.krate else {
            c.err(
                k.span(),
                format!("[functions.{name}] has no `crate`; a function other than `authorizer` and `writer` is built from your cargo package"),
                Some(format!("add `crate = \"functions/{name}\"` (`cargo xtask new function {name}` scaffolds one)")),
            );
            continue;
        };
        let dir = c.dir.join(krate.get_ref());
        let Some(package) = package_with_bin(c, krate, &dir, name) else {
            continue;
        };
        custom.insert(
            name.clone(),
            CustomFunction {
                name: name.clone(),
                crate_path: krate.get_ref().clone(),
                crate_dir: dir,
                package,
                settings: function_settings(c, Some(v), Role::Writer),
            },
        );
    }
    Functions {
        authorizer: function_settings(c, find("authorizer"), Role::Authorizer),
        writer: function_settings(c, find("writer"), Role::Writer),
        custom,
    }
}

/// The package name of the cargo package in `dir`, if it is one with a bin named `bin`; else an error
/// at `krate`.
fn package_with_bin(
    c: &mut Checker,
    krate: &Spanned<String>,
    dir: &std::path::Path,
    bin: &str,
) -> Option<String> {
    let manifest = dir.join("Cargo.toml");
    let shown = krate.get_ref();
    let text = match std::fs::read_to_string(&manifest) {
        Ok(text) => text,
        Err(e) => {
            c.err(
                krate.span(),
                format!("`crate` is \"{shown}\", which is not a cargo package ({}: {e})", manifest.display()),
                Some(format!("the path is relative to pipeline.toml's folder; `cargo xtask new function {bin}` scaffolds a package")),
            );
            return None;
        }
    };
    let parsed: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            c.err(
                krate.span(),
                format!(
                    "`crate` is \"{shown}\", whose Cargo.toml cannot be read: {}",
                    e.message()
                ),
                Some("fix its Cargo.toml (`cargo metadata` in that folder says more)".into()),
            );
            return None;
        }
    };
    let Some(package) = parsed
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
    else {
        c.err(
            krate.span(),
            format!("`crate` is \"{shown}\", whose Cargo.toml has no [package] name (a workspace root is not a package)"),
            Some("point `crate` at the function's own package folder".into()),
        );
        return None;
    };
    let bins: Vec<&str> = parsed
        .get("bin")
        .and_then(toml::Value::as_array)
        .map(|bins| {
            bins.iter()
                .filter_map(|b| b.get("name").and_then(toml::Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let has_bin = bins.contains(&bin) || (package == bin && dir.join("src/main.rs").is_file());
    if !has_bin {
        c.err(
            krate.span(),
            format!("package {package} (\"{shown}\") has no bin named {bin:?}; the function's binary is its bin of the same name"),
            Some(format!("add `[[bin]]\nname = \"{bin}\"\npath = \"src/main.rs\"` to its Cargo.toml")),
        );
        return None;
    }
    Some(package.to_owned())
}

/// The authorizer's shortest timeout: its Secrets Manager client gives each read 2 s in all (1 s to
/// connect), and a request may need two (`AWSCURRENT`, then `AWSPREVIOUS` in a grace period): 4 s, and a
/// second for the rest.
pub(super) const AUTHORIZER_MIN_TIMEOUT_SECONDS: i64 = 5;

/// The default of a per-function setting for one function.
fn function_default(setting: &Setting, role: Role) -> i64 {
    match (setting.default, role) {
        (settings::DefaultValue::PerFunction { authorizer, .. }, Role::Authorizer) => authorizer,
        (settings::DefaultValue::PerFunction { writer, .. }, Role::Writer) => writer,
        _ => setting.int_default(),
    }
}

pub(super) fn function_settings(
    c: &mut Checker,
    f: Option<&Spanned<RawFunction>>,
    role: Role,
) -> FunctionSettings {
    let memory = function_default(&settings::MEMORY_MB, role);
    let timeout = function_default(&settings::TIMEOUT_SECONDS, role);
    let reserved = function_default(&settings::RESERVED_CONCURRENCY, role);
    let as_u32 = |n: i64| u32::try_from(n).unwrap_or(0);
    // -1 is "unreserved".
    let reserved_or_none = |n: i64| u32::try_from(n).ok();
    let Some(f) = f else {
        return FunctionSettings {
            architecture: Architecture::X86_64,
            memory_mb: as_u32(memory),
            timeout_seconds: as_u32(timeout),
            reserved_concurrency: reserved_or_none(reserved),
            log_retention_days: as_u32(settings::FUNCTION_LOG_RETENTION_DAYS.int_default()),
        };
    };
    let f = f.get_ref();
    let architecture = match c.choice_or_default(&f.architecture, &settings::ARCHITECTURE) {
        "arm64" => Architecture::Arm64,
        _ => Architecture::X86_64,
    };
    let timeout_seconds = c.int_or(&f.timeout_seconds, &settings::TIMEOUT_SECONDS, timeout);
    if let (Role::Authorizer, Some(t)) = (role, &f.timeout_seconds)
        && (1..AUTHORIZER_MIN_TIMEOUT_SECONDS).contains(t.get_ref())
    {
        c.err(
            t.span(),
            format!(
                "the authorizer's `timeout_seconds` is {}, under the {} s its two Secrets Manager reads may take (2 s each, connect included) with the request around them",
                t.get_ref(),
                AUTHORIZER_MIN_TIMEOUT_SECONDS - 1
            ),
            Some(format!(
                "set {AUTHORIZER_MIN_TIMEOUT_SECONDS} or more (the default is {timeout}); a timed-out authorizer answers 500 to the caller"
            )),
        );
    }
    FunctionSettings {
        architecture,
        memory_mb: as_u32(c.int_or(&f.memory_mb, &settings::MEMORY_MB, memory)),
        timeout_seconds: as_u32(timeout_seconds),
        reserved_concurrency: reserved_or_none(c.int_or(
            &f.reserved_concurrency,
            &settings::RESERVED_CONCURRENCY,
            reserved,
        )),
        log_retention_days: c.log_retention(
            &f.log_retention_days,
            &settings::FUNCTION_LOG_RETENTION_DAYS,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn each_function_has_its_own_defaults() {
        let p = valid(BASE);
        assert_eq!(p.functions.authorizer.memory_mb, 128);
        assert_eq!(p.functions.writer.memory_mb, 256);
        assert_eq!(p.functions.writer.reserved_concurrency, None);
    }

    #[test]
    fn architecture_memory_and_log_retention_are_checked() {
        let src = base_and(
            "\n[functions.writer]\narchitecture = \"arm\"\nmemory_mb = 64\nlog_retention_days = 2\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    18,
                    16,
                    "`architecture` is \"arm\", which is not a valid value"
                ),
                at(
                    19,
                    13,
                    "`memory_mb` is 64, but must be between 128 and 10240 (Lambda's memory range, in MB)"
                ),
                at(
                    20,
                    22,
                    "`log_retention_days` is 2, which CloudWatch Logs does not offer"
                ),
            ]
        );
    }

    #[test]
    fn the_authorizer_needs_time_for_two_secret_reads() {
        let src = base_and("\n[functions.authorizer]\ntimeout_seconds = 4\n");
        let found = errors(&src);
        assert_eq!((found.len(), found[0].0, found[0].1), (1, 18, 19));
        assert!(
            found[0]
                .2
                .starts_with("the authorizer's `timeout_seconds` is 4, under the 4 s")
        );
        valid(&src.replace("= 4", "= 5"));
        // The writer has no such floor.
        valid(&base_and("\n[functions.writer]\ntimeout_seconds = 1\n"));
    }

    /// A scratch folder holding a cargo package `functions/<name>` (with `manifest` as its Cargo.toml).
    fn package(manifest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("functions/enricher");
        std::fs::create_dir_all(pkg.join("src")).unwrap();
        std::fs::write(pkg.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(pkg.join("src/main.rs"), "fn main() {}\n").unwrap();
        dir
    }

    fn parse_in(
        src: &str,
        dir: &std::path::Path,
    ) -> Result<crate::Pipeline, Vec<(usize, usize, String)>> {
        crate::parse_in(src, "pipeline.toml", dir).map_err(|e| {
            e.errors
                .into_iter()
                .map(|e| (e.line, e.column, e.message))
                .collect()
        })
    }

    const ENRICHER: &str =
        "\n[functions.enricher]\ncrate = \"functions/enricher\"\nmemory_mb = 512\n";

    #[test]
    fn a_user_function_is_a_cargo_package_with_its_bin_and_the_writer_defaults() {
        let dir = package("[package]\nname = \"enricher\"\n");
        let p = parse_in(&base_and(ENRICHER), dir.path()).unwrap();
        let f = &p.functions.custom["enricher"];
        assert_eq!(
            (f.package.as_str(), f.crate_path.as_str()),
            ("enricher", "functions/enricher")
        );
        assert_eq!(f.crate_dir, dir.path().join("functions/enricher"));
        assert_eq!(
            (f.settings.memory_mb, f.settings.timeout_seconds),
            (512, 60)
        );

        // A package of another name must name the bin.
        let dir = package(
            "[package]\nname = \"acme-enrich\"\n[[bin]]\nname = \"enricher\"\npath = \"src/main.rs\"\n",
        );
        assert_eq!(
            parse_in(&base_and(ENRICHER), dir.path())
                .unwrap()
                .functions
                .custom["enricher"]
                .package,
            "acme-enrich"
        );
        let dir = package("[package]\nname = \"acme-enrich\"\n");
        let found = parse_in(&base_and(ENRICHER), dir.path()).unwrap_err();
        assert_eq!(
            (found.len(), found[0].0, found[0].1),
            (1, 18, 9),
            "{found:?}"
        );
        assert!(
            found[0].2.contains("has no bin named \"enricher\""),
            "{found:?}"
        );
    }

    #[test]
    fn a_crate_that_is_not_a_package_or_a_stock_crate_is_refused_where_written() {
        let dir = tempfile::tempdir().unwrap();
        let found = parse_in(&base_and(ENRICHER), dir.path()).unwrap_err();
        assert_eq!((found[0].0, found[0].1), (18, 9));
        assert!(
            found[0]
                .2
                .starts_with("`crate` is \"functions/enricher\", which is not a cargo package"),
            "{found:?}"
        );
        let dir = package("[workspace]\nmembers = []\n");
        let found = parse_in(&base_and(ENRICHER), dir.path()).unwrap_err();
        assert!(found[0].2.contains("has no [package] name"), "{found:?}");

        assert_eq!(
            errors(&base_and(
                "\n[functions.enricher]\nmemory_mb = 512\n\n[functions.writer]\ncrate = \"x\"\n"
            )),
            vec![
                at(
                    17,
                    12,
                    "[functions.enricher] has no `crate`; a function other than `authorizer` and `writer` is built from your cargo package"
                ),
                at(
                    21,
                    9,
                    "`crate` is not allowed in [functions.writer]: the stock writer is built from lambdas/writer"
                ),
            ]
        );
        let found = errors(&base_and("\n[functions.\"en richer\"]\ncrate = \"x\"\n"));
        assert!(
            found[0]
                .2
                .starts_with("function name \"en richer\" contains ' '"),
            "{found:?}"
        );
    }
}
