//! The scaled-down scenario: the limits hold exactly, and a run is reproducible.

use super::{Scenario, run};

#[test]
fn every_limit_holds_at_the_scaled_down_edge() {
    let report = run(&Scenario::scaled()).unwrap();
    println!("{report}");
    assert_eq!(report.limit_violations(), Vec::<String>::new());
}
