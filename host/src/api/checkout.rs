//! Checkout: quote a basket through the pricing pipeline (prices and the adjustment
//! trail), and commit a sale (recorded, stock taken FIFO by batch, overselling refused).

use super::{ApiError, ApiErrorBody, AppState, Body, InPath, Invalid, NotJson, now_ms, pseudonym};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use linli_runtime::QuoteRequest;
use linli_runtime::World;
use linli_runtime::bindings::types::{BasketLine, CustomerRef};
use linli_runtime::pipeline::{Refusal, Skipped, TrailEntry};
use linli_store::catalogue::{self, Stocked};
use linli_store::sales::{self, Buyer, SoldAdjustment, SoldLine};
use linli_store::text;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn reading() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(quote))
        .routes(routes!(receipt))
}

pub fn mutating() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(commit))
}

/// A basket as the till sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Basket {
    pub lines: Vec<Wanted>,
    /// The customer, when they showed a member or care card.
    #[serde(default)]
    pub customer: Option<CustomerRef>,
}

/// Units of one SKU the customer wants.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = BasketItem)]
#[serde(deny_unknown_fields)]
pub struct Wanted {
    pub sku: String,
    pub qty: u32,
}

/// One priced line: the units of one SKU from one batch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QuotedLine {
    pub sku: String,
    pub name: String,
    pub batch: String,
    pub expires_at: Option<i64>,
    pub qty: u32,
    pub shelf_price: i64,
    pub unit_price: i64,
    pub total: i64,
}

/// A priced basket (amounts in cents).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Quote {
    pub lines: Vec<QuotedLine>,
    /// Every change, by which install, to which line (an index into `lines`), and why.
    pub adjustments: Vec<TrailEntry>,
    /// Pricing installs that refused the basket (a commit is refused while any does).
    pub refusals: Vec<Refusal>,
    /// Pricing installs that failed or refused their own settings (a setting the owner
    /// got wrong never refuses a sale); their lines kept the price they had.
    pub skipped: Vec<Skipped>,
    pub shelf_total: i64,
    pub total: i64,
}

/// A recorded sale: its number and the quote it was sold at.
#[derive(Serialize, utoipa::ToSchema)]
struct Sale {
    sale: i64,
    #[serde(flatten)]
    quote: Quote,
}

/// A recorded sale's receipt.
#[utoipa::path(
    get,
    path = "/v1/checkout/sales/{sale}",
    tag = "checkout",
    params(("sale" = i64, Path, description = "The sale number")),
    responses(
        (status = 200, description = "The receipt", body = sales::Receipt),
        (status = 404, description = "No such sale (or not a number)", body = ApiErrorBody),
    )
)]
async fn receipt(
    State(state): State<AppState>,
    InPath(sale): InPath<i64>,
) -> Result<Json<sales::Receipt>, ApiError> {
    state
        .read_db(move |conn, _| {
            let receipt = sales::receipt(conn, sale)?;
            receipt
                .map(Json)
                .ok_or_else(|| ApiError::NotFound(format!("sale {sale}: no such sale")))
        })
        .await
}

/// Price a basket without selling it: batches allocated FIFO, the pricing pipeline's
/// prices and the reason for every change.
#[utoipa::path(
    post,
    path = "/v1/checkout/quote",
    tag = "checkout",
    request_body = Basket,
    responses(
        (status = 200, description = "The priced basket", body = Quote),
        NotJson,
        (status = 404, description = "A SKU is not in the catalogue", body = ApiErrorBody),
        (status = 409, description = "Not enough unexpired stock", body = ApiErrorBody),
        Invalid,
    )
)]
async fn quote(
    State(state): State<AppState>,
    Body(basket): Body<Basket>,
) -> Result<Json<Quote>, ApiError> {
    state
        .read_db_quick(&state.quotes, move |conn, state| {
            Ok(Json(price(conn, state, &basket, now_ms())?))
        })
        .await
}

/// Sell a basket: priced as a quote, recorded, stock taken FIFO by batch.
#[utoipa::path(
    post,
    path = "/v1/checkout/commit",
    tag = "checkout",
    request_body = Basket,
    responses(
        (status = 201, description = "The sale was recorded", body = Sale),
        NotJson,
        (status = 404, description = "A SKU is not in the catalogue", body = ApiErrorBody),
        (status = 409, description = "Not enough unexpired stock", body = ApiErrorBody),
        (status = 422, description = "A field is invalid, the basket is empty, or pricing refused the sale", body = ApiErrorBody),
    )
)]
async fn commit(
    State(state): State<AppState>,
    Body(basket): Body<Basket>,
) -> Result<(StatusCode, Json<Sale>), ApiError> {
    state
        .with_db(move |conn, state| {
            if basket.lines.is_empty() {
                return Err(ApiError::Unprocessable(
                    "lines: a sale needs at least one line".into(),
                ));
            }
            let now = now_ms();
            // Priced with the database held: no other request can take the stock
            // between the allocation and the write. Plugin kv writes go through their
            // own connection and no write transaction is open here yet.
            let quote = price(conn, state, &basket, now)?;
            if !quote.refusals.is_empty() {
                let reasons: Vec<String> = quote
                    .refusals
                    .iter()
                    .map(|refusal| format!("{}: {:?}", refusal.install, refusal.error))
                    .collect();
                return Err(ApiError::Unprocessable(format!(
                    "the sale is refused by pricing: {}",
                    reasons.join("; ")
                )));
            }
            let lines: Vec<SoldLine> = quote
                .lines
                .iter()
                .map(|line| SoldLine {
                    sku: line.sku.clone(),
                    batch: line.batch.clone(),
                    qty: line.qty,
                    shelf_price: line.shelf_price,
                    unit_price: line.unit_price,
                })
                .collect();
            let adjustments: Vec<SoldAdjustment> = quote
                .adjustments
                .iter()
                .map(|entry| SoldAdjustment {
                    line: entry.line,
                    install: entry.install.clone(),
                    amount: entry.amount,
                    reason: entry.reason.clone(),
                })
                .collect();
            let buyer = Buyer {
                pseudonym: basket
                    .customer
                    .as_ref()
                    .map(|customer| customer.pseudonym.as_str()),
                cohort: sales::cohort(basket.customer.as_ref()),
            };
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let sale = sales::record(&tx, now, buyer, &lines, &adjustments)?;
            tx.commit()?;
            Ok((StatusCode::CREATED, Json(Sale { sale, quote })))
        })
        .await
}

