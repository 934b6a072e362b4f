//! A component of somebody else's world: well-formed, but not a linli policy.

wit_bindgen::generate!({
    inline: "
        package evil:payroll@1.0.0;

        world payroll {
            export run: func(employees: list<string>) -> u64;
        }
    ",
});

struct Payroll;

export!(Payroll);

impl Guest for Payroll {
    fn run(employees: Vec<String>) -> u64 {
        employees.len() as u64 * 100_000
    }
}
