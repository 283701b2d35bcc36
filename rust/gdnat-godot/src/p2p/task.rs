//! One background thread per peer-to-peer operation, and the main-thread pump that hands its
//! messages to the Godot object that started it.
//!
//! - [`Task::spawn`] starts a named thread with a [`Waiter`] on the task's own cancel token
//!   and a bounded channel ([`CHANNEL_CAPACITY`]) for its messages. The thread sees only plain
//!   Rust data, never a Godot object.
//! - Dropping the [`Task`] (its object was freed, or a new operation replaced it) cancels the
//!   token: every network wait of the thread ends at once, and the thread ends.
//! - Every thread is recorded in a process-wide list; [`shutdown`] (library unload) cancels
//!   them all and joins them within [`SHUTDOWN_GUARD`], so none runs after the library is
//!   unloaded.
//! - [`pump`] runs on the main thread (a `godot::task::spawn` task woken on every
//!   `SceneTree.process_frame`): it holds only the object's [`InstanceId`], takes the messages
//!   out of the object and lets the object emit its signals, with no bind guard held. It ends
//!   when the object is freed or has nothing in flight. So every signal arrives on the main
//!   thread, at the earliest one frame after the call, and no frame ever waits for the network.

use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gdnat_io::{CancelToken, Waiter, Wake};
use godot::classes::{Engine, SceneTree};
use godot::obj::{Bounds, InstanceId};
use godot::prelude::*;

/// Messages a task may have waiting for the main thread; a full channel makes the thread wait
/// (bounded memory), and a dropped object ends the wait.
pub const CHANNEL_CAPACITY: usize = 64;

/// How long [`shutdown`] waits for the cancelled threads in all.
pub const SHUTDOWN_GUARD: Duration = Duration::from_secs(3);

struct Running {
    cancel: CancelToken,
    handle: JoinHandle<()>,
}

static RUNNING: Mutex<Vec<Running>> = Mutex::new(Vec::new());

/// The object side of one background operation: its cancel token and the receiving end of its
/// messages.
pub struct Task<M> {
    /// `None` once [`detach`](Task::detach)ed.
    cancel: Option<CancelToken>,
    messages: Receiver<M>,
    ended: bool,
    wake: Wake,
}

/// Why a task could not start.
#[derive(Debug)]
pub struct SpawnError(pub String);

impl<M: Send + 'static> Task<M> {
    /// Starts `work` on a new thread named `name`. `work` gets a waiter on the task's token and
    /// the sending end of the channel; it returns when its operation is done (or cancelled).
    pub fn spawn(name: &str, work: impl FnOnce(&Waiter, &SyncSender<M>) + Send + 'static) -> Result<Self, SpawnError> {
        let cancel = CancelToken::new();
        // Made here, so the waker is known before the thread runs (the caller never waits for it).
        let waiter = Waiter::new(&cancel).map_err(|error| SpawnError(format!("cannot create a poller: {error}")))?;
        let wake = waiter.waker();
        let (sender, messages) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || work(&waiter, &sender))
            .map_err(|error| SpawnError(format!("cannot start a thread: {error}")))?;
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget threads that ended (joining a finished thread does not wait).
        let (done, alive): (Vec<Running>, Vec<Running>) = std::mem::take(&mut *running).into_iter().partition(|r| r.handle.is_finished());
        *running = alive;
        for r in done {
            let _ = r.handle.join();
        }
        running.push(Running { cancel: cancel.clone(), handle });
        Ok(Self { cancel: Some(cancel), messages, ended: false, wake })
    }
}

impl<M> Task<M> {
    /// Takes every message waiting now, in order.
    pub fn take_messages(&mut self) -> Vec<M> {
        let mut out = Vec::new();
        loop {
            match self.messages.try_recv() {
                Ok(message) => out.push(message),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.ended = true;
                    break;
                }
            }
        }
        out
    }

    /// Whether the thread has ended and every message was taken.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Cancels the operation: its waits end at once (the thread then ends by itself).
    pub fn cancel(&self) {
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
        }
    }

    /// Ends the thread's current or next `sleep_until` early (not a cancellation): for a
    /// thread that sleeps between steps and must look at a flag now.
    pub fn wake(&self) {
        self.wake.wake();
    }

    /// Lets the thread finish on its own (for a graceful end such as leaving a room): its
    /// messages are dropped, it is not cancelled; [`shutdown`] still cancels it.
    pub fn detach(mut self) {
        self.cancel = None;
    }
}

