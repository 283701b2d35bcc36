//! Cooperative cancellation shared between a caller and a blocking operation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cheap, clonable flag. Blocking operations check it between bounded steps and stop early
/// once it is set. Clones share the same flag; a [`child`](Self::child) also stops when its
/// parent is cancelled, but cancelling the child leaves the parent alone.
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl CancelToken {
    /// A new, not yet cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that is cancelled when this one is, or when it is cancelled itself.
    pub fn child(&self) -> Self {
        Self { flag: Arc::default(), parent: Some(Arc::clone(&self.flag)) }
    }

    /// Ask every holder of this token (and of its children) to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called on this token, one of its clones, or the
    /// token it is a child of.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || self.parent.as_ref().is_some_and(|p| p.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_follows_its_parent_but_not_the_other_way_round() {
        let parent = CancelToken::new();
        let child = parent.child();
        let clone_of_child = child.clone();
        assert!(!child.is_cancelled());
        child.cancel();
        assert!(clone_of_child.is_cancelled());
        assert!(!parent.is_cancelled(), "cancelling a child must not cancel its parent");

        let other = parent.child();
        assert!(!other.is_cancelled());
        parent.clone().cancel();
        assert!(other.is_cancelled() && parent.is_cancelled());
    }
}
