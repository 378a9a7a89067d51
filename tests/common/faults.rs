//! Fault injection for the in-memory platform: which storage, upstream or fetch
//! operation fails, and how (it fails, its answer is lost, it never answers).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::splitmix;

/// What an injected fault does to the operation it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation does not happen and its caller gets an error (a KV put
    /// that throws, a Durable Object call that is reset before it runs, an
    /// upstream that answers 500).
    Fail,
    /// The operation happens, but its caller gets an error (a write that landed
    /// before the connection dropped, an object call whose answer is lost).
    /// Reads are not changed by it, so it is injected into writes and calls only.
    Lost,
    /// The operation never answers: the request is cut off there (a Durable
    /// Object evicted mid-call, an upstream that never answers, the platform's
    /// time limit). The driver ([`Platform::drive`]) then drops the request.
    Hang,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::Fail => "fail",
            Fault::Lost => "lost",
            Fault::Hang => "hang",
        }
    }
}

/// Which storage, upstream or fetch operation fails, and how. Every operation
/// of the platform asks [`FaultPlan::hit`] first; while the plan is armed, each
/// is one numbered step, named in [`FaultPlan::trace`].
#[derive(Default)]
pub struct FaultPlan {
    armed: Cell<bool>,
    step: Cell<u32>,
    at: Cell<Option<(u32, Fault)>>,
    /// A share of operations that fail (`1 in n`, picked by a counter run
    /// through SplitMix64), for randomized runs; 0 is none.
    pub one_in: Cell<u64>,
    rand: Cell<u64>,
    pub trace: RefCell<Vec<String>>,
    /// Set when a [`Fault::Hang`] was hit: the request can never finish.
    pub hung: Cell<bool>,
    /// Faults injected since the last [`FaultPlan::arm`].
    pub injected: Cell<u32>,
}

impl FaultPlan {
    /// Starts numbering steps from 1; `at` is the step to fault, if any.
    pub fn arm(&self, at: Option<(u32, Fault)>) {
        self.armed.set(true);
        self.step.set(0);
        self.at.set(at);
        self.trace.borrow_mut().clear();
        self.hung.set(false);
        self.injected.set(0);
    }

    pub fn disarm(&self) {
        self.armed.set(false);
        self.hung.set(false);
        self.at.set(None);
        self.one_in.set(0);
    }

    /// The fault for the operation `op` (`kv.put access:…`), if it is the one.
    /// `writes` says whether the operation changes anything ([`Fault::Lost`]
    /// then means "done, but the caller hears an error").
    pub fn hit(&self, op: &str, writes: bool) -> Option<Fault> {
        if !self.armed.get() {
            return None;
        }
        let n = self.step.get() + 1;
        self.step.set(n);
        self.trace.borrow_mut().push(op.to_owned());
        let mut fault = match self.at.get() {
            Some((at, fault)) if at == n => Some(fault),
            _ => None,
        };
        let one_in = self.one_in.get();
        if fault.is_none() && one_in > 0 {
            let r = splitmix(self.rand.get());
            self.rand.set(r);
            if r.is_multiple_of(one_in) {
                fault = Some(if writes && r.is_multiple_of(2) {
                    Fault::Lost
                } else {
                    Fault::Fail
                });
            }
        }
        if fault == Some(Fault::Lost) && !writes {
            fault = Some(Fault::Fail);
        }
        if fault.is_some() {
            self.injected.set(self.injected.get() + 1);
        }
        if fault == Some(Fault::Hang) {
            self.hung.set(true);
        }
        fault
    }
}

/// A future that never finishes: an operation that hangs.
pub struct Never;

impl Future for Never {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// Runs `plan`'s decision for `op` in an async operation: `Some(Err)` when the
/// operation fails before doing anything, never returns on a hang, `None` to go
/// on (the caller checks [`after`] for a lost answer).
pub(super) async fn before(
    plan: &FaultPlan,
    op: &str,
    writes: bool,
) -> Result<Option<Fault>, String> {
    match plan.hit(op, writes) {
        Some(Fault::Fail) => Err(format!("injected failure: {op}")),
        Some(Fault::Hang) => {
            Never.await;
            unreachable!()
        }
        other => Ok(other),
    }
}

/// The answer of an operation that ran: an error if its answer was lost.
pub(super) fn after<T>(fault: Option<Fault>, op: &str, done: T) -> Result<T, String> {
    match fault {
        Some(Fault::Lost) => Err(format!("injected lost answer: {op}")),
        _ => Ok(done),
    }
}
