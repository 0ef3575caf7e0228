//! What every check reads and reports: the buys of a history as the checks see them
//! ([`Facts`], [`Buy`]) and one thing that should not have happened ([`Anomaly`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::final_state::FinalState;
use crate::history::{EventType, Function, Op};

/// One thing that should not have happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Anomaly {
    /// Indexes of the history events involved.
    pub(crate) ops: Vec<u64>,
    pub(crate) explanation: String,
}

impl Anomaly {
    pub(crate) fn new(ops: Vec<u64>, explanation: impl Into<String>) -> Self {
        Anomaly {
            ops,
            explanation: explanation.into(),
        }
    }
}

/// A buy as the checks see it.
#[derive(Debug, Clone)]
pub(crate) struct Buy<'a> {
    pub(crate) op: &'a Op,
    pub(crate) name: String,
    pub(crate) quantity: u64,
    pub(crate) key: String,
    /// The order number of an ok completion.
    pub(crate) number: Option<u64>,
    /// The status of a definite failure.
    pub(crate) failed_code: Option<u64>,
}

/// What every check reads: paired ops and the buys indexed by key and number.
pub(crate) struct Facts<'a> {
    pub(crate) ops: &'a [Op],
    pub(crate) buys: Vec<Buy<'a>>,
    pub(crate) final_state: &'a FinalState,
}

impl<'a> Facts<'a> {
    pub(crate) fn new(ops: &'a [Op], final_state: &'a FinalState) -> Self {
        let buys = ops
            .iter()
            .filter(|op| op.f == Function::Buy)
            .map(|op| {
                let completion = op.completion.as_ref();
                Buy {
                    op,
                    name: op.invoke.str_field("name").unwrap_or_default().to_string(),
                    quantity: op.invoke.u64_field("quantity").unwrap_or(0),
                    key: op.invoke.str_field("key").unwrap_or_default().to_string(),
                    number: completion
                        .filter(|c| c.kind == EventType::Ok)
                        .and_then(|c| c.u64_field("order_number")),
                    failed_code: completion
                        .filter(|c| c.kind == EventType::Fail)
                        .and_then(|c| c.u64_field("code")),
                }
            })
            .collect();
        Facts {
            ops,
            buys,
            final_state,
        }
    }

    /// Buys grouped by idempotency key, each group in invoke order.
    pub(crate) fn buys_by_key(&self) -> HashMap<&str, Vec<&Buy<'a>>> {
        let mut by_key: HashMap<&str, Vec<&Buy<'a>>> = HashMap::new();
        for buy in &self.buys {
            by_key.entry(buy.key.as_str()).or_default().push(buy);
        }
        by_key
    }
}
