//! The writer's one error type: what can go wrong around it (configuration, the event, the dead-letter store).

/// Everything that can go wrong around the writer (its handler itself never fails: failures are per record).
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("environment variable {0} is not set; the generated Terraform sets it on the function")]
    MissingSetting(&'static str),
    #[error("environment variable {name} = {value:?} is invalid: expected {expected}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("could not send a message to the dead-letter queue: {0}")]
    DeadLetter(String),
    /// The queue refused the message for its size: not worth retrying as it is; the writer puts the data
    /// into the dead-letter bucket and sends a message pointing at it instead.
    #[error("the dead-letter queue refused the message as too large: {0}")]
    DeadLetterTooLarge(String),
    #[error("could not store a dead letter's data in the dead-letter bucket: {0}")]
    DeadLetterData(String),
    #[error("the invocation payload is not a Kinesis event: {0}")]
    InvalidEvent(String),
}

impl ConsumerError {
    /// A stable error type for the Lambda error report.
    pub fn error_type(&self) -> &'static str {
        match self {
            ConsumerError::MissingSetting(_) | ConsumerError::InvalidSetting { .. } => {
                "InvalidConfiguration"
            }
            ConsumerError::DeadLetter(_) | ConsumerError::DeadLetterData(_) => "Retryable",
            ConsumerError::DeadLetterTooLarge(_) => "MessageTooLarge",
            ConsumerError::InvalidEvent(_) => "InvalidEvent",
        }
    }
}
