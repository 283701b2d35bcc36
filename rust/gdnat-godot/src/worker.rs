//! One background worker per Godot object, modelled on an actor: typed [`Job`] messages go in,
//! typed [`Outcome`] messages come out, and the jobs of one object run one after the other in
//! call order (FIFO).
//!
//! The worker thread is spawned lazily by the first job that needs the network. It sees only
//! plain Rust data (strings, numbers, [`Gateway`], [`DiscoverOptions`], a [`CancelToken`]);
//! no Godot object or engine call ever reaches it. Outcomes are collected on the main thread
//! by [`crate::delivery`].
//!
//! Dropping a [`Worker`] (its Godot object was freed) cancels its token: the running job's
//! network I/O (connect, HTTP write or read, SSDP wait) ends at once and the thread stops.
//! [`shutdown`] (called when the library is unloaded) does the same for every worker and joins
//! every thread, so none is left running when the library is unloaded.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gdnat_igd::{helper_threads, CancelToken, DiscoverOptions, Gateway, Protocol, UpnpResult};

use crate::convert::{device_key, DeviceData};
use crate::operations::{self, Report};
use crate::test_hooks::{self, Site};
use crate::validation::MappingArgs;

/// Work for a worker thread. Plain data only.
#[derive(Clone, Debug)]
pub enum Job {
    /// Discover devices.
    Discover(DiscoverOptions),
    /// AddPortMapping on a gateway copied at call time.
    Add {
        /// The connection service to talk to.
        gateway: Gateway,
        /// The validated arguments.
        args: MappingArgs,
        /// The protocol text as passed (echoed in the signal).
        proto: String,
    },
    /// DeletePortMapping on a gateway copied at call time.
    Delete {
        /// The connection service to talk to.
        gateway: Gateway,
        /// The external port.
        port: u16,
        /// The validated protocol.
        protocol: Protocol,
        /// The protocol text as passed (echoed in the signal).
        proto: String,
    },
    /// GetExternalIPAddress on a gateway copied at call time.
    Query {
        /// The connection service to talk to.
        gateway: Gateway,
    },
    /// A result known at call time (a validation error), delivered in call order.
    Echo(Outcome),
    /// Stop the thread.
    Stop,
}

/// Where a device of a finished discovery comes from.
#[derive(Clone, Debug)]
pub enum DeviceSlot {
    /// The n-th device already announced by [`Outcome::DeviceFound`] (reuse that object).
    Found(usize),
    /// A device that was not announced (should not happen; handled anyway).
    New(DeviceData),
}

/// A result for the main thread. Plain data only.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Discovery classified one device (not terminal: a `Discovered` follows).
    DeviceFound(DeviceData),
    /// Discovery finished: the result code and the new device list. `devices` is `None` when
    /// the arguments were invalid (the engine then leaves the list alone), else the list that
    /// replaces the old one (empty on failure).
    Discovered {
        /// The `UPNPResult` value.
        code: i32,
        /// The new list, or `None` to leave the list alone.
        devices: Option<Vec<DeviceSlot>>,
    },
    /// AddPortMapping finished.
    Added {
        /// The result and the message to print.
        report: Report,
        /// The external port as passed.
        port: i32,
        /// The protocol as passed.
        proto: String,
    },
    /// DeletePortMapping finished.
    Deleted {
        /// The result and the message to print.
        report: Report,
        /// The external port as passed.
        port: i32,
        /// The protocol as passed.
        proto: String,
    },
    /// GetExternalIPAddress finished.
    Queried {
        /// The result and the message to print.
        report: Report,
        /// The address, empty on failure.
        address: String,
    },
}

impl Outcome {
    /// Whether this outcome ends a job (everything but `DeviceFound`).
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::DeviceFound(_))
    }
}

/// The background worker of one Godot object.
#[derive(Default)]
pub struct Worker {
    running: Option<Running>,
    /// Outcomes known at call time while nothing was in flight: delivered first.
    ready: VecDeque<Outcome>,
    /// Jobs submitted whose terminal outcome was not taken yet.
    outstanding: usize,
    cancel: CancelToken,
}

struct Running {
    jobs: Sender<Job>,
    outcomes: Receiver<Outcome>,
    /// Upgradable exactly while the thread's function has not returned (the unit tests use it
    /// to see that a thread really ended).
    #[cfg_attr(not(test), allow(dead_code))]
    thread_alive: Weak<()>,
}