impl<M> Drop for Task<M> {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Cancels every running task and joins the threads (library unload; no script runs then, so
/// nothing starts a new task meanwhile, and nothing needs re-enabling on a hot reload).
/// Returns how many threads were still running after [`SHUTDOWN_GUARD`] (0 unless something
/// is wrong).
pub fn shutdown() -> usize {
    let running = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(PoisonError::into_inner));
    for r in &running {
        r.cancel.cancel();
    }
    let deadline = Instant::now() + SHUTDOWN_GUARD;
    let mut left = 0;
    for r in running {
        while !r.handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if r.handle.is_finished() {
            let _ = r.handle.join();
        } else {
            left += 1;
        }
    }
    left
}

/// Threads of this module that have not ended yet (tests).
pub fn running() -> usize {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner).iter().filter(|r| !r.handle.is_finished()).count()
}

/// A Godot class whose operations run as [`Task`]s.
pub trait Pumped: GodotClass + Bounds<Declarer = godot::obj::bounds::DeclUser> {
    /// The plain-data message its tasks send.
    type Message;
    /// Takes the waiting messages; the flag says whether anything is still in flight.
    fn drain(&mut self) -> (Vec<Self::Message>, bool);
    /// Emits the signal for one message (main thread, no bind guard held).
    fn deliver(this: &mut Gd<Self>, message: Self::Message);
}

/// Starts the main-thread pump of object `id` (call it right after starting a task; a second
/// pump of the same object is harmless: it finds nothing and ends).
pub fn pump<T: Pumped>(id: InstanceId) {
    godot::task::spawn(pump_loop::<T>(id));
}

async fn pump_loop<T: Pumped>(id: InstanceId) {
    loop {
        let Some(tree) = Engine::singleton().get_main_loop().and_then(|l| l.try_cast::<SceneTree>().ok()) else {
            godot_error!("gdnat: peer-to-peer results need a SceneTree main loop; none is running.");
            return;
        };
        let frame = tree.signals().process_frame().to_fallible_future();
        drop(tree);
        if frame.await.is_err() {
            return;
        }
        let Ok(mut this) = Gd::<T>::try_from_instance_id(id) else {
            return; // freed: its task was cancelled by the drop
        };
        let (messages, busy) = this.bind_mut().drain();
        for message in messages {
            T::deliver(&mut this, message);
        }
        if !busy {
            return;
        }
    }
}

/// Parses an IP literal and a port from GDScript arguments.
pub fn socket_addr(address: &str, port: i64) -> Result<std::net::SocketAddr, String> {
    let ip: std::net::IpAddr = address
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("'{address}' is not an IP address (resolve host names first, e.g. with IP.resolve_hostname)"))?;
    let port = u16::try_from(port).ok().filter(|p| *p != 0).ok_or_else(|| format!("port {port} is outside 1-65535"))?;
    Ok(std::net::SocketAddr::new(ip, port))
}

/// Checks a local port argument (0 = any free port).
pub fn local_port(port: i64) -> Result<u16, String> {
    u16::try_from(port).map_err(|_| format!("local port {port} is outside 0-65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_ip_literals_and_ports_are_checked() {
        assert_eq!(socket_addr("198.18.0.10", 3478).unwrap().to_string(), "198.18.0.10:3478");
        assert_eq!(socket_addr("[::1]", 5).unwrap().to_string(), "[::1]:5");
        assert!(socket_addr("stun.example", 3478).unwrap_err().contains("not an IP address"));
        assert!(socket_addr("1.2.3.4", 0).unwrap_err().contains("outside 1-65535"));
        assert!(socket_addr("1.2.3.4", 70000).is_err());
        assert_eq!(local_port(0).unwrap(), 0);
        assert!(local_port(-1).is_err());
    }

    #[test]
    fn a_dropped_task_is_cancelled_and_its_thread_ends() {
        let (ended_tx, ended_rx) = mpsc::channel();
        let task: Task<u32> = Task::spawn("test-task", move |waiter, _| {
            // Sleeps until cancelled (bounded: 10 s).
            let outcome = waiter.sleep_until(Instant::now() + Duration::from_secs(10));
            let _ = ended_tx.send(outcome.is_err());
        })
        .unwrap();
        let start = Instant::now();
        drop(task);
        assert_eq!(ended_rx.recv_timeout(Duration::from_secs(5)), Ok(true), "the sleep ended by cancellation");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn messages_arrive_in_order_and_the_end_is_seen() {
        let mut task: Task<u32> = Task::spawn("test-order", |_, sender| {
            for n in 0..5 {
                let _ = sender.send(n);
            }
        })
        .unwrap();
        let mut got = Vec::new();
        let start = Instant::now();
        while !task.is_ended() && start.elapsed() < Duration::from_secs(5) {
            got.extend(task.take_messages());
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert!(task.is_ended());
    }
}
