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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_provisioned_table_takes_its_capacity() {
        let p = valid(&base_with(
            "partition_key = { name = \"id\" }\n",
            "partition_key = { name = \"id\" }\nsort_key = { name = \"at\", type = \"N\" }\nbilling_mode = \"provisioned\"\nread_capacity = 2\nwrite_capacity = 3\n",
        ));
        let t = &p.tables["Items"];
        assert_eq!(
            t.billing,
            Billing::Provisioned {
                read_capacity: 2,
                write_capacity: 3
            }
        );
        assert_eq!(t.sort_key.as_ref().map(|k| k.kind), Some(KeyType::N));
    }

    #[test]
    fn keys_are_checked() {
        let src = base_and(
            "\n[tables.Other]\npartition_key = { name = \"receivedAt\" }\nsort_key = { name = \"receivedAt\", type = \"X\" }\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    18,
                    26,
                    "the partition key is named \"receivedAt\", an attribute the writer sets on every item (see docs/CONTRACTS.md)"
                ),
                at(
                    19,
                    21,
                    "the sort key is named \"receivedAt\", an attribute the writer sets on every item (see docs/CONTRACTS.md)"
                ),
                at(19, 21, "the sort key must differ from the partition key"),
                at(19, 42, "`type` is \"X\", which is not a valid value"),
            ]
        );
    }

    #[test]
    fn capacity_goes_with_the_billing_mode() {
        let src = base_and(
            "\n[tables.P]\npartition_key = { name = \"id\" }\nbilling_mode = \"provisioned\"\n\n[tables.O]\npartition_key = { name = \"id\" }\nread_capacity = 5\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    19,
                    16,
                    "table \"P\" is provisioned, so it needs `read_capacity`"
                ),
                at(
                    19,
                    16,
                    "table \"P\" is provisioned, so it needs `write_capacity`"
                ),
                at(
                    23,
                    17,
                    "table \"O\" is on-demand, so `read_capacity` does not apply"
                ),
            ]
        );
    }
}
