//! The recycling points ledger: refunds and points awarded for returns, points spent on
//! discounts — per customer pseudonym, append-only, so a balance is always explained.

use crate::ServiceError;
use rusqlite::{Connection, params};
use serde::Serialize;

/// One entry of a customer's points ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LedgerEntry))]
pub struct Entry {
    pub at: i64,
    /// `return` or `redemption`.
    pub kind: String,
    /// Points added (positive) or spent (negative).
    pub points: i64,
    /// Deposit refunded, in cents.
    pub refund: i64,
    /// Discount granted, in cents.
    pub discount: i64,
    pub reason: String,
}

/// What a return brought back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Returned<'a> {
    /// `deposit-box` or `packaging`.
    pub kind: &'a str,
    pub count: u32,
}

/// Append an entry; a return says what came back.
pub fn append(
    conn: &Connection,
    customer: &str,
    entry: &Entry,
    returned: Option<Returned<'_>>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO points_ledger (customer, at, kind, points, refund, discount, reason, returned_kind, returned_count) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        customer,
        entry.at,
        entry.kind,
        entry.points,
        entry.refund,
        entry.discount,
        entry.reason,
        returned.map(|returned| returned.kind),
        returned.map_or(0, |returned| returned.count)
    ])?;
    Ok(())
}

/// Append an entry that moves points or money, or records boxes or packaging brought
/// back (a redemption of 0 points writes nothing; a return earning nothing is still
/// counted for the packaging return rate), in one transaction with the customer's
/// balance after it, which it answers. A balance is a u32 where the recycling policy
/// reads it: an entry that would take it past [`u32::MAX`] (or below 0) is refused.
pub fn record(
    conn: &mut Connection,
    customer: &str,
    entry: &Entry,
    returned: Option<Returned<'_>>,
) -> Result<i64, ServiceError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let before = balance(&tx, customer)?;
    let after = before
        .checked_add(entry.points)
        .filter(|after| (0..=i64::from(u32::MAX)).contains(after))
        .ok_or_else(|| {
            ServiceError::Invalid(format!(
                "customer {customer}: {} points on a balance of {before} would leave a balance outside 0 to {}",
                entry.points,
                u32::MAX
            ))
        })?;
    let brought_back = returned.is_some_and(|returned| returned.count > 0);
    if entry.points != 0 || entry.refund != 0 || entry.discount != 0 || brought_back {
        append(&tx, customer, entry, returned)?;
    }
    tx.commit()?;
    Ok(after)
}

pub fn balance(conn: &Connection, customer: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(sum(points), 0) FROM points_ledger WHERE customer = ?1")?
        .query_row([customer], |row| row.get(0))
}

/// A customer's entries, newest first.
pub fn entries(conn: &Connection, customer: &str, limit: u32) -> rusqlite::Result<Vec<Entry>> {
    let mut statement = conn.prepare_cached(
        "SELECT at, kind, points, refund, discount, reason FROM points_ledger \
         WHERE customer = ?1 ORDER BY entry DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![customer, limit], |row| {
        Ok(Entry {
            at: row.get(0)?,
            kind: row.get(1)?,
            points: row.get(2)?,
            refund: row.get(3)?,
            discount: row.get(4)?,
            reason: row.get(5)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(points: i64) -> Entry {
        Entry {
            at: 1,
            kind: if points < 0 { "redemption" } else { "return" }.into(),
            points,
            refund: 0,
            discount: 0,
            reason: "test".into(),
        }
    }

    #[test]
    fn a_balance_stays_within_what_the_policy_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::open(dir.path()).unwrap();
        let max = i64::from(u32::MAX);
        assert_eq!(
            record(&mut conn, "p-1", &entry(max - 5), None).unwrap(),
            max - 5
        );
        let err = record(&mut conn, "p-1", &entry(6), None).unwrap_err();
        assert!(
            matches!(&err, ServiceError::Invalid(text) if text.contains("p-1")),
            "{err}"
        );
        assert_eq!(record(&mut conn, "p-1", &entry(5), None).unwrap(), max);
        let err = record(&mut conn, "p-2", &entry(-1), None).unwrap_err();
        assert!(matches!(err, ServiceError::Invalid(_)), "{err}");
        assert_eq!(
            balance(&conn, "p-1").unwrap(),
            max,
            "refused entries wrote nothing"
        );
        assert_eq!(balance(&conn, "p-2").unwrap(), 0);
    }
}
