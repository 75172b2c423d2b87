//! The report: the [`Row`] type, the Markdown table on stdout and
//! `target/bench-scale.json`.

use accord_e2e::repo_root;
use serde_json::json;

use crate::say;

/// One line of the table, and one entry of the JSON's `rows`.
pub(super) struct Row {
    pub(super) what: &'static str,
    pub(super) measured: String,
    pub(super) baseline: String,
    pub(super) target: &'static str,
    pub(super) value: f64,
}

/// Prints the Markdown table of `rows` to stdout.
pub(super) fn print_table(n: usize, rows: &[Row]) {
    println!(
        "\nAccord at N = {n} (release operator as the chart's ServiceAccount, local control plane)\n"
    );
    println!("| what | measured | in-run baseline | target |\n| --- | --- | --- | --- |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} |",
            row.what, row.measured, row.baseline, row.target
        );
    }
}

/// Writes N and `rows` to `target/bench-scale.json`.
pub(super) fn write_json(n: usize, rows: &[Row]) {
    let json = json!({
        "n": n,
        "rows": rows.iter().map(|r| json!({"what": r.what, "measured": r.measured, "baseline": r.baseline, "target": r.target, "value": r.value})).collect::<Vec<_>>(),
    });
    let out = repo_root().join("target/bench-scale.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).expect("write the JSON");
    say(&format!("wrote {}", out.display()));
}
