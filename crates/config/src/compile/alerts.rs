//! `[alerts]`: who the alarms notify — e-mail addresses and an existing standard SNS topic.

use super::checker::Checker;
use crate::Alerts;
use crate::raw::RawAlerts;

/// `[alerts]`: e-mail addresses (each once, each an address) and an existing standard SNS topic's ARN.
pub(super) fn alerts(c: &mut Checker, a: &RawAlerts) -> Alerts {
    let mut emails: Vec<String> = Vec::new();
    if let Some(list) = &a.emails {
        for e in list.get_ref() {
            let email = e.get_ref();
            if !is_email(email) {
                c.err(
                    e.span(),
                    format!("`emails` has \"{email}\", which is not an e-mail address"),
                    Some("write each address whole, e.g. \"oncall@example.com\"".into()),
                );
            } else if emails.iter().any(|seen| seen.eq_ignore_ascii_case(email)) {
                c.err(
                    e.span(),
                    format!("`emails` has \"{email}\" twice"),
                    Some("SNS subscribes an address once; remove the repetition".into()),
                );
            } else {
                emails.push(email.clone());
            }
        }
    }
    let sns_topic_arn = a.sns_topic_arn.as_ref().and_then(|v| {
        let given = v.get_ref().as_str();
        let parts: Vec<&str> = given.splitn(6, ':').collect();
        let topic = parts.get(5).copied().unwrap_or("");
        let is_topic_arn = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].chars().all(|ch| ch.is_ascii_digit())
            && (1..=256).contains(&topic.len())
            && topic
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.');
        if !is_topic_arn {
            c.err(
                v.span(),
                format!("`sns_topic_arn` is \"{given}\", which is not an SNS topic ARN"),
                Some("arn:aws:sns:<region>:<account>:<topic name>".into()),
            );
            None
        } else if topic.ends_with(".fifo") {
            c.err(
                v.span(),
                format!("`sns_topic_arn` names the FIFO topic \"{topic}\""),
                Some(
                    "CloudWatch alarms publish to standard topics only; give a standard topic"
                        .into(),
                ),
            );
            None
        } else {
            Some(given.to_string())
        }
    });
    Alerts {
        emails,
        sns_topic_arn,
    }
}

/// An address SNS's e-mail protocol takes: `local@domain`, a dot in the domain, no spaces or control
/// characters (what a typo breaks, not RFC 5322).
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && s.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|ch| ch.is_whitespace() || ch.is_control())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn addresses_and_a_standard_topic_are_taken() {
        let p = valid(&base_and(
            "\n[alerts]\nemails = [\"a@example.com\"]\nsns_topic_arn = \"arn:aws:sns:eu-west-1:123456789012:alarms\"\n",
        ));
        assert_eq!(p.alerts.emails, vec!["a@example.com".to_string()]);
        assert!(p.alerts.sns_topic_arn.is_some());
    }

    #[test]
    fn bad_and_repeated_addresses_and_fifo_topics_are_refused() {
        let src = base_and(
            "\n[alerts]\nemails = [\"a@example.com\", \"A@example.com\", \"oncall\"]\nsns_topic_arn = \"arn:aws:sns:eu-west-1:123456789012:alarms.fifo\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(18, 28, "`emails` has \"A@example.com\" twice"),
                at(
                    18,
                    45,
                    "`emails` has \"oncall\", which is not an e-mail address"
                ),
                at(
                    19,
                    17,
                    "`sns_topic_arn` names the FIFO topic \"alarms.fifo\""
                ),
            ]
        );
    }

    #[test]
    fn a_topic_arn_must_be_one() {
        let src = base_and("\n[alerts]\nsns_topic_arn = \"alarms\"\n");
        assert_eq!(
            errors(&src),
            vec![at(
                18,
                17,
                "`sns_topic_arn` is \"alarms\", which is not an SNS topic ARN"
            ),]
        );
    }
}
