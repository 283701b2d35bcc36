//! A keeper on its own thread, driven by typed messages: [`Command`]s in, [`Event`]s out, both
//! on bounded channels. The owner (the CLI's main thread, later the Godot node polling once per
//! frame) never waits on the network. Dropping the worker stops it: the mapping is deleted
//! within the backend's call bound, then the thread ends; if that takes longer than
//! [`STOP_GRACE`], the worker's cancel token is cancelled so every wait ends at once.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use gdnat_io::CancelToken;

use crate::backend::{Backend, MapRequest, MapperError};
use crate::keeper::{Event, Keeper, State};
use crate::schedule::Jitter;

/// Commands and events queued at most.
pub const CHANNEL_CAPACITY: usize = 64;
/// How long a stop (delete included) may take before the worker's waits are cancelled.
pub const STOP_GRACE: Duration = Duration::from_secs(6);
/// The longest single wait of the worker loop (a bound, not a poll: commands wake it at once).
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// What the owner asks of the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Renew now (or map again if there is no mapping).
    Refresh,
    /// Delete the mapping and end the thread.
    Stop,
}

/// Makes the backend on the worker thread (probing or discovery may block), with the worker's
/// cancel token.
pub type BackendFactory = Box<dyn FnOnce(&CancelToken) -> Result<Box<dyn Backend + Send>, MapperError> + Send>;

/// Sends commands to a worker from any thread.
#[derive(Clone, Debug)]
pub struct Commander(SyncSender<Command>);

impl Commander {
    /// Queues a command; `false` when the worker has ended or its queue is full.
    pub fn send(&self, command: Command) -> bool {
        self.0.try_send(command).is_ok()
    }
}

/// A running mapping worker.
pub struct MapperWorker {
    commands: SyncSender<Command>,
    events: Receiver<Event>,
    cancel: CancelToken,
    thread: Option<JoinHandle<()>>,
}

impl MapperWorker {
    /// Starts a thread that makes the backend, maps `request`, keeps it renewed and reports
    /// every step as an [`Event`].
    pub fn spawn(factory: BackendFactory, request: MapRequest) -> std::io::Result<Self> {
        let (commands, command_rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let (event_tx, events) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let cancel = CancelToken::new();
        let token = cancel.child();
        let thread = thread::Builder::new().name("gdnat-mapper".into()).spawn(move || run(factory, request, &token, &command_rx, &event_tx))?;
        Ok(Self { commands, events, cancel, thread: Some(thread) })
    }

    /// A handle that sends commands from another thread (a signal handler, a UI callback).
    pub fn commander(&self) -> Commander {
        Commander(self.commands.clone())
    }

    /// Queues a command; `false` when the worker has ended or its queue is full.
    pub fn send(&self, command: Command) -> bool {
        self.commands.try_send(command).is_ok()
    }

    /// The events, in order (read them with `try_recv` each frame or `recv_timeout`).
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// Stops and waits (at most [`STOP_GRACE`], then cancels, then joins); returns the events
    /// not read yet, ending with [`Event::Released`] when the mapping was removed.
    pub fn stop(mut self) -> Vec<Event> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Vec<Event> {
        let _ = self.commands.try_send(Command::Stop);
        let mut rest = Vec::new();
        let deadline = Instant::now() + STOP_GRACE;
        let Some(thread) = self.thread.take() else { return rest };
        loop {
            match self.events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(event) => rest.push(event),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    self.cancel.cancel();
                    rest.extend(self.events.try_iter());
                    break;
                }
            }
        }
        let _ = thread.join();
        rest.extend(self.events.try_iter());
        rest
    }
}

impl Drop for MapperWorker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn emit(events: &SyncSender<Event>, batch: Vec<Event>) {
    for event in batch {
        // A full queue means the owner stopped reading; the worker must not block on it.
        if let Err(TrySendError::Disconnected(_)) = events.try_send(event) {
            return;
        }
    }
}

fn run(factory: BackendFactory, request: MapRequest, cancel: &CancelToken, commands: &Receiver<Command>, events: &SyncSender<Event>) {
    emit(events, vec![Event::StateChanged(State::Discovering)]);
    let backend = match factory(cancel) {
        Ok(backend) => backend,
        Err(error) => {
            emit(events, vec![Event::StateChanged(State::Failed), Event::Failed(error), Event::StateChanged(State::Released), Event::Released]);
            return;
        }
    };
    let mut keeper = Keeper::new(backend, request, Jitter::from_os());
    emit(events, keeper.start(Instant::now()));
    loop {
        let wait = keeper.deadline().map_or(MAX_WAIT, |deadline| deadline.saturating_duration_since(Instant::now())).min(MAX_WAIT);
        match commands.recv_timeout(wait) {
            Ok(Command::Refresh) => emit(events, keeper.refresh(Instant::now())),
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => emit(events, keeper.tick(Instant::now())),
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    emit(events, keeper.stop());
}
