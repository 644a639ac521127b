//! The alarms as the root's `main.tf` writes them: the `alarms` map of single-metric alarms (HCL literals)
//! and the API's 4XX rate alarm (metric math), from [`crate::monitoring::alarms`].

use sluice_config::Pipeline;

use super::shared::Entry;
use crate::escape::hcl_string;
use crate::monitoring::{self as m, Metric, Statistic};

/// One alarm of [`crate::monitoring::alarms`], as the root's `alarms` map writes it (HCL literals).
pub(super) struct AlarmView {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) namespace: String,
    pub(super) metric_name: String,
    /// Dimension names and HCL expressions.
    pub(super) dimensions: Vec<Entry>,
    pub(super) statistic: String,
    pub(super) extended_statistic: String,
    pub(super) period: u32,
    pub(super) evaluation_periods: u32,
    pub(super) datapoints_to_alarm: u32,
    pub(super) threshold: String,
    pub(super) comparison: &'static str,
    pub(super) treat_missing_data: &'static str,
}

/// The API's 4XX rate alarm (metric math).
pub(super) struct RateView {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) api_name: String,
    pub(super) threshold: String,
    pub(super) min_requests: u32,
    pub(super) period: u32,
    pub(super) evaluation_periods: u32,
    pub(super) datapoints_to_alarm: u32,
}

/// The alarms as the root's `alarms` map writes them, and the 4XX rate alarm.
pub(super) fn alarm_views(p: &Pipeline) -> (Vec<AlarmView>, RateView) {
    let mut views = Vec::new();
    let mut rate = None;
    for a in m::alarms(p) {
        match a.metric {
            Metric::Single {
                namespace,
                name,
                dimensions,
                statistic,
            } => {
                let (statistic, extended_statistic) = match statistic {
                    Statistic::Standard(s) => (hcl_string(s), "null".to_string()),
                    Statistic::Extended(s) => ("null".to_string(), hcl_string(s)),
                };
                views.push(AlarmView {
                    name: a.name,
                    description: a.description,
                    namespace: namespace.to_string(),
                    metric_name: name,
                    dimensions: dimensions
                        .into_iter()
                        .map(|(key, value)| Entry {
                            key: key.to_string(),
                            pad: String::new(),
                            value,
                        })
                        .collect(),
                    statistic,
                    extended_statistic,
                    period: m::PERIOD,
                    evaluation_periods: a.evaluation_periods,
                    datapoints_to_alarm: a.datapoints_to_alarm,
                    threshold: m::hcl_number(a.threshold),
                    comparison: a.comparison,
                    treat_missing_data: a.treat_missing_data,
                });
            }
            Metric::ClientErrorRate { api_name, .. } => {
                rate = Some(RateView {
                    name: a.name,
                    description: a.description,
                    api_name,
                    threshold: m::hcl_number(a.threshold),
                    min_requests: m::MIN_REQUESTS_FOR_RATE,
                    period: m::PERIOD,
                    evaluation_periods: a.evaluation_periods,
                    datapoints_to_alarm: a.datapoints_to_alarm,
                });
            }
        }
    }
    let rate = rate.unwrap_or_else(|| RateView {
        name: format!("{}-api-4xx-rate", p.name),
        description: String::new(),
        api_name: p.name.clone(),
        threshold: m::hcl_number(m::CLIENT_ERROR_RATE_PERCENT),
        min_requests: m::MIN_REQUESTS_FOR_RATE,
        period: m::PERIOD,
        evaluation_periods: 3,
        datapoints_to_alarm: 3,
    });
    (views, rate)
}