impl Worker {
    /// Queues a job behind every earlier one. A job that cannot be run (the library is
    /// shutting down, or no thread could be started) is answered with `UNKNOWN_ERROR`.
    pub fn submit(&mut self, job: Job) {
        self.outstanding += 1;
        if let Job::Echo(outcome) = job {
            if self.outstanding == 1 {
                // Nothing ahead of it: no thread needed.
                self.ready.push_back(outcome);
            } else {
                self.send(Job::Echo(outcome));
            }
            return;
        }
        self.send(job);
    }

    /// Takes the next outcome that arrived, if any (outcomes come in call order).
    pub fn next_outcome(&mut self) -> Option<Outcome> {
        let outcome = match self.ready.pop_front() {
            Some(outcome) => Some(outcome),
            None => self.receive(),
        };
        if outcome.as_ref().is_some_and(Outcome::is_terminal) {
            self.outstanding = self.outstanding.saturating_sub(1);
        }
        outcome
    }

    fn receive(&mut self) -> Option<Outcome> {
        let running = self.running.as_ref()?;
        match running.outcomes.try_recv() {
            Ok(outcome) => Some(outcome),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                // The thread was stopped (shutdown): nothing more will come.
                self.running = None;
                self.outstanding = 0;
                None
            }
        }
    }

    /// Whether no job is waiting for delivery.
    pub fn is_idle(&self) -> bool {
        self.outstanding == 0
    }

    fn send(&mut self, job: Job) {
        if self.running.is_none() {
            self.running = spawn(self.cancel.clone());
        }
        let refused = match &self.running {
            Some(running) => running.jobs.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if let Some(job) = refused {
            self.running = None;
            self.ready.push_back(unrunnable(job));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(running) = &self.running {
            let _ = running.jobs.send(Job::Stop);
        }
    }
}

/// The outcome of a job that could not be run.
fn unrunnable(job: Job) -> Outcome {
    let report = || Report {
        code: UpnpResult::UnknownError.code(),
        error: Some("gdnat: the operation could not be run (no worker thread, or an internal error).".into()),
    };
    match job {
        Job::Discover(_) | Job::Stop => {
            Outcome::Discovered { code: UpnpResult::UnknownError.code(), devices: Some(Vec::new()) }
        }
        Job::Add { args, proto, .. } => Outcome::Added { report: report(), port: args.port.into(), proto },
        Job::Delete { port, proto, .. } => Outcome::Deleted { report: report(), port: port.into(), proto },
        Job::Query { .. } => Outcome::Queried { report: report(), address: String::new() },
        Job::Echo(outcome) => outcome,
    }
}

// ---------------------------------------------------------------------------------------------
// Threads

/// Set once the library is being unloaded: no new thread starts.
static SHUTDOWN: AtomicBool = AtomicBool::new(false);

/// Every worker thread that may still run: its cancel token, a way to wake it, its handle.
static THREADS: Mutex<Vec<ThreadEntry>> = Mutex::new(Vec::new());

struct ThreadEntry {
    cancel: CancelToken,
    wake: Sender<Job>,
    handle: JoinHandle<()>,
    /// Disconnected when the thread's function has returned (it owns the only sender).
    done: Receiver<()>,
}

fn spawn(cancel: CancelToken) -> Option<Running> {
    if SHUTDOWN.load(Ordering::SeqCst) {
        return None;
    }
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (outcomes_tx, outcomes_rx) = mpsc::channel::<Outcome>();
    let thread_cancel = cancel.clone();
    let alive = Arc::new(());
    let thread_alive = Arc::downgrade(&alive);
    let (done_tx, done) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("gdnat-worker".into())
        .spawn(move || {
            let _alive = alive;
            let _done = done_tx;
            run(jobs_rx, outcomes_tx, thread_cancel);
        })
        .ok()?;
    let mut threads = THREADS.lock().unwrap_or_else(|p| p.into_inner());
    threads.retain(|t| !t.handle.is_finished());
    threads.push(ThreadEntry { cancel, wake: jobs_tx.clone(), handle, done });
    Some(Running { jobs: jobs_tx, outcomes: outcomes_rx, thread_alive })
}

/// The worker thread: runs jobs in order until told to stop or cancelled.
fn run(jobs: Receiver<Job>, outcomes: Sender<Outcome>, cancel: CancelToken) {
    while let Ok(job) = jobs.recv() {
        if cancel.is_cancelled() || matches!(job, Job::Stop) {
            break;
        }
        execute(job, &cancel, &outcomes);
    }
}

/// Runs one job and sends its outcome. A panic inside the core is caught and reported as
/// `UNKNOWN_ERROR`, so the object still gets its signal and the thread keeps serving.
fn execute(job: Job, cancel: &CancelToken, outcomes: &Sender<Outcome>) {
    let fallback = unrunnable(job.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| perform(job, cancel, outcomes)));
    let outcome = match result {
        Ok(Some(outcome)) => outcome,
        Ok(None) => return,
        Err(_) => fallback,
    };
    if !cancel.is_cancelled() {
        let _ = outcomes.send(outcome);
    }
}

