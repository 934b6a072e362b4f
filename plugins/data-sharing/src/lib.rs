//! Data sharing under data minimisation (数据最小化): the store's daily sales aggregates
//! become a report for the alliance and brands that carries only the dimensions the store
//! chose to share, leaves out every group with fewer than k customers, and rounds the rest.
//!
//! Settings (all optional):
//! - `k` (5): a group with fewer customers is left out and counted in `suppressed`; at
//!   least 2.
//! - `round-to` (5): customers and units are rounded to the nearest multiple, halves up,
//!   after the k check; at least 1 (1 keeps exact counts).
//! - `fields` (`category,period,cohort`): what is shared, from `category`, `period`,
//!   `cohort` and `revenue`. Revenue is shared rounded to whole yuan.
//! - `granularity` (`week`): a period is an ISO week ("2026-W48") or a day ("2026-11-23").
//!
//! Rows that differ only in what is not shared are merged and their counts summed. The
//! input counts distinct customers per category, day and cohort only, so a customer seen
//! on two days of a week counts twice in that week's row: the k check on merged rows is
//! only as strong as the input allows. The host drops rows below its own k whatever this
//! policy returns, so pick `round-to` such that k does not round below k (the defaults
//! do not), or small groups that pass here are dropped there.

use linli_sdk::config;
use linli_sdk::data_sharing::*;
use std::collections::BTreeMap;
use std::str::FromStr;

pub struct DataSharingPolicy;

linli_sdk::export_data_sharing!(DataSharingPolicy);

impl DataSharing for DataSharingPolicy {
    fn build_report(request: ReportRequest) -> Result<Report, PolicyError> {
        let settings = Settings::from_config()?;
        report(&request, &settings)
    }
}

/// The install's settings, parsed once per call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub k: u32,
    pub round_to: u32,
    pub fields: Fields,
    pub granularity: Granularity,
}

/// What the report shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields {
    pub category: bool,
    pub period: bool,
    pub cohort: bool,
    pub revenue: bool,
}

/// How long a report period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Week,
    Day,
}

impl FromStr for Granularity {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "week" => Ok(Granularity::Week),
            "day" => Ok(Granularity::Day),
            _ => Err("must be `week` or `day`"),
        }
    }
}

impl Settings {
    pub fn from_config() -> Result<Self, PolicyError> {
        let k: u32 = config::parse_or("k", 5)?;
        if k < 2 {
            return Err(PolicyError::BadConfig(format!(
                "setting `k` = {k}: must be at least 2, or single customers could be singled out"
            )));
        }
        let round_to: u32 = config::parse_or("round-to", 5)?;
        if round_to == 0 {
            return Err(PolicyError::BadConfig(
                "setting `round-to` = 0: must be at least 1".to_string(),
            ));
        }
        let mut fields = Fields::default();
        for name in config::list_or("fields", &["category", "period", "cohort"]) {
            match name.as_str() {
                "category" => fields.category = true,
                "period" => fields.period = true,
                "cohort" => fields.cohort = true,
                "revenue" => fields.revenue = true,
                other => {
                    return Err(PolicyError::BadConfig(format!(
                        "setting `fields`: unknown field {other:?}; the fields are category, period, cohort and revenue"
                    )));
                }
            }
        }
        Ok(Settings {
            k,
            round_to,
            fields,
            granularity: config::parse_or("granularity", Granularity::Week)?,
        })
    }
}

/// One group of the report: the shared dimensions (none where not shared), in the order
/// the report is sorted by.
type Key = (Option<String>, Option<String>, Option<String>);

/// A group's sums, wider than the report's types so that summing cannot wrap.
#[derive(Debug, Default)]
struct Totals {
    customers: u64,
    units: u64,
    revenue: i128,
}

