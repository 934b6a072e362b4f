//! Recorded sales: the sale, its lines by batch, and the receipt's adjustment trail —
//! and, for batch trace, every sale and movement of a batch.

use linli_runtime::bindings::types::{CustomerRef, MemberTier};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// One line of a sale as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SoldLine {
    pub sku: String,
    pub batch: String,
    pub qty: u32,
    pub shelf_price: i64,
    pub unit_price: i64,
}

/// One change to a sold line: which install, how much, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SoldAdjustment {
    pub line: u32,
    pub install: String,
    pub amount: i64,
    pub reason: String,
}

/// Who bought, as far as the store may know: a pseudonym when they showed a card, and
/// the cohort the data-sharing aggregates count them in.
#[derive(Debug, Clone, Copy)]
pub struct Buyer<'a> {
    pub pseudonym: Option<&'a str>,
    /// `elderly` (care card), `member` or `walk-in`.
    pub cohort: &'a str,
}

/// The cohort a sale counts in for data sharing: a care card first, then a member card.
pub fn cohort(customer: Option<&CustomerRef>) -> &'static str {
    match customer {
        Some(customer) if customer.elderly_or_disabled => "elderly",
        Some(customer) if customer.tier != MemberTier::None => "member",
        _ => "walk-in",
    }
}

/// Record a sale and take its units from stock, inside the caller's transaction. A sale
/// whose total does not fit in i64 cents is refused (the till checks its quote first;
/// this keeps the ledger from ever holding a wrapped total).
pub fn record(
    conn: &Connection,
    at: i64,
    buyer: Buyer<'_>,
    lines: &[SoldLine],
    adjustments: &[SoldAdjustment],
) -> rusqlite::Result<i64> {
    let total = lines.iter().try_fold(0i64, |total, line| {
        line.unit_price
            .checked_mul(i64::from(line.qty))
            .and_then(|line_total| total.checked_add(line_total))
    });
    let total = total.ok_or_else(|| {
        rusqlite::Error::ToSqlConversionFailure(
            format!("a sale's total past {} cents", i64::MAX).into(),
        )
    })?;
    conn.prepare_cached("INSERT INTO sale (at, customer, cohort, total) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![at, buyer.pseudonym, buyer.cohort, total])?;
    let sale = conn.last_insert_rowid();
    let reference = format!("sale {sale}");
    for (index, line) in lines.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO sale_line (sale, line, sku, batch, qty, shelf_price, unit_price) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            sale,
            index as i64,
            line.sku,
            line.batch,
            line.qty,
            line.shelf_price,
            line.unit_price
        ])?;
        super::catalogue::take(conn, &line.batch, line.qty)?;
        super::catalogue::record_movement(
            conn,
            at,
            &line.batch,
            -i64::from(line.qty),
            "sold",
            Some(&reference),
        )?;
    }
    for adjustment in adjustments {
        conn.prepare_cached(
            "INSERT INTO sale_adjustment (sale, line, install, amount, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            sale,
            adjustment.line,
            adjustment.install,
            adjustment.amount,
            adjustment.reason
        ])?;
    }
    Ok(sale)
}

/// A recorded sale, as its receipt shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    pub sale: i64,
    pub at: i64,
    pub customer: Option<String>,
    pub total: i64,
    pub lines: Vec<SoldLine>,
    pub adjustments: Vec<SoldAdjustment>,
}