/// Allocate the basket to batches (FIFO) and run the pricing pipeline over it.
fn price(
    conn: &Connection,
    state: &AppState,
    basket: &Basket,
    now: i64,
) -> Result<Quote, ApiError> {
    let mut consumed = HashMap::new();
    let mut request = QuoteRequest {
        lines: Vec::new(),
        customer: basket.customer.clone(),
    };
    if let Some(customer) = &basket.customer {
        pseudonym(customer)?;
    }
    let stock = state.stock.stock(conn)?;
    // The SKU of each request line, for what the quote shows besides the price.
    let mut skus = Vec::new();
    for (index, wanted) in basket.lines.iter().enumerate() {
        text::id(&format!("lines[{index}].sku"), &wanted.sku)?;
        if wanted.qty == 0 {
            return Err(ApiError::Unprocessable(format!(
                "lines[{index}].qty: must be at least 1"
            )));
        }
        let Stocked { sku, batches } = stock.get(&wanted.sku).ok_or_else(|| {
            ApiError::NotFound(format!(
                "lines[{index}].sku: {} is not in the catalogue",
                wanted.sku
            ))
        })?;
        let allocations =
            catalogue::allocate(batches, wanted.qty, now, &mut consumed).map_err(|available| {
                ApiError::Conflict(format!(
                    "lines[{index}]: {} wanted of SKU {}, only {available} in stock (unexpired)",
                    wanted.qty, sku.sku
                ))
            })?;
        for allocation in allocations {
            request.lines.push(BasketLine {
                sku: sku.sku.clone(),
                qty: allocation.qty,
                unit_price: sku.unit_price,
                category: sku.category.clone(),
                local_produce: sku.local_produce,
                batch: Some(allocation.batch.to_string()),
                expires_at: allocation.expires_at,
            });
            skus.push(sku);
        }
    }
    // The pipeline hands the lines back with their final prices: the quote takes their
    // strings rather than copying them again.
    let priced = state.pipeline(World::Pricing).quote(request, now);
    let quoted = priced
        .lines
        .into_iter()
        .zip(skus)
        .map(|(line, sku)| {
            Ok(QuotedLine {
                name: sku.name.clone(),
                batch: line.batch.unwrap_or_default(),
                expires_at: line.expires_at,
                qty: line.qty,
                shelf_price: sku.unit_price,
                unit_price: line.unit_price,
                total: cents(line.unit_price, line.qty).ok_or_else(|| too_much("total"))?,
                sku: line.sku,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let (shelf_total, total) = sum_totals(&quoted)?;
    Ok(Quote {
        shelf_total,
        total,
        lines: quoted,
        adjustments: priced.trail,
        refusals: priced.refusals,
        skipped: priced.skipped,
    })
}

/// `qty` units at `unit_price`; none past `i64::MAX` cents.
fn cents(unit_price: i64, qty: u32) -> Option<i64> {
    unit_price.checked_mul(i64::from(qty))
}

/// A basket's money past `i64::MAX` cents: refused, never wrapped into a price nobody
/// asked for.
fn too_much(what: &str) -> ApiError {
    ApiError::Unprocessable(format!(
        "lines: the basket's {what} is more than {} cents",
        i64::MAX
    ))
}

/// The basket's shelf total and total, summed checked.
fn sum_totals(lines: &[QuotedLine]) -> Result<(i64, i64), ApiError> {
    let (mut shelf_total, mut total) = (0i64, 0i64);
    for line in lines {
        shelf_total = cents(line.shelf_price, line.qty)
            .and_then(|shelf| shelf_total.checked_add(shelf))
            .ok_or_else(|| too_much("shelf total"))?;
        total = total
            .checked_add(line.total)
            .ok_or_else(|| too_much("total"))?;
    }
    Ok((shelf_total, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(unit_price: i64, qty: u32) -> QuotedLine {
        QuotedLine {
            sku: "GOLD".into(),
            name: "gold".into(),
            batch: "G-1".into(),
            expires_at: None,
            qty,
            shelf_price: unit_price,
            unit_price,
            total: cents(unit_price, qty).unwrap(),
        }
    }

    #[test]
    fn a_basket_whose_money_does_not_fit_is_refused_not_wrapped() {
        assert_eq!(
            sum_totals(&[line(250, 4), line(99, 1)]).unwrap(),
            (1099, 1099)
        );
        assert_eq!(cents(i64::MAX / 2, 3), None);
        let half = line(i64::MAX / 2 + 1, 1);
        let err = sum_totals(&[half.clone(), half]).unwrap_err();
        assert!(
            matches!(&err, ApiError::Unprocessable(text) if text.contains("more than")),
            "{err}"
        );
        // The shelf total is checked as well as the total the plugins left.
        let mut cheap = line(i64::MAX, 1);
        cheap.unit_price = 1;
        cheap.total = 1;
        let err = sum_totals(&[cheap.clone(), cheap]).unwrap_err();
        assert!(err.to_string().contains("shelf total"), "{err}");
    }
}