/// Build the report: the whole policy, free of host calls.
pub fn report(request: &ReportRequest, settings: &Settings) -> Result<Report, PolicyError> {
    let first =
        parse_day(&request.first_day).map_err(|why| invalid(format!("first_day: {why}")))?;
    let last = parse_day(&request.last_day).map_err(|why| invalid(format!("last_day: {why}")))?;
    if first > last {
        return Err(invalid(format!(
            "first_day {} is after last_day {}",
            request.first_day, request.last_day
        )));
    }
    let fields = settings.fields;
    let mut groups: BTreeMap<Key, Totals> = BTreeMap::new();
    for (index, row) in request.rows.iter().enumerate() {
        let day =
            parse_day(&row.day).map_err(|why| invalid(format!("rows[{index}].day: {why}")))?;
        if !(first..=last).contains(&day) {
            return Err(invalid(format!(
                "rows[{index}].day: {} is outside the report, {} to {}",
                row.day, request.first_day, request.last_day
            )));
        }
        let key = (
            fields.category.then(|| row.category.clone()),
            fields.period.then(|| match settings.granularity {
                Granularity::Week => iso_week(day),
                Granularity::Day => row.day.clone(),
            }),
            fields.cohort.then(|| row.cohort.clone()),
        );
        let totals = groups.entry(key).or_default();
        totals.customers += u64::from(row.customers);
        totals.units += u64::from(row.units);
        totals.revenue += i128::from(row.revenue);
    }
    let step = u64::from(settings.round_to);
    let mut rows = Vec::new();
    let mut suppressed = 0;
    for ((category, period, cohort), totals) in groups {
        if totals.customers < u64::from(settings.k) {
            suppressed += 1;
            continue;
        }
        let customers = u32::try_from(round_half_up(totals.customers, step));
        let units = u32::try_from(round_half_up(totals.units, step));
        let revenue = Cents::try_from((totals.revenue + 50).div_euclid(100) * 100);
        let (Ok(customers), Ok(units), Ok(revenue)) = (customers, units, revenue) else {
            return Err(invalid(format!(
                "rows: the totals of {} / {} / {} are too large to report",
                category.as_deref().unwrap_or("*"),
                period.as_deref().unwrap_or("*"),
                cohort.as_deref().unwrap_or("*"),
            )));
        };
        rows.push(ReportRow {
            category,
            period,
            cohort,
            customers,
            units,
            revenue: fields.revenue.then_some(revenue),
        });
    }
    Ok(Report { rows, suppressed })
}

fn invalid(text: String) -> PolicyError {
    PolicyError::InvalidInput(text)
}

/// `value` rounded to the nearest multiple of `step`, halves up.
fn round_half_up(value: u64, step: u64) -> u64 {
    (value + step / 2) / step * step
}

