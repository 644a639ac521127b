//! `[functions.authorizer]` and `[functions.writer]`: architecture, memory, timeout, concurrency, logs.

use toml::Spanned;

use super::checker::Checker;
use crate::raw::RawFunction;
use crate::settings::{self, Setting};
use crate::{Architecture, FunctionSettings};

#[derive(Clone, Copy)]
pub(super) enum Role {
    Authorizer,
    Writer,
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
}
