//! Load shedding for buys: at most `--max-pending-buys` buys are in progress at once; one
//! more is answered 503 `overloaded` with `Retry-After` at once, instead of joining a queue
//! that would only make every buy slower (and hold memory) until all miss their deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use prometheus::{IntCounter, IntGauge};
use service_core::ApiError;
use toystore_api::ErrorKind;

/// Counts buys in progress against a cap.
#[derive(Clone)]
pub struct Admission {
    pending: Arc<AtomicUsize>,
    limit: usize,
    gauge: IntGauge,
    shed: IntCounter,
}

/// A buy's place; dropping it frees the place.
pub struct Ticket {
    admission: Admission,
}

impl Admission {
    /// At most `limit` buys at once; `gauge` shows how many, `shed` counts refusals.
    pub fn new(limit: usize, gauge: IntGauge, shed: IntCounter) -> Self {
        Admission {
            pending: Arc::new(AtomicUsize::new(0)),
            limit,
            gauge,
            shed,
        }
    }

    /// A place for one more buy, or 503 `overloaded` when all are taken.
    pub fn admit(&self) -> Result<Ticket, ApiError> {
        let taken = self.pending.fetch_add(1, Ordering::AcqRel);
        if taken >= self.limit {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.shed.inc();
            return Err(ApiError::kind(ErrorKind::Overloaded));
        }
        self.gauge.inc();
        Ok(Ticket {
            admission: self.clone(),
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.pending.fetch_sub(1, Ordering::AcqRel);
        self.admission.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_and_places_come_back() {
        let gauge = IntGauge::new("pending", "p").unwrap();
        let shed = IntCounter::new("shed", "s").unwrap();
        let admission = Admission::new(2, gauge.clone(), shed.clone());
        let a = admission.admit().unwrap();
        let _b = admission.admit().unwrap();
        let refused = admission.admit().err().expect("a third is refused");
        assert_eq!(refused.status.as_u16(), 503);
        assert_eq!(refused.retry_after_secs, Some(1));
        assert_eq!(shed.get(), 1);
        assert_eq!(gauge.get(), 2);
        drop(a);
        assert!(admission.admit().is_ok(), "a freed place is taken again");
        assert_eq!(
            gauge.get(),
            1,
            "the dropped ticket above freed its place too"
        );
    }
}