fn perform(job: Job, cancel: &CancelToken, outcomes: &Sender<Outcome>) -> Option<Outcome> {
    test_hooks::panic_if_requested(Site::Worker);
    Some(match job {
        Job::Discover(options) => discover(&options, cancel, outcomes),
        Job::Add { gateway, args, proto } => {
            Outcome::Added { report: operations::add_port_mapping(&gateway, &args, cancel), port: args.port.into(), proto }
        }
        Job::Delete { gateway, port, protocol, proto } => Outcome::Deleted {
            report: operations::delete_port_mapping(&gateway, port, protocol, cancel),
            port: port.into(),
            proto,
        },
        Job::Query { gateway } => {
            let (report, address) = operations::query_external_address(&gateway, cancel);
            Outcome::Queried { report, address }
        }
        Job::Echo(outcome) => outcome,
        Job::Stop => return None,
    })
}

/// Discovery on the worker: each classified device is sent at once, then the final list as
/// references to the devices already sent.
fn discover(options: &DiscoverOptions, cancel: &CancelToken, outcomes: &Sender<Outcome>) -> Outcome {
    let mut announced = Vec::new();
    let mut on_device = |device: &gdnat_igd::DiscoveredDevice| {
        announced.push(device_key(device));
        let _ = outcomes.send(Outcome::DeviceFound(DeviceData::from_discovered(device)));
    };
    match operations::discover(options, cancel, &mut on_device) {
        Ok(devices) => {
            let slots = devices
                .iter()
                .map(|device| {
                    let key = device_key(device);
                    match announced.iter().position(|k| *k == key) {
                        Some(index) => DeviceSlot::Found(index),
                        None => DeviceSlot::New(DeviceData::from_discovered(device)),
                    }
                })
                .collect();
            Outcome::Discovered { code: UpnpResult::Success.code(), devices: Some(slots) }
        }
        Err((code, _)) => Outcome::Discovered { code, devices: Some(Vec::new()) },
    }
}

/// The longest [`shutdown`] waits for the threads to end. Cancelling a job ends its network
/// I/O at once, so the threads end within milliseconds; this only guards against a thread
/// that does not (a bug), and is past the 4 s bound of one HTTP exchange so that even then no
/// thread runs the library's code after it is unloaded.
pub const SHUTDOWN_GUARD: Duration = Duration::from_millis(4500);

/// What [`shutdown`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Worker threads that ended and were joined.
    pub joined: usize,
    /// Worker threads still running after [`SHUTDOWN_GUARD`] (0 unless something is wrong).
    pub left: usize,
    /// The core's helper threads (device validations, [`gdnat_igd::helper_threads`]) still
    /// running after [`SHUTDOWN_GUARD`] (0 unless something is wrong).
    pub helpers_left: usize,
}

/// Stops every worker: no new thread starts, every job is cancelled (which ends its network
/// I/O at once), idle threads are woken, and the threads are joined. The core's own helper
/// threads (device validations of a cancelled discovery, [`gdnat_igd::helper_threads`]) are
/// waited for too. Waits on the threads themselves (no polling), at most [`SHUTDOWN_GUARD`].
pub fn shutdown() -> Stopped {
    SHUTDOWN.store(true, Ordering::SeqCst);
    let entries: Vec<ThreadEntry> = std::mem::take(&mut *THREADS.lock().unwrap_or_else(|p| p.into_inner()));
    for entry in &entries {
        entry.cancel.cancel();
        let _ = entry.wake.send(Job::Stop);
    }
    let guard_end = Instant::now() + SHUTDOWN_GUARD;
    let mut stopped = Stopped::default();
    for entry in entries {
        // The thread drops its end of `done` as its last act: a disconnect means it ended.
        let remaining = guard_end.saturating_duration_since(Instant::now());
        let ended = matches!(entry.done.recv_timeout(remaining), Err(RecvTimeoutError::Disconnected));
        if ended {
            let _ = entry.handle.join();
            stopped.joined += 1;
        } else {
            stopped.left += 1;
        }
    }
    stopped.helpers_left = helper_threads::wait_until_none(guard_end);
    stopped
}

