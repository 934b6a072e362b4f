//! The demo catalogue a fresh store starts with: a few dozen SKUs across categories,
//! local produce, fresh goods in batches with expiry, reusable-box items — enough to
//! run every flow from the first minute.

use linli_store::catalogue::{self, Batch, Sku};
use rusqlite::Connection;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// (sku, name, category, price in cents, local, fresh, reusable box, shelf life in hours)
type DemoSku = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    bool,
    bool,
    bool,
    i64,
);

const CATALOGUE: &[DemoSku] = &[
    (
        "MILK-1L",
        "鲜牛奶 1L",
        "dairy",
        1290,
        true,
        true,
        false,
        5 * 24,
    ),
    (
        "YOGURT-4",
        "原味酸奶 4杯",
        "dairy",
        1180,
        true,
        true,
        false,
        10 * 24,
    ),
    (
        "TOFU-500G",
        "嫩豆腐 500g",
        "fresh",
        350,
        true,
        true,
        false,
        3 * 24,
    ),
    (
        "EGGS-10",
        "土鸡蛋 10枚",
        "fresh",
        1500,
        true,
        true,
        false,
        20 * 24,
    ),
    (
        "SPINACH-300G",
        "菠菜 300g",
        "produce",
        450,
        true,
        true,
        false,
        2 * 24,
    ),
    (
        "TOMATO-500G",
        "番茄 500g",
        "produce",
        690,
        true,
        true,
        false,
        5 * 24,
    ),
    (
        "APPLE-1KG",
        "苹果 1kg",
        "produce",
        1280,
        true,
        true,
        false,
        20 * 24,
    ),
    (
        "STRAWBERRY-2KG",
        "草莓 2kg 循环箱",
        "produce",
        8800,
        true,
        true,
        true,
        3 * 24,
    ),
    (
        "BREAD-WW",
        "全麦面包",
        "bakery",
        800,
        true,
        true,
        false,
        2 * 24,
    ),
    (
        "BUN-PORK",
        "鲜肉包 4只",
        "bakery",
        1000,
        true,
        true,
        false,
        24,
    ),
    (
        "MANTOU-6",
        "馒头 6只",
        "bakery",
        600,
        true,
        true,
        false,
        2 * 24,
    ),
    (
        "PORK-500G",
        "猪里脊 500g",
        "meat",
        2590,
        true,
        true,
        false,
        3 * 24,
    ),
    (
        "CHICKEN-1KG",
        "三黄鸡 1kg",
        "meat",
        3980,
        true,
        true,
        false,
        3 * 24,
    ),
    (
        "FISH-CARP",
        "鲫鱼 一条",
        "meat",
        1850,
        true,
        true,
        false,
        2 * 24,
    ),
    (
        "VEG-BOX",
        "时令蔬菜箱 循环箱",
        "produce",
        3900,
        true,
        true,
        true,
        3 * 24,
    ),
    (
        "RICE-5KG",
        "东北大米 5kg",
        "staples",
        3990,
        false,
        false,
        false,
        0,
    ),
    (
        "NOODLE-1KG",
        "挂面 1kg",
        "staples",
        890,
        false,
        false,
        false,
        0,
    ),
    (
        "OIL-5L",
        "花生油 5L",
        "staples",
        8990,
        false,
        false,
        false,
        0,
    ),
    (
        "FLOUR-2KG",
        "面粉 2kg",
        "staples",
        1290,
        false,
        false,
        false,
        0,
    ),
    (
        "SOY-SAUCE",
        "生抽 500ml",
        "condiments",
        1280,
        false,
        false,
        false,
        0,
    ),
    (
        "VINEGAR",
        "香醋 500ml",
        "condiments",
        890,
        false,
        false,
        false,
        0,
    ),
    (
        "SALT-LOW",
        "低钠盐 400g",
        "condiments",
        350,
        false,
        false,
        false,
        0,
    ),
    (
        "SUGAR-FREE-OAT",
        "无糖燕麦片 1kg",
        "senior",
        2680,
        false,
        false,
        false,
        0,
    ),
    (
        "HONEY-500G",
        "本地槐花蜜 500g",
        "senior",
        4800,
        true,
        false,
        false,
        0,
    ),
    (
        "WATER-550",
        "矿泉水 550ml",
        "drinks",
        200,
        false,
        false,
        false,
        0,
    ),
    (
        "TEA-GREEN",
        "本地绿茶 250g",
        "drinks",
        6800,
        true,
        false,
        false,
        0,
    ),
    (
        "JUICE-1L",
        "橙汁 1L",
        "drinks",
        1390,
        false,
        true,
        false,
        30 * 24,
    ),
    (
        "TISSUE-10",
        "抽纸 10包",
        "household",
        2590,
        false,
        false,
        false,
        0,
    ),
    (
        "DETERGENT",
        "洗衣液 2kg",
        "household",
        3290,
        false,
        false,
        false,
        0,
    ),
    (
        "BATTERY-AA",
        "5号电池 4粒",
        "household",
        1200,
        false,
        false,
        false,
        0,
    ),
    ("SOAP-BAR", "香皂", "household", 450, false, false, false, 0),
    (
        "BOX-DEPOSIT",
        "循环箱 押金",
        "deposit",
        1000,
        false,
        false,
        true,
        0,
    ),
];

/// Fill an empty catalogue; returns how many SKUs were added (0 if it was not empty).
pub fn seed(conn: &mut Connection, now: i64) -> rusqlite::Result<usize> {
    if !catalogue::skus(conn)?.is_empty() {
        return Ok(0);
    }
    let tx = conn.transaction()?;
    for (index, &(sku, name, category, price, local, fresh, reusable, shelf_hours)) in
        CATALOGUE.iter().enumerate()
    {
        catalogue::insert_sku(
            &tx,
            &Sku {
                sku: sku.into(),
                name: name.into(),
                category: category.into(),
                unit_price: price,
                local_produce: local,
                fresh,
                reusable_box: reusable,
            },
        )?;
        if category == "deposit" {
            continue;
        }
        // Two batches per SKU: an older one (sold first; for fresh goods, near expiry)
        // and this morning's.
        let index = index as i64;
        for (age_days, qty) in [(2 + index % 3, 6 + (index % 5) as u32), (0, 20)] {
            let received_at = now - age_days * DAY - 6 * HOUR;
            let expires_at = fresh.then_some(received_at + shelf_hours * HOUR);
            if expires_at.is_some_and(|expires| expires <= now + HOUR) {
                continue; // a store does not stock what is already off the shelf
            }
            catalogue::receive(
                &tx,
                &Batch {
                    batch: format!("{sku}-{}", received_at / DAY),
                    sku: sku.into(),
                    supplier: Some(
                        if local {
                            "本地合作社"
                        } else {
                            "城市配送中心"
                        }
                        .into(),
                    ),
                    received_at,
                    expires_at,
                    qty_received: qty,
                    qty_on_hand: qty,
                },
            )?;
        }
    }
    tx.commit()?;
    Ok(CATALOGUE.len())
}
