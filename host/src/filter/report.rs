//! Rendering a decision for people (a table) and programs (JSON): every symbol, its
//! weight and its contribution to the score.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::combine::{Decision, DecisionReason};
use crate::config::Thresholds;

/// The decision as a readable table.
pub fn render_text(decision: &Decision, thresholds: &Thresholds) -> String {
    let mut out = String::new();
    let reason = match &decision.reason {
        DecisionReason::Score => format!(
            "by score (tag {} / quarantine {} / reject {})",
            thresholds.tag, thresholds.quarantine, thresholds.reject
        ),
        DecisionReason::HardAction { plugin } => format!("by hard action of plugin {plugin}"),
        DecisionReason::PluginFailure { plugin } => {
            format!("because plugin {plugin} failed and its on_error is tempfail")
        }
    };
    let _ = writeln!(
        out,
        "action: {}  score: {:.2}  {reason}",
        decision.action.as_str(),
        decision.score
    );
    if decision.report.is_empty() {
        let _ = writeln!(out, "  (no symbols)");
    } else {
        let plugin_w = decision
            .report
            .iter()
            .map(|l| l.plugin.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let name_w = decision
            .report
            .iter()
            .map(|l| l.name.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let _ = writeln!(
            out,
            "  {:<plugin_w$}  {:<9}  {:<name_w$}  {:>8}  {:>7}  {:>12}  detail",
            "plugin", "stage", "symbol", "score", "weight", "contribution"
        );
        for line in &decision.report {
            let _ = writeln!(
                out,
                "  {:<plugin_w$}  {:<9}  {:<name_w$}  {:>8.2}  {:>7.2}  {:>12.2}  {}",
                line.plugin,
                line.stage.as_str(),
                line.name,
                line.score,
                line.weight,
                line.contribution,
                line.detail
            );
        }
    }
    for hard in &decision.hard_actions {
        let state = if hard.honoured {
            "honoured"
        } else {
            "ignored: allow_hard_action is off"
        };
        let _ = writeln!(
            out,
            "  hard action {} from {} ({state})",
            hard.action.as_str(),
            hard.plugin
        );
    }
    out
}

/// The decision as a JSON object: `action`, `score`, `reason`, `symbols` (each with
/// `plugin`, `stage`, `name`, `score`, `weight`, `contribution`, `detail`) and `hard_actions`.
pub fn to_json(decision: &Decision) -> Value {
    json!({
        "action": decision.action.as_str(),
        "score": decision.score,
        "reason": decision.reason,
        "symbols": decision.report,
        "hard_actions": decision.hard_actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Stage;
    use crate::filter::combine::{PluginOutcome, PluginResult, WeightTable, combine};
    use crate::filter::verdict::{Action, Symbol, Verdict};

    fn decision() -> Decision {
        let result = PluginResult {
            plugin: "headers".into(),
            stage: Stage::Data,
            outcome: PluginOutcome::Answered {
                verdict: Verdict {
                    symbols: vec![Symbol {
                        name: "MISSING_DATE".into(),
                        score: 1.5,
                        detail: "no Date header".into(),
                    }],
                    action: Some(Action::Reject),
                    annotations: Vec::new(),
                },
                hard_action_allowed: false,
            },
        };
        combine(&[result], &WeightTable::default(), &Thresholds::default())
    }

    #[test]
    fn the_table_names_every_symbol_with_weight_and_contribution() {
        let text = render_text(&decision(), &Thresholds::default());
        assert!(text.starts_with("action: accept  score: 1.50"), "{text}");
        let row = text.lines().find(|l| l.contains("MISSING_DATE")).unwrap();
        for cell in ["headers", "data", "1.50", "1.00", "no Date header"] {
            assert!(row.contains(cell), "{row}");
        }
        assert!(
            text.contains("hard action reject from headers (ignored"),
            "{text}"
        );
    }

    #[test]
    fn json_carries_each_symbols_plugin_weight_and_contribution() {
        let value = to_json(&decision());
        assert_eq!(value["action"], "accept");
        let symbol = &value["symbols"][0];
        assert_eq!(symbol["plugin"], "headers");
        assert_eq!(symbol["name"], "MISSING_DATE");
        assert_eq!(symbol["weight"], 1.0);
        assert_eq!(symbol["contribution"], 1.5);
        assert_eq!(symbol["stage"], "data");
    }
}