/// A "YYYY-MM-DD" date as days since 1970-01-01, or why it is not one.
fn parse_day(text: &str) -> Result<i64, String> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return Err(format!("{text:?} is not a date \"YYYY-MM-DD\""));
    }
    let number = |from: usize, to: usize| {
        bytes[from..to]
            .iter()
            .fold(0, |value, digit| value * 10 + i64::from(digit - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return Err(format!("{text:?} is not a real date"));
    }
    Ok(days_from_civil(year, month, day))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm:
/// years start in March so the leap day is the last day of the year).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a number of days since 1970-01-01; the inverse of
/// [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = (month_from_march + 2) % 12 + 1;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The ISO week "YYYY-Www" of a day (days since 1970-01-01). Weeks start on Monday and
/// belong to the year their Thursday falls in, so the first days of January can be in
/// the previous year's last week and the last days of December in next year's week 1.
fn iso_week(days: i64) -> String {
    // 1970-01-01 was a Thursday; Monday = 0.
    let weekday = (days + 3).rem_euclid(7);
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
    format!("{year:04}-W{week:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_sdk::testing::{TestHost, load_example};

    fn row(
        category: &str,
        day: &str,
        cohort: &str,
        customers: u32,
        units: u32,
        revenue: Cents,
    ) -> Aggregate {
        Aggregate {
            category: category.to_string(),
            day: day.to_string(),
            cohort: cohort.to_string(),
            customers,
            units,
            revenue,
        }
    }

    fn request(rows: Vec<Aggregate>) -> ReportRequest {
        ReportRequest {
            first_day: "2026-11-16".to_string(),
            last_day: "2026-11-29".to_string(),
            rows,
        }
    }

    fn run(host: &TestHost, request: ReportRequest) -> Result<Report, PolicyError> {
        host.run(|| DataSharingPolicy::build_report(request))
    }

    fn week(day: &str) -> String {
        iso_week(parse_day(day).unwrap())
    }

    fn invalid_input(err: PolicyError) -> String {
        match err {
            PolicyError::InvalidInput(text) => text,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn iso_week_belongs_to_the_year_of_its_thursday() {
        assert_eq!(week("2026-11-23"), "2026-W48");
        assert_eq!(week("2026-11-29"), "2026-W48");
        assert_eq!(week("2026-11-30"), "2026-W49");
        assert_eq!(week("2026-12-31"), "2026-W53");
        assert_eq!(week("2027-01-01"), "2026-W53");
        assert_eq!(week("2027-01-03"), "2026-W53");
        assert_eq!(week("2027-01-04"), "2027-W01");
        assert_eq!(week("2025-12-28"), "2025-W52");
        assert_eq!(week("2025-12-29"), "2026-W01");
        assert_eq!(week("2026-01-01"), "2026-W01");
        assert_eq!(week("2024-12-30"), "2025-W01");
        assert_eq!(week("2021-01-03"), "2020-W53");
        assert_eq!(week("1970-01-01"), "1970-W01");
    }

    #[test]
    fn civil_dates_and_day_numbers_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        for days in -800_000..800_000 {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=days_in_month(year, month)).contains(&day));
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn only_real_dates_parse() {
        assert_eq!(parse_day("2024-02-29"), Ok(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_day("2000-02-29"), Ok(days_from_civil(2000, 2, 29)));
        for text in [
            "2026-02-30",
            "2025-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-11-00",
            "2026-2-3",
            "2026/02/03",
            "26-02-03",
            "+026-02-03",
            "2026-02-03 ",
            "",
        ] {
            assert!(parse_day(text).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn groups_below_k_are_dropped_and_counted() {
        let report = run(
            &TestHost::new().with_config("round-to", "1"),
            request(vec![
                row("fresh", "2026-11-17", "member", 5, 12, 8000),
                row("dairy", "2026-11-17", "member", 4, 9, 4000),
                row("household", "2026-11-17", "elderly", 1, 1, 2990),
            ]),
        )
        .unwrap();
        assert_eq!(report.suppressed, 2);
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.rows[0].category.as_deref(), Some("fresh"));
        assert_eq!(report.rows[0].customers, 5);
    }

    #[test]
    fn k_is_a_setting() {
        let rows = vec![row("fresh", "2026-11-17", "member", 8, 12, 8000)];
        let report = run(
            &TestHost::new().with_config("k", "10"),
            request(rows.clone()),
        )
        .unwrap();
        assert_eq!((report.rows.len(), report.suppressed), (0, 1));
        let report = run(&TestHost::new().with_config("k", "8"), request(rows)).unwrap();
        assert_eq!((report.rows.len(), report.suppressed), (1, 0));
    }

    #[test]
    fn rows_of_one_group_are_summed_before_the_k_check() {
        let report = run(
            &TestHost::new(),
            request(vec![
                row("fresh", "2026-11-17", "elderly", 3, 7, 4100),
                row("fresh", "2026-11-20", "elderly", 3, 6, 3900),
            ]),
        )
        .unwrap();
        assert_eq!(report.suppressed, 0);
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.rows[0].period.as_deref(), Some("2026-W47"));
        assert_eq!((report.rows[0].customers, report.rows[0].units), (5, 15));
    }

    #[test]
    fn counts_are_rounded_after_the_k_check() {
        // 4 customers would round up to 5, but the group is below k before rounding.
        let report = run(
            &TestHost::new(),
            request(vec![
                row("dairy", "2026-11-17", "member", 4, 9, 4000),
                row("fresh", "2026-11-17", "member", 7, 12, 8000),
                row("bakery", "2026-11-17", "member", 8, 2, 1600),
            ]),
        )
        .unwrap();
        assert_eq!(report.suppressed, 1);
        let counts: Vec<_> = report
            .rows
            .iter()
            .map(|row| (row.customers, row.units))
            .collect();
        // bakery 8 → 10 and 2 → 0; fresh 7 → 5 and 12 → 10.
        assert_eq!(counts, vec![(10, 0), (5, 10)]);
    }

    #[test]
    fn exact_halves_round_up() {
        let host = TestHost::new()
            .with_config("round-to", "10")
            .with_config("fields", "category,revenue");
        let report = run(
            &host,
            request(vec![row("fresh", "2026-11-17", "member", 15, 25, 12_450)]),
        )
        .unwrap();
        assert_eq!((report.rows[0].customers, report.rows[0].units), (20, 30));
        assert_eq!(report.rows[0].revenue, Some(12_500));
    }

    #[test]
    fn revenue_is_shared_only_when_asked_and_in_whole_yuan() {
        let rows = vec![row("fresh", "2026-11-17", "member", 6, 12, 12_449)];
        let report = run(&TestHost::new(), request(rows.clone())).unwrap();
        assert_eq!(report.rows[0].revenue, None);
        let host = TestHost::new().with_config("fields", "category,period,cohort,revenue");
        let report = run(&host, request(rows)).unwrap();
        assert_eq!(report.rows[0].revenue, Some(12_400));
    }

    #[test]
    fn dimensions_not_shared_are_none_and_merged() {
        let host = TestHost::new().with_config("fields", "cohort");
        let report = run(
            &host,
            request(vec![
                row("fresh", "2026-11-17", "member", 3, 5, 3000),
                row("dairy", "2026-11-24", "member", 3, 5, 3000),
                row("dairy", "2026-11-24", "walk-in", 9, 9, 3000),
            ]),
        )
        .unwrap();
        let shared: Vec<_> = report
            .rows
            .iter()
            .map(|row| {
                (
                    row.category.clone(),
                    row.period.clone(),
                    row.cohort.clone(),
                    row.customers,
                )
            })
            .collect();
        assert_eq!(
            shared,
            vec![
                (None, None, Some("member".to_string()), 5),
                (None, None, Some("walk-in".to_string()), 10),
            ]
        );
    }

    #[test]
    fn daily_granularity_uses_the_day_as_period() {
        let host = TestHost::new().with_config("granularity", "day");
        let report = run(
            &host,
            request(vec![
                row("fresh", "2026-11-18", "member", 6, 10, 5000),
                row("fresh", "2026-11-17", "member", 6, 10, 5000),
            ]),
        )
        .unwrap();
        let periods: Vec<_> = report
            .rows
            .iter()
            .map(|row| row.period.clone().unwrap())
            .collect();
        assert_eq!(periods, vec!["2026-11-17", "2026-11-18"]);
    }

    #[test]
    fn rows_are_sorted_by_category_then_period_then_cohort() {
        let report = run(
            &TestHost::new(),
            request(vec![
                row("fresh", "2026-11-24", "member", 6, 10, 5000),
                row("fresh", "2026-11-17", "walk-in", 6, 10, 5000),
                row("dairy", "2026-11-24", "elderly", 6, 10, 5000),
                row("fresh", "2026-11-17", "elderly", 6, 10, 5000),
            ]),
        )
        .unwrap();
        let keys: Vec<_> = report
            .rows
            .iter()
            .map(|row| {
                format!(
                    "{}/{}/{}",
                    row.category.as_deref().unwrap(),
                    row.period.as_deref().unwrap(),
                    row.cohort.as_deref().unwrap()
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                "dairy/2026-W48/elderly",
                "fresh/2026-W47/elderly",
                "fresh/2026-W47/walk-in",
                "fresh/2026-W48/member",
            ]
        );
    }

    #[test]
    fn totals_too_large_for_the_report_are_refused() {
        let huge = row("fresh", "2026-11-17", "member", 3_000_000_000, 1, 100);
        let err = run(&TestHost::new(), request(vec![huge.clone(), huge])).unwrap_err();
        let text = invalid_input(err);
        assert!(text.contains("fresh / 2026-W47 / member"), "{text}");
    }

    #[test]
    fn no_rows_give_an_empty_report() {
        let report = run(&TestHost::new(), request(vec![])).unwrap();
        assert!(report.rows.is_empty());
        assert_eq!(report.suppressed, 0);
    }

    #[test]
    fn row_with_an_impossible_day_is_refused_naming_the_row() {
        let err = run(
            &TestHost::new(),
            request(vec![
                row("fresh", "2026-11-17", "member", 6, 10, 5000),
                row("fresh", "2026-11-31", "member", 6, 10, 5000),
            ]),
        )
        .unwrap_err();
        let text = invalid_input(err);
        assert!(
            text.starts_with("rows[1].day:") && text.contains("2026-11-31"),
            "{text}"
        );
    }

    #[test]
    fn row_outside_the_report_days_is_refused() {
        let err = run(
            &TestHost::new(),
            request(vec![row("fresh", "2026-11-30", "member", 6, 10, 5000)]),
        )
        .unwrap_err();
        let text = invalid_input(err);
        assert!(
            text.starts_with("rows[0].day:") && text.contains("outside"),
            "{text}"
        );
    }

    #[test]
    fn report_days_must_be_real_and_in_order() {
        let mut bad = request(vec![]);
        bad.first_day = "16/11/2026".to_string();
        assert!(invalid_input(run(&TestHost::new(), bad).unwrap_err()).starts_with("first_day:"));
        let mut bad = request(vec![]);
        bad.last_day = "2026-11-31".to_string();
        assert!(invalid_input(run(&TestHost::new(), bad).unwrap_err()).starts_with("last_day:"));
        let mut bad = request(vec![]);
        bad.first_day = "2026-11-30".to_string();
        let text = invalid_input(run(&TestHost::new(), bad).unwrap_err());
        assert!(text.contains("after last_day"), "{text}");
    }

    #[test]
    fn bad_setting_names_the_key() {
        for (key, value, named) in [
            ("k", "1", "`k`"),
            ("k", "many", "`k`"),
            ("round-to", "0", "`round-to`"),
            ("granularity", "month", "`granularity`"),
            ("fields", "category,customer_id", "customer_id"),
        ] {
            let host = TestHost::new().with_config(key, value);
            let err = run(&host, request(vec![])).unwrap_err();
            assert!(
                matches!(&err, PolicyError::BadConfig(text) if text.contains(named)),
                "{key} = {value}: {err:?}"
            );
        }
    }

    fn example(name: &str) -> Result<Report, PolicyError> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let example = load_example::<ReportRequest>(format!("{dir}/{name}"));
        example
            .host
            .run(|| DataSharingPolicy::build_report(example.request))
    }

    fn shared(row: &ReportRow) -> (String, u32, u32, Option<Cents>) {
        let key = [&row.category, &row.period, &row.cohort]
            .map(|part| part.as_deref().unwrap_or("*"))
            .join("/");
        (key, row.customers, row.units, row.revenue)
    }

    #[test]
    fn shipped_examples_give_the_documented_reports() {
        let report = example("weekly-report.json").unwrap();
        assert_eq!(report.suppressed, 4);
        let rows: Vec<_> = report.rows.iter().map(shared).collect();
        let expected = [
            ("dairy/2026-W47/member", 10, 20, Some(12_500)),
            ("dairy/2026-W47/walk-in", 5, 10, Some(5_100)),
            ("dairy/2026-W48/member", 10, 20, Some(14_100)),
            ("fresh/2026-W47/elderly", 10, 25, Some(13_900)),
            ("fresh/2026-W47/member", 25, 70, Some(44_300)),
            ("fresh/2026-W47/walk-in", 10, 15, Some(11_300)),
            ("fresh/2026-W48/elderly", 5, 15, Some(9_900)),
            ("fresh/2026-W48/member", 15, 35, Some(22_100)),
            ("fresh/2026-W48/walk-in", 10, 20, Some(13_600)),
            ("household/2026-W47/walk-in", 5, 5, Some(8_900)),
            ("household/2026-W48/member", 5, 10, Some(11_400)),
        ]
        .map(|(key, customers, units, revenue)| (key.to_string(), customers, units, revenue));
        assert_eq!(rows, expected);

        let report = example("daily-minimal.json").unwrap();
        assert_eq!(report.suppressed, 1);
        let rows: Vec<_> = report.rows.iter().map(shared).collect();
        assert_eq!(
            rows,
            vec![
                ("dairy/*/*".to_string(), 5, 5, None),
                ("fresh/*/*".to_string(), 30, 60, None)
            ]
        );

        let text = invalid_input(example("bad-date.json").unwrap_err());
        assert!(
            text.starts_with("rows[2].day:") && text.contains("2026-02-30"),
            "{text}"
        );
    }
}
