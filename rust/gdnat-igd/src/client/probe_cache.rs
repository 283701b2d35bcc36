//! The probe cache: discoveries that find the same device at the same time share one
//! validation of it (one description fetch, one status probe), as n0's portmapper shares its
//! probes. Fifty objects that discover in the same frame cost the router one validation, not
//! fifty.
//!
//! **Which discoveries share.** A validation of the description URL `L` (with the same HTTP
//! limits) serves every discovery that wants `L` while it runs, and, once finished, every
//! discovery that was *requested* before it finished ([`DiscoverOptions::requested_at`]: the
//! binding sets it to the time of the `discover_async()` call, so a discovery that waited in a
//! queue during the burst still counts as part of it). A discovery requested after a
//! validation finished always validates anew, so a sequence of calls sees the router as it is
//! at each call, exactly as without the cache. A validation that was cancelled is never
//! reused.
//!
//! **Cancellation.** A validation has its own token. Each discovery that waits for it holds a
//! [`Subscription`]; when the last one is released (its discovery returned or was
//! cancelled) before the validation finished, the validation is cancelled, which ends its
//! HTTP exchange at once.
//!
//! **Threads.** Validations run on at most [`MAX_VALIDATION_THREADS`] helper threads for the
//! whole process ([`crate::helper_threads`], counted for unloading); more validations wait in
//! a queue and are taken by the next thread that is free.
//!
//! [`DiscoverOptions::requested_at`]: super::DiscoverOptions::requested_at

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gdnat_io::Wake;

use super::validate::{validate_device, Answer};
use super::{DiscoveredDevice, HttpLimits};
use crate::cancel::CancelToken;
use crate::helper_threads;

/// Most validation threads at a time, for the whole process.
pub const MAX_VALIDATION_THREADS: usize = 8;
/// How long a finished validation is kept for discoveries requested before it finished (a
/// queued discovery older than that validates anew).
const KEEP: Duration = Duration::from_secs(60);
/// Most validations kept; the oldest finished ones are dropped first.
const MAX_KEPT: usize = 64;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a validation's result goes: a discovery's channel, the slot index there, and the
/// wake of its socket wait.
struct Waiting {
    tx: Sender<(usize, DiscoveredDevice)>,
    index: usize,
    wake: Wake,
    answer: Answer,
}

impl Waiting {
    /// Hands `device` in, with this discovery's own SSDP fields.
    fn deliver(&self, device: &DiscoveredDevice) {
        let mut device = device.clone();
        device.service_type = self.answer.st.clone();
        device.usn = self.answer.usn.clone();
        let _ = self.tx.send((self.index, device));
        self.wake.wake();
    }
}

struct ProbeState {
    /// The result and when it came, once finished.
    result: Option<(DiscoveredDevice, Instant)>,
    waiting: Vec<Waiting>,
    /// Subscriptions not released yet.
    interested: usize,
}

/// One validation of one description URL.
struct Probe {
    location: String,
    limits: HttpLimits,
    answer: Answer,
    cancel: CancelToken,
    /// Set once the SOAP probes started (see `validate_device`).
    probing: Arc<AtomicBool>,
    state: Mutex<ProbeState>,
}

/// Known validations (running, queued or finished), newest last.
static PROBES: Mutex<Vec<Arc<Probe>>> = Mutex::new(Vec::new());
/// Validations waiting for a thread.
static QUEUE: Mutex<VecDeque<Arc<Probe>>> = Mutex::new(VecDeque::new());
/// Validation threads running (at most [`MAX_VALIDATION_THREADS`]); guarded with `QUEUE`'s
/// decisions by being changed only while `QUEUE` is locked.
static RUNNERS: Mutex<usize> = Mutex::new(0);

/// A discovery's interest in one validation; releasing it (drop) cancels the validation when
/// it was the last interest and the validation has not finished.
pub(crate) struct Subscription {
    probe: Arc<Probe>,
}

impl Subscription {
    /// Set once the validation's SOAP probes started.
    pub(crate) fn probing(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.probe.probing)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let cancelled = {
            let mut state = lock(&self.probe.state);
            state.interested = state.interested.saturating_sub(1);
            let cancel = state.interested == 0 && state.result.is_none();
            if cancel {
                // Under the state lock: a subscriber that looks at this probe now sees it
                // cancelled and starts a fresh one.
                self.probe.cancel.cancel();
            }
            cancel
        };
        if cancelled {
            forget(&self.probe);
        }
    }
}

/// Subscribes slot `index` of a discovery requested at `requested_at` to a validation of
/// `answer`'s device: a running one, a finished one that finished after `requested_at`, or a
/// new one. The result is sent to `tx` as `(index, device)` (with `answer`'s own ST and USN), and `wake`
/// is woken.
pub(crate) fn subscribe(
    answer: &Answer,
    limits: &HttpLimits,
    requested_at: Instant,
    index: usize,
    tx: Sender<(usize, DiscoveredDevice)>,
    wake: Wake,
) -> Subscription {
    let waiting = Waiting { tx, index, wake, answer: answer.clone() };
    let mut probes = lock(&PROBES);
    let now = Instant::now();
    probes.retain(|probe| {
        let state = lock(&probe.state);
        match &state.result {
            Some((_, finished)) => now.saturating_duration_since(*finished) < KEEP,
            None => !probe.cancel.is_cancelled(),
        }
    });
    for probe in probes.iter().rev() {
        if probe.location != answer.location || probe.limits != *limits {
            continue;
        }
        let mut state = lock(&probe.state);
        let usable = match &state.result {
            Some((_, finished)) => *finished >= requested_at,
            None => !probe.cancel.is_cancelled(),
        };
        if !usable {
            continue;
        }
        state.interested += 1;
        match &state.result {
            Some((device, _)) => waiting.deliver(device),
            None => state.waiting.push(waiting),
        }
        return Subscription { probe: Arc::clone(probe) };
    }
    let probe = Arc::new(Probe {
        location: answer.location.clone(),
        limits: *limits,
        answer: answer.clone(),
        cancel: CancelToken::new(),
        probing: Arc::new(AtomicBool::new(false)),
        state: Mutex::new(ProbeState { result: None, waiting: vec![waiting], interested: 1 }),
    });
    if probes.len() >= MAX_KEPT {
        if let Some(oldest) = probes.iter().position(|p| lock(&p.state).result.is_some()) {
            probes.remove(oldest);
        }
    }
    probes.push(Arc::clone(&probe));
    drop(probes);
    start(Arc::clone(&probe));
    Subscription { probe }
}

