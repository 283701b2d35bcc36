//! Cooperative cancellation shared between a caller and blocking operations, with hooks that
//! wake a thread blocked in a socket wait.
//!
//! Tokens form a tree: [`CancelToken::child`] makes a token that is cancelled with its parent,
//! its grandparent and so on up to the root, but whose own cancellation leaves its ancestors
//! alone. A blocking wait registers a hook ([`CancelToken::on_cancel`]) that is run by the
//! thread that cancels the token or any of its ancestors; [`crate::Waiter`] uses it to wake its
//! poller.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A hook run once when a token is cancelled.
type Hook = Arc<dyn Fn() + Send + Sync>;

/// One token of the tree: its own flag, its parent, and the hooks of waits on it or below it.
struct Node {
    cancelled: AtomicBool,
    parent: Option<Arc<Node>>,
    /// Hooks registered on this node or on one of its descendants (a hook is registered on
    /// every node from its token up to the root, so cancelling any of them runs it).
    hooks: Mutex<Vec<(u64, Hook)>>,
}

impl Node {
    /// This node and its ancestors, nearest first.
    fn chain(self: &Arc<Self>) -> impl Iterator<Item = &Arc<Node>> {
        std::iter::successors(Some(self), |node| node.parent.as_ref())
    }
}

/// A cheap, clonable cancellation flag. Clones share the same flag; a [`child`](Self::child)
/// also stops when any of its ancestors is cancelled, but cancelling the child leaves its
/// ancestors alone. Blocking waits of this crate ([`crate::Waiter`]) end at once when their
/// token is cancelled, whatever thread cancels it.
#[derive(Clone)]
pub struct CancelToken {
    node: Arc<Node>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken").field("cancelled", &self.is_cancelled()).finish()
    }
}

/// Unique ids for hooks, so a [`CancelHook`] removes exactly its own entries.
static NEXT_HOOK: AtomicU64 = AtomicU64::new(1);

impl CancelToken {
    /// A new root token, not cancelled.
    pub fn new() -> Self {
        Self { node: Arc::new(Node { cancelled: AtomicBool::new(false), parent: None, hooks: Mutex::new(Vec::new()) }) }
    }

    /// A token that is cancelled when it is cancelled itself or when this token or any of its
    /// ancestors is (a grandchild follows its grandparent).
    pub fn child(&self) -> Self {
        Self {
            node: Arc::new(Node {
                cancelled: AtomicBool::new(false),
                parent: Some(Arc::clone(&self.node)),
                hooks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Asks every holder of this token and of its descendants to stop, and runs the hooks of
    /// the waits blocked on them (on this thread, before returning). Cancelling twice is
    /// harmless; hooks run on the first call only.
    pub fn cancel(&self) {
        if self.node.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        let hooks: Vec<Hook> = lock(&self.node.hooks).iter().map(|(_, hook)| Arc::clone(hook)).collect();
        for hook in hooks {
            hook();
        }
    }

    /// Whether [`cancel`](Self::cancel) was called on this token, one of its clones, or one of
    /// its ancestors.
    pub fn is_cancelled(&self) -> bool {
        self.node.chain().any(|node| node.cancelled.load(Ordering::SeqCst))
    }

    /// Runs `hook` once when this token (or an ancestor) is cancelled, on the cancelling
    /// thread, until the returned guard is dropped. When the token is already cancelled,
    /// `hook` runs at once, before this returns. The hook must be quick and must not block
    /// (waking a poller is the intended use).
    pub fn on_cancel(&self, hook: impl Fn() + Send + Sync + 'static) -> CancelHook {
        let id = NEXT_HOOK.fetch_add(1, Ordering::Relaxed);
        let hook: Hook = Arc::new(hook);
        for node in self.node.chain() {
            lock(&node.hooks).push((id, Arc::clone(&hook)));
        }
        // A cancel that ran before the hook was in every list may have missed it.
        if self.is_cancelled() {
            hook();
        }
        CancelHook { node: Arc::clone(&self.node), id }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps a hook of [`CancelToken::on_cancel`] registered; dropping it removes the hook.
pub struct CancelHook {
    node: Arc<Node>,
    id: u64,
}

impl fmt::Debug for CancelHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHook").field("id", &self.id).finish()
    }
}

impl Drop for CancelHook {
    fn drop(&mut self) {
        for node in self.node.chain() {
            lock(&node.hooks).retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

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

    /// Failed on the token of gdnat-igd before this crate: a child only looked at its own
    /// flag and its parent's, so a grandchild never saw its grandparent's cancel.
    #[test]
    fn cancelling_a_grandparent_reaches_a_grandchild() {
        let grandparent = CancelToken::new();
        let parent = grandparent.child();
        let grandchild = parent.child();
        let great_grandchild = grandchild.child();
        grandparent.cancel();
        assert!(parent.is_cancelled());
        assert!(grandchild.is_cancelled(), "a grandchild must follow its grandparent");
        assert!(great_grandchild.is_cancelled());
    }

    #[test]
    fn hooks_run_once_for_the_token_or_any_ancestor_and_not_after_their_guard_is_dropped() {
        let root = CancelToken::new();
        let leaf = root.child().child();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let hook = leaf.on_cancel(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        root.cancel();
        root.cancel();
        leaf.cancel();
        assert_eq!(runs.load(Ordering::SeqCst), 2, "once for the root, once for the leaf's own cancel");
        drop(hook);

        let other = CancelToken::new();
        let counter = Arc::clone(&runs);
        let hook = other.child().on_cancel(move || {
            counter.fetch_add(10, Ordering::SeqCst);
        });
        drop(hook);
        other.cancel();
        assert_eq!(runs.load(Ordering::SeqCst), 2, "a dropped hook never runs");
        assert!(lock(&other.node.hooks).is_empty(), "the guard removed its entry from every ancestor");
    }

    #[test]
    fn a_hook_registered_after_the_cancel_runs_at_once() {
        let token = CancelToken::new();
        token.cancel();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let _hook = token.child().on_cancel(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_cancel_from_another_thread_is_seen() {
        let token = CancelToken::new();
        let child = token.child();
        std::thread::spawn(move || token.cancel()).join().unwrap();
        assert!(child.is_cancelled());
    }
}
