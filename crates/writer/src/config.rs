//! The writer's configuration: which table it fills and how its key is made ([`WriterConfig`], read from the
//! environment the generated Terraform sets).

use sluice_contract::env;

use crate::{KeyAttribute, KeyType, WritePolicy, WriterError};

/// Which table the writer fills and how its key is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    pub table_name: String,
    /// Filled from the Kinesis record's partition key (the route's path parameter).
    pub partition_key: KeyAttribute,
    /// Filled from the member of the same name of the body.
    pub sort_key: Option<KeyAttribute>,
    pub write: WritePolicy,
}

impl WriterConfig {
    /// A config with an `S` partition key, no sort key and the default write policy.
    pub fn new(table_name: impl Into<String>, partition_key: impl Into<String>) -> Self {
        WriterConfig {
            table_name: table_name.into(),
            partition_key: KeyAttribute::new(partition_key, KeyType::S),
            sort_key: None,
            write: WritePolicy::default(),
        }
    }

    /// Reads the table name, the partition key's name and type (`S`|`N`, default `S`), and the sort key's
    /// (optional) from the environment the generated Terraform sets ([`sluice_contract::env`]).
    pub fn from_env() -> Result<Self, WriterError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`WriterConfig::from_env`] over any lookup (for tests and the local runtime).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, WriterError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let table_name =
            non_empty(env::TABLE_NAME).ok_or(WriterError::MissingSetting(env::TABLE_NAME))?;
        let partition_name = non_empty(env::PARTITION_KEY_NAME)
            .ok_or(WriterError::MissingSetting(env::PARTITION_KEY_NAME))?;
        let partition_key = KeyAttribute::new(
            partition_name,
            key_type(env::PARTITION_KEY_TYPE, non_empty(env::PARTITION_KEY_TYPE))?,
        );
        let sort_key = match non_empty(env::SORT_KEY_NAME) {
            None => None,
            Some(name) => Some(KeyAttribute::new(
                name,
                key_type(env::SORT_KEY_TYPE, non_empty(env::SORT_KEY_TYPE))?,
            )),
        };
        Ok(WriterConfig {
            table_name,
            partition_key,
            sort_key,
            write: WritePolicy::default(),
        })
    }
}

fn key_type(name: &'static str, value: Option<String>) -> Result<KeyType, WriterError> {
    match value.as_deref().map(str::trim) {
        None => Ok(KeyType::S),
        Some(v) => KeyType::parse(v).ok_or_else(|| WriterError::InvalidSetting {
            name,
            value: v.to_owned(),
            expected: "S or N",
        }),
    }
}
