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
    FunctionSettings {
        architecture,
        memory_mb: as_u32(c.int_or(&f.memory_mb, &settings::MEMORY_MB, memory)),
        timeout_seconds: as_u32(c.int_or(&f.timeout_seconds, &settings::TIMEOUT_SECONDS, timeout)),
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