/// Allows workers again after [`shutdown`] (the library was initialised anew, hot reload).
pub fn restart() {
    SHUTDOWN.store(false, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Every outcome that arrived, in order.
    fn drain(worker: &mut Worker) -> Vec<Outcome> {
        std::iter::from_fn(|| worker.next_outcome()).collect()
    }

    fn drain_until(worker: &mut Worker, count: usize) -> Vec<Outcome> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut out = Vec::new();
        while out.len() < count && Instant::now() < deadline {
            out.extend(drain(worker));
            std::thread::sleep(Duration::from_millis(5));
        }
        out
    }

    fn echo(code: i32) -> Job {
        Job::Echo(Outcome::Queried { report: Report { code, error: None }, address: String::new() })
    }

    fn code_of(outcome: &Outcome) -> i32 {
        match outcome {
            Outcome::Added { report, .. } | Outcome::Deleted { report, .. } | Outcome::Queried { report, .. } => report.code,
            Outcome::Discovered { code, .. } => *code,
            Outcome::DeviceFound(_) => -1,
        }
    }

    #[test]
    fn an_echo_with_nothing_ahead_needs_no_thread() {
        let mut worker = Worker::default();
        worker.submit(echo(17));
        assert!(worker.running.is_none());
        assert!(!worker.is_idle());
        let out = drain(&mut worker);
        assert_eq!(out.iter().map(code_of).collect::<Vec<_>>(), vec![17]);
        assert!(worker.is_idle());
    }

    #[test]
    fn network_jobs_and_echoes_come_back_in_call_order() {
        // Nothing listens on 127.0.0.1:9: each request is refused at once (HTTP_ERROR, 23).
        let gateway = Gateway::new("http://127.0.0.1:9/ctl", "urn:schemas-upnp-org:service:WANIPConnection:1", "127.0.0.1");
        let args = MappingArgs {
            port: 47000,
            internal_port: 47000,
            protocol: Protocol::Udp,
            description: "t".into(),
            lease_seconds: 0,
        };
        let mut worker = Worker::default();
        worker.submit(echo(22));
        worker.submit(Job::Add { gateway: gateway.clone(), args, proto: "UDP".into() });
        worker.submit(echo(17));
        worker.submit(Job::Query { gateway });
        worker.submit(echo(18));
        let out = drain_until(&mut worker, 5);
        assert_eq!(out.iter().map(code_of).collect::<Vec<_>>(), vec![22, 23, 17, 23, 18]);
        assert!(worker.is_idle());
        assert!(matches!(&out[1], Outcome::Added { port: 47000, proto, .. } if proto == "UDP"));
    }

    #[test]
    fn dropping_the_worker_stops_its_thread() {
        let gateway = Gateway::new("http://127.0.0.1:9/ctl", "urn:x", "127.0.0.1");
        let mut worker = Worker::default();
        worker.submit(Job::Query { gateway });
        let _ = drain_until(&mut worker, 1);
        let thread_alive = worker.running.as_ref().expect("a thread was started").thread_alive.clone();
        assert!(thread_alive.upgrade().is_some(), "the idle thread waits for the next job");
        let cancel = worker.cancel.clone();
        drop(worker);
        assert!(cancel.is_cancelled());
        let deadline = Instant::now() + Duration::from_secs(2);
        while thread_alive.upgrade().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(thread_alive.upgrade().is_none(), "the thread's function returned within 2 s of the drop");
    }

    /// Failed before cancellation reached the HTTP exchange: the thread went on waiting for
    /// the answer until the request's own 4 s bound.
    #[test]
    fn dropping_the_worker_interrupts_a_request_that_never_gets_an_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ctl", listener.local_addr().unwrap());
        let mut worker = Worker::default();
        worker.submit(Job::Query { gateway: Gateway::new(url, "urn:x", "127.0.0.1") });
        // Accept the connection (so the request is sent and waits for its answer), never answer.
        let (_held, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let thread_alive = worker.running.as_ref().expect("a thread was started").thread_alive.clone();
        assert!(thread_alive.upgrade().is_some(), "the request is in flight");
        let dropped = Instant::now();
        drop(worker);
        let bound = Duration::from_secs(2); // half the request's own 4 s bound
        while thread_alive.upgrade().is_some() && dropped.elapsed() < bound {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(thread_alive.upgrade().is_none(), "the thread still waited for the router {:?} after the drop", dropped.elapsed());
    }

    #[test]
    fn outcomes_can_be_taken_one_at_a_time() {
        let mut worker = Worker::default();
        worker.submit(echo(1));
        worker.submit(echo(2));
        worker.submit(echo(3));
        let mut codes = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while codes.len() < 3 && Instant::now() < deadline {
            match worker.next_outcome() {
                Some(outcome) => {
                    codes.push(code_of(&outcome));
                    assert_eq!(worker.is_idle(), codes.len() == 3, "idle only after the last one");
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        assert_eq!(codes, vec![1, 2, 3]);
    }
}