/// Removes `probe` from the known validations.
fn forget(probe: &Arc<Probe>) {
    lock(&PROBES).retain(|p| !Arc::ptr_eq(p, probe));
}

/// Queues `probe` and starts a thread for it when fewer than the cap run.
fn start(probe: Arc<Probe>) {
    let mut queue = lock(&QUEUE);
    queue.push_back(probe);
    let mut runners = lock(&RUNNERS);
    if *runners >= MAX_VALIDATION_THREADS {
        return;
    }
    *runners += 1;
    drop(runners);
    drop(queue);
    if let Err(error) = helper_threads::spawn("gdnat-validate", run) {
        let mut queue = lock(&QUEUE);
        let mut runners = lock(&RUNNERS);
        *runners -= 1;
        if *runners == 0 {
            // No thread will take the queue: every waiting validation fails now.
            let failed: Vec<Arc<Probe>> = queue.drain(..).collect();
            drop(runners);
            drop(queue);
            for probe in failed {
                let device = super::discovery::unvalidated(&probe.answer, format!("could not start validation: {error}"));
                finish(&probe, device);
            }
        }
    }
}

/// A validation thread: takes queued validations until none is left.
fn run() {
    loop {
        let probe = {
            let mut queue = lock(&QUEUE);
            match queue.pop_front() {
                Some(probe) => probe,
                None => {
                    *lock(&RUNNERS) -= 1;
                    return;
                }
            }
        };
        let device = panic::catch_unwind(AssertUnwindSafe(|| validate_device(&probe.answer, &probe.limits, &probe.cancel, &probe.probing)))
            .unwrap_or_else(|_| super::discovery::unvalidated(&probe.answer, "validation failed unexpectedly (internal error)"));
        finish(&probe, device);
    }
}

/// Hands the result to every waiting discovery; a cancelled result is not kept.
fn finish(probe: &Arc<Probe>, device: DiscoveredDevice) {
    let cancelled = probe.cancel.is_cancelled();
    let waiting = {
        let mut state = lock(&probe.state);
        if !cancelled {
            state.result = Some((device.clone(), Instant::now()));
        }
        std::mem::take(&mut state.waiting)
    };
    for waiting in &waiting {
        waiting.deliver(&device);
    }
    if cancelled {
        forget(probe);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    /// A description server that counts its requests and answers each with a 404 after
    /// `delay`, so validations end quickly as HttpError.
    fn server(delay: Duration) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/desc.xml", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(16) {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf);
                std::thread::sleep(delay);
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        (url, count)
    }

    fn answer(url: &str, st: &str) -> Answer {
        Answer { location: url.into(), st: st.into(), usn: format!("uuid:{st}") }
    }

    fn wake() -> Wake {
        gdnat_io::Waiter::new(&CancelToken::new()).unwrap().waker()
    }

    #[test]
    fn concurrent_subscribers_share_one_validation_and_get_their_own_ssdp_fields() {
        let (url, count) = server(Duration::from_millis(100));
        let limits = HttpLimits::default();
        let requested = Instant::now();
        let (tx, rx) = mpsc::channel();
        let subs: Vec<Subscription> =
            (0..10).map(|i| subscribe(&answer(&url, &format!("st{i}")), &limits, requested, i, tx.clone(), wake())).collect();
        let mut got: Vec<(usize, DiscoveredDevice)> = (0..10).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        got.sort_by_key(|(i, _)| *i);
        for (i, device) in &got {
            assert_eq!(device.service_type, format!("st{i}"));
            assert_eq!(device.usn, format!("uuid:st{i}"));
            assert_eq!(device.description_url, url);
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "one description fetch for ten discoveries");
        // Requested before it finished: served from the cache, no new fetch.
        let late = subscribe(&answer(&url, "late"), &limits, requested, 99, tx.clone(), wake());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap().0, 99);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        // Requested after it finished: validated anew.
        let fresh = subscribe(&answer(&url, "fresh"), &limits, Instant::now(), 7, tx, wake());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap().0, 7);
        assert_eq!(count.load(Ordering::SeqCst), 2);
        drop((subs, late, fresh));
    }

    #[test]
    fn releasing_the_last_subscription_cancels_the_validation() {
        let (url, _count) = server(Duration::from_secs(3));
        let (tx, rx) = mpsc::channel();
        let limits = HttpLimits::default();
        let a = subscribe(&answer(&url, "a"), &limits, Instant::now(), 0, tx.clone(), wake());
        let b = subscribe(&answer(&url, "b"), &limits, Instant::now(), 1, tx, wake());
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "one discovery still waits: the validation goes on");
        let released = Instant::now();
        drop(b);
        let (_, device) = rx.recv_timeout(Duration::from_secs(2)).unwrap();
        assert!(released.elapsed() < Duration::from_secs(2));
        assert!(device.detail.contains("cancelled"), "{}", device.detail);
    }
}
