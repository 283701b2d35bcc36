//! Each Godot object's background work, modelled on an actor: typed [`Job`] messages go in,
//! typed [`Outcome`] messages come out, and the jobs of one object run one after the other in
//! call order (FIFO). An object holds at most [`MAX_QUEUED_JOBS`] jobs ([`QueueFull`]).
//!
//! The jobs of all objects run on one shared pool of at most [`MAX_WORKER_THREADS`] threads,
//! started on demand and ended as soon as no job waits; the pool runs at most one job of an
//! object at a time, and objects take turns (docs/resources.md). The pool sees only plain Rust
//! data (strings, numbers, [`Gateway`], [`DiscoverOptions`], a [`CancelToken`]); no Godot
//! object or engine call ever reaches it. Outcomes are collected on the main thread by
//! [`crate::delivery`].
//!
//! Dropping a [`Worker`] (its Godot object was freed) cancels its token: the running job's
//! network I/O (connect, HTTP write or read, SSDP wait) ends at once and its queued jobs are
//! dropped unrun. [`shutdown`] (called when the library is unloaded) does the same for every
//! job and joins every pool thread, so none is left running when the library is unloaded.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
#[cfg(test)]
use std::sync::Weak;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gdnat_igd::transport::spare;
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

impl Job {
    /// The control URL this job's exchanges go to, for a SOAP call on a gateway.
    fn control_url(&self) -> Option<&str> {
        match self {
            Self::Add { gateway, .. } | Self::Delete { gateway, .. } | Self::Query { gateway } => Some(&gateway.control_url),
            Self::Discover(_) | Self::Echo(_) => None,
        }
    }
}

impl Outcome {
    /// Whether this outcome ends a job (everything but `DeviceFound`).
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::DeviceFound(_))
    }
}

/// Most jobs one object may have queued or undelivered at a time. The next `*_async` call is
/// refused at once (see [`QueueFull`]). Large enough for a game that queues a thousand
/// add/delete pairs on one gateway (tests/bench); small enough that a runaway loop cannot
/// grow memory without bound (a job is a few hundred bytes).
pub const MAX_QUEUED_JOBS: usize = 4096;

/// Most worker threads at a time, for all objects together (the shared pool).
pub const MAX_WORKER_THREADS: usize = 8;

/// The result an `*_async` call returns when its object's queue is full:
/// `UPNP_RESULT_MEM_ALLOC_ERROR` (25). Nothing is queued and no signal follows.
pub const REFUSED_QUEUE_FULL: UpnpResult = UpnpResult::MemAllocError;

/// A job was refused because the object already has [`MAX_QUEUED_JOBS`] jobs waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

impl QueueFull {
    /// The error printed for a refused `class.method()` call.
    pub fn message(class: &str, method: &str) -> String {
        format!(
            "{class}.{method}() was refused (result {code}, UPNP_RESULT_MEM_ALLOC_ERROR; nothing is queued, \
             no signal follows): this object already has {MAX_QUEUED_JOBS} operations waiting. Await \
             their signals before queuing more.",
            code = REFUSED_QUEUE_FULL.code()
        )
    }
}

/// The background work of one Godot object: its queue of jobs (run by the shared pool, one at
/// a time, in call order) and the outcomes that came back.
#[derive(Default)]
pub struct Worker {
    /// Created by the first job that needs the network.
    mailbox: Option<Connection>,
    /// Outcomes known at call time while nothing was in flight: delivered first.
    ready: VecDeque<Outcome>,
    /// Jobs submitted whose terminal outcome was not taken yet.
    outstanding: usize,
    cancel: CancelToken,
}

/// The worker's side of its mailbox.
struct Connection {
    mailbox: Arc<Mailbox>,
    outcomes: Receiver<Outcome>,
}