pub fn receipt(conn: &Connection, sale: i64) -> rusqlite::Result<Option<Receipt>> {
    let head = conn
        .prepare_cached("SELECT at, customer, total FROM sale WHERE sale = ?1")?
        .query_row([sale], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let Some((at, customer, total)) = head else {
        return Ok(None);
    };
    let mut lines = conn.prepare_cached(
        "SELECT sku, batch, qty, shelf_price, unit_price FROM sale_line WHERE sale = ?1 ORDER BY line",
    )?;
    let lines = lines
        .query_map([sale], |row| {
            Ok(SoldLine {
                sku: row.get(0)?,
                batch: row.get(1)?,
                qty: row.get(2)?,
                shelf_price: row.get(3)?,
                unit_price: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut adjustments = conn.prepare_cached(
        "SELECT line, install, amount, reason FROM sale_adjustment WHERE sale = ?1 ORDER BY rowid",
    )?;
    let adjustments = adjustments
        .query_map([sale], |row| {
            Ok(SoldAdjustment {
                line: row.get(0)?,
                install: row.get(1)?,
                amount: row.get(2)?,
                reason: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(Receipt {
        sale,
        at,
        customer,
        total,
        lines,
        adjustments,
    }))
}

/// A sale of a traced batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TracedSale {
    pub sale: i64,
    pub at: i64,
    pub customer: Option<String>,
    pub qty: u32,
    pub unit_price: i64,
}

/// A stock movement of a traced batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Movement {
    pub at: i64,
    pub delta: i64,
    pub reason: String,
    pub reference: Option<String>,
}

const SALES_OF_BATCH: &str = "SELECT sale.sale, sale.at, sale.customer, sale_line.qty, sale_line.unit_price \
     FROM sale_line JOIN sale ON sale.sale = sale_line.sale \
     WHERE sale_line.batch = ?1 ORDER BY sale.at, sale.sale";

const MOVEMENTS_OF_BATCH: &str = "SELECT at, delta, reason, reference FROM stock_movement \
     WHERE batch = ?1 ORDER BY at, movement";

/// Every sale of a batch, oldest first (from the `sale_line(batch)` index).
pub fn sales_of_batch(conn: &Connection, batch: &str) -> rusqlite::Result<Vec<TracedSale>> {
    let mut statement = conn.prepare_cached(SALES_OF_BATCH)?;
    let rows = statement.query_map([batch], |row| {
        Ok(TracedSale {
            sale: row.get(0)?,
            at: row.get(1)?,
            customer: row.get(2)?,
            qty: row.get(3)?,
            unit_price: row.get(4)?,
        })
    })?;
    rows.collect()
}

/// Every stock movement of a batch, oldest first.
pub fn movements_of_batch(conn: &Connection, batch: &str) -> rusqlite::Result<Vec<Movement>> {
    let mut statement = conn.prepare_cached(MOVEMENTS_OF_BATCH)?;
    let rows = statement.query_map([batch], |row| {
        Ok(Movement {
            at: row.get(0)?,
            delta: row.get(1)?,
            reason: row.get(2)?,
            reference: row.get(3)?,
        })
    })?;
    rows.collect()
}

/// Record a sale of `lines` (SKU, units) at its catalogue price, bought by `customer`
/// (none: no card) in `cohort`, without touching stock: for tests of what is derived
/// from sales. Its number.
#[cfg(test)]
pub(crate) fn sell_for_test(
    conn: &Connection,
    at: i64,
    customer: Option<&str>,
    cohort: &str,
    lines: &[(&str, u32)],
) -> i64 {
    conn.execute(
        "INSERT INTO sale (at, customer, cohort, total) VALUES (?1, ?2, ?3, 0)",
        params![at, customer, cohort],
    )
    .unwrap();
    let sale = conn.last_insert_rowid();
    for (line, (sku, qty)) in lines.iter().enumerate() {
        conn.execute(
            "INSERT INTO sale_line (sale, line, sku, batch, qty, shelf_price, unit_price) \
             VALUES (?1, ?2, ?3, 'b', ?4, 0, (SELECT unit_price FROM sku WHERE sku = ?3))",
            params![sale, line as i64, sku, qty],
        )
        .unwrap();
    }
    sale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sale_whose_total_does_not_fit_is_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(dir.path()).unwrap();
        let line = SoldLine {
            sku: "GOLD".into(),
            batch: "G-1".into(),
            qty: 2,
            shelf_price: i64::MAX / 2,
            unit_price: i64::MAX / 2 + 1,
        };
        let buyer = Buyer {
            pseudonym: None,
            cohort: "walk-in",
        };
        let err = record(&conn, 1, buyer, &[line], &[]).unwrap_err();
        assert!(err.to_string().contains("total past"), "{err}");
        let sales: i64 = conn
            .query_row("SELECT count(*) FROM sale", [], |row| row.get(0))
            .unwrap();
        assert_eq!(sales, 0);
    }

    /// A trace must stay fast on a year of data: SQLite answers both of its queries from
    /// the batch indexes, never by scanning sales or movements.
    #[test]
    fn trace_queries_use_the_batch_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(dir.path()).unwrap();
        for (query, index) in [
            (SALES_OF_BATCH, "sale_line_batch"),
            (MOVEMENTS_OF_BATCH, "stock_movement_batch"),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map(["B-1"], |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains(&format!("USING INDEX {index}")), "{plan}");
            assert!(!plan.contains("SCAN"), "{plan}");
        }
    }
}
