//! examples/enrich's consumer function: each order is checked (a known currency, a positive amount),
//! enriched (its amount in euro cents and a priority) and written to two tables: `OrderTable` by order id,
//! `CustomerOrders` under its customer. Test traffic is skipped; an order breaking the rule is
//! dead-lettered with the reason, its data kept. Everything else — the ordering guard, retries, dead
//! letters, the partial batch response, metrics — is `sluice-consumer`'s.

use serde::Deserialize;
use serde_json::json;
use sluice_consumer::{Outcome, Put, Record};

/// An order as the route receives it (members the function does not read are ignored).
#[derive(Debug, Deserialize)]
struct Order {
    customer: String,
    amount: f64,
    currency: String,
    #[serde(default)]
    test: bool,
}

/// Euro cents per unit of each currency the business accepts.
const RATES: [(&str, f64); 3] = [("EUR", 100.0), ("USD", 92.0), ("GBP", 117.0)];

/// Orders from this many euros on are handled first.
const HIGH_PRIORITY_EUR: f64 = 1000.0;

async fn handle(record: Record<Order>) -> Outcome {
    let Record {
        body: order,
        envelope,
        stream,
    } = record;
    if order.test {
        return Outcome::Skip;
    }
    let Some((_, rate)) = RATES.iter().find(|(code, _)| *code == order.currency) else {
        return Outcome::DeadLetter(format!("currency {:?} is not accepted", order.currency));
    };
    if order.amount.is_nan() || order.amount <= 0.0 {
        return Outcome::DeadLetter(format!("amount {} is not positive", order.amount));
    }
    #[allow(clippy::cast_possible_truncation)]
    let eur_cents = (order.amount * rate).round() as i64;
    let priority = if eur_cents >= (HIGH_PRIORITY_EUR * 100.0) as i64 {
        "high"
    } else {
        "normal"
    };
    // The route's path parameter is the record's partition key: the order id.
    let order_id = stream.partition_key;
    Outcome::Write(vec![
        Put::new(
            "OrderTable",
            json!({
                "orderId": order_id,
                "customerId": order.customer,
                "amount": order.amount,
                "currency": order.currency,
                "eurCents": eur_cents,
                "priority": priority,
                "receivedAt": envelope.received_at,
            }),
        ),
        Put::new(
            "CustomerOrders",
            json!({
                "customerId": order.customer,
                "orderId": order_id,
                "eurCents": eur_cents,
            }),
        ),
    ])
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_consumer::aws::run(handle).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(customer: &str, amount: f64, currency: &str) -> Record<Order> {
        let mut record = Record::with_body(Order {
            customer: customer.into(),
            amount,
            currency: currency.into(),
            test: false,
        });
        record.stream.partition_key = "o-1".into();
        record
    }

    #[tokio::test]
    async fn an_order_is_enriched_and_routed_to_both_tables() {
        let Outcome::Write(puts) = handle(order("c-1", 20.0, "USD")).await else {
            panic!("expected a write");
        };
        let tables: Vec<&str> = puts.iter().map(Put::table).collect();
        assert_eq!(tables, ["OrderTable", "CustomerOrders"]);
        let item = puts[0].item().unwrap();
        assert_eq!(item["orderId"], "o-1");
        assert_eq!(item["eurCents"], 1840);
        assert_eq!(item["priority"], "normal");
        assert_eq!(puts[1].item().unwrap()["customerId"], "c-1");
        let Outcome::Write(puts) = handle(order("c-1", 1000.0, "EUR")).await else {
            panic!("expected a write");
        };
        assert_eq!(puts[0].item().unwrap()["priority"], "high");
    }

    #[tokio::test]
    async fn the_business_rule_dead_letters_and_test_traffic_is_skipped() {
        assert_eq!(
            handle(order("c-1", 5.0, "XYZ")).await,
            Outcome::DeadLetter("currency \"XYZ\" is not accepted".into())
        );
        assert_eq!(
            handle(order("c-1", 0.0, "EUR")).await,
            Outcome::DeadLetter("amount 0 is not positive".into())
        );
        let mut test = order("c-1", 5.0, "EUR");
        test.body.test = true;
        assert_eq!(handle(test).await, Outcome::Skip);
    }
}