/// One object's jobs as the pool sees them. The pool runs at most one job of a mailbox at a
/// time (`scheduled`), so an object's jobs run in call order.
struct Mailbox {
    cancel: CancelToken,
    state: Mutex<MailboxState>,
    outcomes: Sender<Outcome>,
    /// Ends when the last job of this mailbox has been run or dropped (the unit tests watch
    /// it to see that the work of a dropped worker stopped).
    #[cfg_attr(not(test), allow(dead_code))]
    busy: Mutex<Option<Arc<()>>>,
}

#[derive(Default)]
struct MailboxState {
    jobs: VecDeque<Job>,
    /// In the pool's ready queue, or being run by a pool thread.
    scheduled: bool,
}

impl Worker {
    /// Queues a job behind every earlier one. A job that cannot be run (the library is
    /// shutting down, or no thread could be started) is answered with `UNKNOWN_ERROR`.
    /// `Err(QueueFull)` when [`MAX_QUEUED_JOBS`] are waiting already: nothing is queued.
    pub fn submit(&mut self, job: Job) -> Result<(), QueueFull> {
        if self.outstanding >= MAX_QUEUED_JOBS {
            return Err(QueueFull);
        }
        self.outstanding += 1;
        if let Job::Echo(outcome) = job {
            if self.outstanding == 1 {
                // Nothing ahead of it: no thread needed.
                self.ready.push_back(outcome);
            } else {
                self.send(Job::Echo(outcome));
            }
            return Ok(());
        }
        self.send(job);
        Ok(())
    }

    /// Takes the next outcome that arrived, if any (outcomes come in call order).
    pub fn next_outcome(&mut self) -> Option<Outcome> {
        let outcome = match self.ready.pop_front() {
            Some(outcome) => Some(outcome),
            None => self.mailbox.as_ref().and_then(|c| c.outcomes.try_recv().ok()),
        };
        if outcome.as_ref().is_some_and(Outcome::is_terminal) {
            self.outstanding = self.outstanding.saturating_sub(1);
        }
        outcome
    }

    /// Whether no job is waiting for delivery.
    pub fn is_idle(&self) -> bool {
        self.outstanding == 0
    }

    fn send(&mut self, job: Job) {
        let connection = self.mailbox.get_or_insert_with(|| {
            let (outcomes_tx, outcomes_rx) = mpsc::channel::<Outcome>();
            let mailbox = Mailbox {
                cancel: self.cancel.clone(),
                state: Mutex::new(MailboxState::default()),
                outcomes: outcomes_tx,
                busy: Mutex::new(None),
            };
            Connection { mailbox: Arc::new(mailbox), outcomes: outcomes_rx }
        });
        if let Err(job) = pool_submit(&connection.mailbox, job) {
            self.ready.push_back(unrunnable(*job));
        }
    }

    /// Upgradable while this worker's mailbox has a job queued or running (tests).
    #[cfg(test)]
    fn busy(&self) -> Weak<()> {
        let mailbox = &self.mailbox.as_ref().expect("a job was sent").mailbox;
        lock(&mailbox.busy).as_ref().map(Arc::downgrade).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Ends the running job's network I/O at once; the pool drops the queued ones unrun.
        self.cancel.cancel();
    }
}

