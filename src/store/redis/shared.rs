//! Multiplexed connections shared by every request, for the topologies
//! whose client multiplexes (one server: a slot per core, a worker thread
//! keeping to its slot; a cluster: one connection that follows the slot
//! map by itself). Why not a pooled checkout per request: deadpool-redis
//! PINGs each connection it hands out, which doubled every command's round
//! trips (BENCHMARKS.md). A [`Connector`] (`connect.rs`) only makes
//! connections, within the create timeout. A slot's connection is dropped
//! when a request on it fails at the connection level (see `conn.rs`),
//! together with every one made before that request started, so the next
//! requests connect afresh; generations make sure a newer connection is
//! never dropped for an older one's failure.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::store::StoreError;

/// Makes the connections that [`Shared`] hands out.
pub(super) trait Connector: Clone + Send + Sync + 'static {
    type Conn: Clone + Send + Sync + 'static;
    fn connect(&self) -> impl Future<Output = Result<Self::Conn, StoreError>> + Send;
    fn close(&self);
}

/// A shared connection and its generation.
type Slot<C> = Mutex<Option<(u64, C)>>;

/// What a request knew of the shared connections when it got one, so that
/// a failure drops exactly the connections made before it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lease {
    /// The newest generation made when this lease was handed out (its
    /// own included).
    newest: u64,
}

pub(super) struct Shared<P: Connector> {
    connector: P,
    slots: Arc<[Slot<P::Conn>]>,
    generation: Arc<AtomicU64>,
}

impl<P: Connector> Clone for Shared<P> {
    fn clone(&self) -> Self {
        Shared {
            connector: self.connector.clone(),
            slots: self.slots.clone(),
            generation: self.generation.clone(),
        }
    }
}

/// This thread's slot number: worker threads spread over the slots.
fn thread_slot() -> usize {
    static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static THREAD: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
    THREAD.with(|t| *t)
}

impl<P: Connector> Shared<P> {
    pub(super) fn new(connector: P, slots: usize) -> Self {
        Shared {
            connector,
            slots: (0..slots.max(1)).map(|_| Mutex::new(None)).collect(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    fn slot(&self, i: usize) -> MutexGuard<'_, Option<(u64, P::Conn)>> {
        // A poisoned slot only ever held a connection: keep using it.
        self.slots[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This thread's shared connection, made now if the slot is empty.
    pub(super) async fn get(&self) -> Result<(Lease, P::Conn), StoreError> {
        let i = thread_slot() % self.slots.len();
        let newest = self.generation.load(Ordering::Relaxed);
        let lease = |generation: u64| Lease {
            newest: newest.max(generation),
        };
        if let Some((g, c)) = self.slot(i).as_ref() {
            return Ok((lease(*g), c.clone()));
        }
        let fresh = self.connector.connect().await?;
        let g = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let mut slot = self.slot(i);
        // Another request may have filled the slot meanwhile: use its connection.
        if let Some((g, c)) = slot.as_ref() {
            return Ok((lease(*g), c.clone()));
        }
        *slot = Some((g, fresh.clone()));
        Ok((lease(g), fresh))
    }

    /// Drops the leased connection, and every other slot's connection
    /// made before this lease was handed out: a connection-level failure
    /// usually means the server went away (a restart), and the others,
    /// idle on other worker threads, would each fail one request more.
    /// Connections made since are kept.
    pub(super) fn discard(&self, lease: Lease) {
        for i in 0..self.slots.len() {
            let mut slot = self.slot(i);
            if slot.as_ref().is_some_and(|(g, _)| *g <= lease.newest) {
                *slot = None;
            }
        }
    }

    /// Drops every shared connection and closes the pool behind them.
    pub(super) fn close(&self) {
        for i in 0..self.slots.len() {
            *self.slot(i) = None;
        }
        self.connector.close();
    }

    /// Connections open now.
    pub(super) fn open(&self) -> usize {
        (0..self.slots.len())
            .filter(|i| self.slot(*i).is_some())
            .count()
    }
}
