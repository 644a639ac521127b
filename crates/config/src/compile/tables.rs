//! `[tables.*]`: DynamoDB tables — names, key attributes, billing and capacity, TTL attribute.

use std::collections::BTreeMap;

use sluice_contract::writer::attribute;
use toml::Spanned;

use super::checker::{Checker, list};
use crate::raw::{RawKey, RawTable};
use crate::settings::{self, Limit, Setting};
use crate::{Billing, KeyAttribute, KeyType, Table};

/// A table key attribute: a valid attribute name, not one the writer sets itself, and a key type.
fn key_attribute(c: &mut Checker, k: &Spanned<RawKey>, which: &str) -> KeyAttribute {
    let r = k.get_ref();
    c.name_as(
        &r.name,
        &format!("{which} attribute name"),
        &settings::ATTRIBUTE_NAME,
        "",
    );
    if let Some(reserved) = attribute::ALL.iter().find(|a| **a == r.name.get_ref()) {
        c.err(
            r.name.span(),
            format!(
                "the {which} is named \"{reserved}\", an attribute the writer sets on every item (see docs/CONTRACTS.md)"
            ),
            Some(format!(
                "choose another name; the writer sets {}",
                list(&attribute::ALL)
            )),
        );
    }
    let kind = match &r.kind {
        None => KeyType::S,
        Some(t) => match c.choice(t, &KEY_TYPE) {
            Some(k) => KeyType::parse(k).unwrap_or(KeyType::S),
            None => KeyType::S,
        },
    };
    KeyAttribute {
        name: r.name.get_ref().clone(),
        kind,
    }
}

/// The `type` of a key attribute (part of `partition_key`/`sort_key`, so not a row of the table).
const KEY_TYPE: Setting = Setting {
    section: settings::Section::Table,
    key: "type",
    default: settings::DefaultValue::Str("S"),
    limit: Limit::OneOf(&["S", "N"]),
    meaning: "the key's DynamoDB type",
    bound_by: "",
};

pub(super) fn tables(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawTable>>,
    prefix: &str,
) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &settings::TABLE_NAME, prefix);
        let t = v.get_ref();
        let partition_key = key_attribute(c, &t.partition_key, "partition key");
        let sort_key = t.sort_key.as_ref().map(|s| key_attribute(c, s, "sort key"));
        if let Some(sk) = &t.sort_key
            && sk.get_ref().name.get_ref() == &partition_key.name
        {
            c.err(
                sk.get_ref().name.span(),
                "the sort key must differ from the partition key",
                None,
            );
        }
        let provisioned =
            c.choice_or_default(&t.billing_mode, &settings::BILLING_MODE) == "provisioned";
        let billing = if provisioned {
            let mut cap = |v: &Option<Spanned<i64>>, setting: &Setting| match v {
                Some(_) => c.int_or(v, setting, 1) as u32,
                None => {
                    c.err(
                        t.billing_mode.as_ref().map(|s| s.span()).unwrap_or(0..0),
                        format!(
                            "table \"{}\" is provisioned, so it needs `{}`",
                            k.get_ref(),
                            setting.key
                        ),
                        Some(format!("add `{} = 5`", setting.key)),
                    );
                    1
                }
            };
            Billing::Provisioned {
                read_capacity: cap(&t.read_capacity, &settings::READ_CAPACITY),
                write_capacity: cap(&t.write_capacity, &settings::WRITE_CAPACITY),
            }
        } else {
            for (v, setting) in [
                (&t.read_capacity, &settings::READ_CAPACITY),
                (&t.write_capacity, &settings::WRITE_CAPACITY),
            ] {
                if let Some(v) = v {
                    c.err(
                        v.span(),
                        format!(
                            "table \"{}\" is on-demand, so `{}` does not apply",
                            k.get_ref(),
                            setting.key
                        ),
                        Some("remove it, or set billing_mode = \"provisioned\"".into()),
                    );
                }
            }
            Billing::OnDemand
        };
        if let Some(ttl) = &t.ttl_attribute {
            c.name_as(ttl, "TTL attribute name", &settings::ATTRIBUTE_NAME, "");
        }
        out.insert(
            k.get_ref().clone(),
            Table {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                partition_key,
                sort_key,
                billing,
                point_in_time_recovery: t
                    .point_in_time_recovery
                    .unwrap_or(settings::POINT_IN_TIME_RECOVERY.bool_default()),
                ttl_attribute: t.ttl_attribute.as_ref().map(|s| s.get_ref().clone()),
                deletion_protection: t
                    .deletion_protection
                    .unwrap_or(settings::DELETION_PROTECTION.bool_default()),
            },
        );
    }
    out
}
