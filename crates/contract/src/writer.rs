//! The writer's side of the record contract: the attributes it sets on every item, and the key types.

use crate::envelope::member;

/// The attributes the writer sets on every item besides the table's keys. A key may not be named like one
/// of them (the config refuses it): the key would overwrite the attribute, or the attribute the key.
pub mod attribute {
    use super::member;

    /// The request body, as a map.
    pub const PAYLOAD: &str = "payload";
    /// The envelope member of the same name.
    pub const RECEIVED_AT: &str = member::RECEIVED_AT;
    /// The envelope member of the same name.
    pub const REQUEST_ID: &str = member::REQUEST_ID;
    /// The envelope member of the same name.
    pub const SOURCE_IP: &str = member::SOURCE_IP;
    /// The Kinesis record's sequence number (the ordering rule compares it).
    pub const SEQUENCE_NUMBER: &str = "sequenceNumber";
    /// The Kinesis record's shard id.
    pub const SHARD_ID: &str = "shardId";
    /// The record's approximate arrival time, milliseconds since the epoch.
    pub const ARRIVAL_TIME: &str = "arrivalTime";

    /// Every attribute the writer sets itself.
    pub const ALL: [&str; 7] = [
        PAYLOAD,
        RECEIVED_AT,
        REQUEST_ID,
        SOURCE_IP,
        SEQUENCE_NUMBER,
        SHARD_ID,
        ARRIVAL_TIME,
    ];
}

/// A key attribute's DynamoDB type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// String.
    S,
    /// Number.
    N,
}

impl KeyType {
    /// DynamoDB's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
        }
    }

    /// The type of DynamoDB's name, if it is a key type.
    pub fn parse(s: &str) -> Option<KeyType> {
        match s {
            "S" => Some(KeyType::S),
            "N" => Some(KeyType::N),
            _ => None,
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A table key attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyAttribute {
    pub name: String,
    pub kind: KeyType,
}

impl KeyAttribute {
    pub fn new(name: impl Into<String>, kind: KeyType) -> Self {
        KeyAttribute {
            name: name.into(),
            kind,
        }
    }
}