/// The outcome of a job that could not be run.
fn unrunnable(job: Job) -> Outcome {
    let report = || Report {
        code: UpnpResult::UnknownError.code(),
        error: Some("gdnat: the operation could not be run (no worker thread, or an internal error).".into()),
    };
    match job {
        Job::Discover(_) => {
            Outcome::Discovered { code: UpnpResult::UnknownError.code(), devices: Some(Vec::new()) }
        }
        Job::Add { args, proto, .. } => Outcome::Added { report: report(), port: args.port.into(), proto },
        Job::Delete { port, proto, .. } => Outcome::Deleted { report: report(), port: port.into(), proto },
        Job::Query { .. } => Outcome::Queried { report: report(), address: String::new() },
        Job::Echo(outcome) => outcome,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// The shared pool

/// The pool: mailboxes with jobs, waiting for a thread, and the threads that run them.
/// Threads start on demand, at most [`MAX_WORKER_THREADS`], and end as soon as no mailbox
/// waits (no idle thread stays behind: an application with nothing in flight has no gdnat
/// thread).
struct Pool {
    /// Set once the library is being unloaded: nothing new runs.
    shutdown: bool,
    ready: VecDeque<Arc<Mailbox>>,
    /// The mailboxes being run now, one per running thread (for [`shutdown`]'s cancel).
    running: Vec<Arc<Mailbox>>,
    threads: Vec<ThreadEntry>,
    /// Threads started and not yet ended.
    alive: usize,
}

static POOL: Mutex<Pool> =
    Mutex::new(Pool { shutdown: false, ready: VecDeque::new(), running: Vec::new(), threads: Vec::new(), alive: 0 });

struct ThreadEntry {
    handle: JoinHandle<()>,
    /// Disconnected when the thread's function has returned (it owns the only sender).
    done: Receiver<()>,
}

/// Appends `job` to `mailbox` and makes sure a pool thread will run it. `Err(job)` when the
/// library is shutting down or no thread could be started and none runs (boxed: only that rare
/// path pays for moving a whole job).
fn pool_submit(mailbox: &Arc<Mailbox>, job: Job) -> Result<(), Box<Job>> {
    let mut pool = lock(&POOL);
    if pool.shutdown {
        return Err(Box::new(job));
    }
    let mut state = lock(&mailbox.state);
    state.jobs.push_back(job);
    lock(&mailbox.busy).get_or_insert_with(|| Arc::new(()));
    if state.scheduled {
        return Ok(()); // a thread runs this mailbox, or it waits in the ready queue
    }
    state.scheduled = true;
    drop(state);
    pool.ready.push_back(Arc::clone(mailbox));
    // Threads alive but not running a mailbox are starting or between two jobs: each of them
    // takes one waiting mailbox. Start one more only when the waiting outnumber them.
    let unclaimed = pool.alive.saturating_sub(pool.running.len());
    if pool.alive >= MAX_WORKER_THREADS || pool.ready.len() <= unclaimed {
        return Ok(()); // a running thread takes it when its job is done
    }
    let (done_tx, done) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("gdnat-worker".into()).spawn(move || {
        let _done = done_tx;
        pool_thread();
    });
    match spawned {
        Ok(handle) => {
            pool.alive += 1;
            pool.threads.retain(|t| !t.handle.is_finished());
            pool.threads.push(ThreadEntry { handle, done });
            Ok(())
        }
        Err(_) if pool.alive > 0 => Ok(()),
        Err(_) => {
            pool.ready.pop_back();
            let mut state = lock(&mailbox.state);
            state.scheduled = false;
            let job = state.jobs.pop_back().expect("the job just queued");
            if state.jobs.is_empty() {
                *lock(&mailbox.busy) = None;
            }
            Err(Box::new(job))
        }
    }
}

/// A pool thread: runs one job of the first waiting mailbox, puts that mailbox back at the end
/// of the queue if it has more (objects take turns), and ends when no mailbox waits.
fn pool_thread() {
    loop {
        let mailbox = {
            let mut pool = lock(&POOL);
            match pool.ready.pop_front() {
                Some(mailbox) if !pool.shutdown => {
                    pool.running.push(Arc::clone(&mailbox));
                    mailbox
                }
                _ => {
                    pool.alive -= 1;
                    drop(pool);
                    spare::release();
                    return;
                }
            }
        };
        let job = {
            let mut state = lock(&mailbox.state);
            if mailbox.cancel.is_cancelled() {
                state.jobs.clear(); // the object was freed: its queued jobs never run
            }
            let job = state.jobs.pop_front();
            announce_next_exchange(job.as_ref(), state.jobs.front());
            job
        };
        if let Some(job) = job {
            execute(job, &mailbox.cancel, &mailbox.outcomes);
        }
        let mut pool = lock(&POOL);
        if let Some(index) = pool.running.iter().position(|m| Arc::ptr_eq(m, &mailbox)) {
            pool.running.swap_remove(index);
        }
        let mut state = lock(&mailbox.state);
        if mailbox.cancel.is_cancelled() || pool.shutdown {
            state.jobs.clear();
        }
        if state.jobs.is_empty() {
            state.scheduled = false;
            *lock(&mailbox.busy) = None;
        } else {
            drop(state);
            pool.ready.push_back(mailbox);
        }
    }
}

/// Tells the transport what follows `job` on this thread: when the object's next job is a
/// SOAP call too, `job`'s exchange opens that call's connection once its own request is sent,
/// so a queue of calls to a router does not wait for a connect per call
/// (`gdnat_igd::transport::spare`). A connection opened for `job` is closed unless `job` goes
/// to a router (a discovery can take seconds; the connection would only wait).
fn announce_next_exchange(job: Option<&Job>, next: Option<&Job>) {
    if job.and_then(Job::control_url).is_none() {
        spare::release();
    }
    spare::expect_next(next.and_then(Job::control_url));
}

/// Runs one job and sends its outcome. A panic inside the core is caught and reported as
/// `UNKNOWN_ERROR`, so the object still gets its signal and the thread keeps serving.
fn execute(job: Job, cancel: &CancelToken, outcomes: &Sender<Outcome>) {
    // The job is lent to `perform`, so that a panic's fallback is made from it only when needed
    // (a copy of every job, gateway and all, was several allocations per queued call).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| perform(&job, cancel, outcomes)));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(_) => unrunnable(job),
    };
    if !cancel.is_cancelled() {
        let _ = outcomes.send(outcome);
    }
}

fn perform(job: &Job, cancel: &CancelToken, outcomes: &Sender<Outcome>) -> Outcome {
    test_hooks::panic_if_requested(Site::Worker);
    match job {
        Job::Discover(options) => discover(options, cancel, outcomes),
        Job::Add { gateway, args, proto } => Outcome::Added {
            report: operations::add_port_mapping(gateway, args, cancel),
            port: args.port.into(),
            proto: proto.clone(),
        },
        Job::Delete { gateway, port, protocol, proto } => Outcome::Deleted {
            report: operations::delete_port_mapping(gateway, *port, *protocol, cancel),
            port: (*port).into(),
            proto: proto.clone(),
        },
        Job::Query { gateway } => {
            let (report, address) = operations::query_external_address(gateway, cancel);
            Outcome::Queried { report, address }
        }
        Job::Echo(outcome) => outcome.clone(),
    }
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

/// Stops the pool: nothing new runs, the running jobs are cancelled (which ends their network
/// I/O at once), the queued ones are dropped unrun, and the threads are joined. The core's own
/// helper threads (device validations of a cancelled discovery, [`gdnat_igd::helper_threads`])
/// are waited for too. Waits on the threads themselves (no polling), at most
/// [`SHUTDOWN_GUARD`].
pub fn shutdown() -> Stopped {
    let entries = {
        let mut pool = lock(&POOL);
        pool.shutdown = true;
        for mailbox in pool.ready.drain(..) {
            mailbox.cancel.cancel();
            // Dropped unrun; unscheduled, so that nothing is stuck should the library be
            // initialised again (hot reload).
            let mut state = lock(&mailbox.state);
            state.jobs.clear();
            state.scheduled = false;
            *lock(&mailbox.busy) = None;
        }
        for mailbox in &pool.running {
            mailbox.cancel.cancel();
        }
        std::mem::take(&mut pool.threads)
    };
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
    lock(&POOL).shutdown = false;
}

/// Pool threads running now (tests).
#[cfg(test)]
fn pool_threads() -> usize {
    lock(&POOL).alive
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
        worker.submit(echo(17)).unwrap();
        assert!(worker.mailbox.is_none());
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
        worker.submit(echo(22)).unwrap();
        worker.submit(Job::Add { gateway: gateway.clone(), args, proto: "UDP".into() }).unwrap();
        worker.submit(echo(17)).unwrap();
        worker.submit(Job::Query { gateway }).unwrap();
        worker.submit(echo(18)).unwrap();
        let out = drain_until(&mut worker, 5);
        assert_eq!(out.iter().map(code_of).collect::<Vec<_>>(), vec![22, 23, 17, 23, 18]);
        assert!(worker.is_idle());
        assert!(matches!(&out[1], Outcome::Added { port: 47000, proto, .. } if proto == "UDP"));
    }

    #[test]
    fn queued_calls_to_one_router_find_their_connection_open_before_the_previous_answer() {
        use std::io::Write;
        let hand = gdnat_simgw::hand::HandRouter::bind_loopback().unwrap();
        let service = "urn:schemas-upnp-org:service:WANIPConnection:1";
        let gateway = Gateway::new(hand.url("/ctl"), service, "127.0.0.1");
        const CALLS: usize = 3;
        let router = std::thread::spawn(move || {
            let body = format!(
                "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
                 <u:AddPortMappingResponse xmlns:u=\"{service}\"/></s:Body></s:Envelope>"
            );
            let answer = format!("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            // Whether the next call's connection was there before each answer went out.
            let mut opened_ahead = Vec::new();
            let mut current = hand.accept_within(Duration::from_secs(10)).expect("the first call connects");
            for call in 0..CALLS {
                let request = gdnat_simgw::hand::read_request(&mut current).expect("a whole request");
                assert!(request.header("SOAPAction").is_some_and(|action| action.contains("#AddPortMapping")), "{request:?}");
                let next = if call + 1 < CALLS { hand.accept_within(Duration::from_secs(2)) } else { None };
                opened_ahead.push(next.is_some());
                current.write_all(answer.as_bytes()).unwrap();
                drop(std::mem::replace(&mut current, match next {
                    Some(next) => next,
                    None if call + 1 < CALLS => hand.accept_within(Duration::from_secs(10)).expect("the next call connects"),
                    None => break,
                }));
            }
            // Nothing is left open for a call that never comes.
            (opened_ahead, hand.accept_within(Duration::from_millis(100)).is_none())
        });
        let mut worker = Worker::default();
        for port in 0..CALLS as u16 {
            let args = MappingArgs {
                port: 47100 + port,
                internal_port: 47100 + port,
                protocol: Protocol::Udp,
                description: "t".into(),
                lease_seconds: 0,
            };
            worker.submit(Job::Add { gateway: gateway.clone(), args, proto: "UDP".into() }).unwrap();
        }
        let out = drain_until(&mut worker, CALLS);
        assert_eq!(out.iter().map(code_of).collect::<Vec<_>>(), vec![0; CALLS]);
        let (opened_ahead, nothing_left) = router.join().unwrap();
        assert_eq!(opened_ahead, vec![true, true, false], "each call but the last opened the next one's connection");
        assert!(nothing_left);
    }

    /// A server that accepts connections and never answers; returns its control URL and a
    /// channel that gets one message per request that arrived (a connection opened ahead for a
    /// queued call, which carries nothing yet, sends none).
    fn silent_server() -> (String, mpsc::Receiver<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ctl", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(64) {
                let Ok(mut stream) = stream else { continue };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    if std::io::Read::read(&mut stream, &mut [0u8; 512]).is_ok_and(|read| read > 0) {
                        let _ = tx.send(());
                        // Held open, unanswered, until the client gives up.
                        let _ = std::io::Read::read(&mut stream, &mut [0u8; 512]);
                    }
                });
            }
        });
        (url, rx)
    }

    /// Failed before cancellation reached the HTTP exchange: the thread went on waiting for
    /// the answer until the request's own 4 s bound.
    #[test]
    fn dropping_the_worker_interrupts_its_request_and_drops_its_queued_jobs() {
        let (url, accepted) = silent_server();
        let mut worker = Worker::default();
        worker.submit(Job::Query { gateway: Gateway::new(url.clone(), "urn:x", "127.0.0.1") }).unwrap();
        worker.submit(Job::Query { gateway: Gateway::new(url, "urn:x", "127.0.0.1") }).unwrap();
        accepted.recv_timeout(Duration::from_secs(5)).expect("the first request arrived");
        std::thread::sleep(Duration::from_millis(50));
        let busy = worker.busy();
        assert!(busy.upgrade().is_some(), "the request is in flight");
        let dropped = Instant::now();
        drop(worker);
        let bound = Duration::from_secs(2); // half the request's own 4 s bound
        while busy.upgrade().is_some() && dropped.elapsed() < bound {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(busy.upgrade().is_none(), "the work still waited for the router {:?} after the drop", dropped.elapsed());
        assert!(accepted.recv_timeout(Duration::from_millis(300)).is_err(), "the queued request was never sent");
    }

    #[test]
    fn a_full_queue_refuses_the_next_job_and_takes_jobs_again_once_results_are_taken() {
        let mut worker = Worker::default();
        for _ in 0..MAX_QUEUED_JOBS {
            worker.submit(echo(1)).unwrap();
        }
        assert_eq!(worker.submit(echo(2)), Err(QueueFull));
        let message = QueueFull::message("NatUPNP", "add_port_mapping_async");
        assert!(message.contains("result 25, UPNP_RESULT_MEM_ALLOC_ERROR") && message.contains("4096"), "{message}");
        let first = drain_until(&mut worker, 1);
        assert!(!first.is_empty());
        worker.submit(echo(3)).expect("room again after a result was taken");
        let rest = drain_until(&mut worker, MAX_QUEUED_JOBS + 1 - first.len());
        assert_eq!(first.len() + rest.len(), MAX_QUEUED_JOBS + 1);
        assert_eq!(code_of(rest.last().unwrap()), 3, "the job after the refusal came last, in order");
    }

    #[test]
    fn many_objects_share_at_most_the_pool_cap_of_threads_and_each_keeps_its_order() {
        let (url, _accepted) = silent_server();
        // Each object: a request that hangs (bounded by 300 ms), then an echo.
        let mut workers: Vec<Worker> = (0..20).map(|_| Worker::default()).collect();
        let mut gateway = Gateway::new(url, "urn:x", "127.0.0.1");
        gateway.limits.total_timeout = Duration::from_millis(300);
        gateway.limits.connect_timeout = Duration::from_millis(300);
        for (i, worker) in workers.iter_mut().enumerate() {
            worker.submit(Job::Query { gateway: gateway.clone() }).unwrap();
            worker.submit(echo(i as i32)).unwrap();
        }
        let mut peak = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut results: Vec<Vec<i32>> = vec![Vec::new(); workers.len()];
        while results.iter().any(|r| r.len() < 2) && Instant::now() < deadline {
            peak = peak.max(pool_threads());
            for (worker, got) in workers.iter_mut().zip(results.iter_mut()) {
                got.extend(drain(worker).iter().map(code_of));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(peak <= MAX_WORKER_THREADS, "peak pool threads {peak}");
        for (i, got) in results.iter().enumerate() {
            assert_eq!(got, &vec![23, i as i32], "object {i}: the timed-out query, then its echo");
        }
    }

    #[test]
    fn outcomes_can_be_taken_one_at_a_time() {
        let mut worker = Worker::default();
        worker.submit(echo(1)).unwrap();
        worker.submit(echo(2)).unwrap();
        worker.submit(echo(3)).unwrap();
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
