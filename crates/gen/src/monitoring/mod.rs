//! The pipeline's monitoring, from pipeline.toml: its alarms ([`alarms()`], which the root's main.tf writes)
//! and its dashboard ([`dashboard()`], `modules/alerts/dashboard.json.tftpl`).

mod alarms;
mod dashboard;

pub use alarms::{
    AGE_ALARM_FRACTION, Alarm, CLIENT_ERROR_RATE_PERCENT, INTEGRATION_TIMEOUT_MS,
    LATENCY_ALARM_FRACTION, MIN_REQUESTS_FOR_RATE, Metric, PERIOD, Statistic, alarms, hcl_number,
};
pub use dashboard::dashboard;
