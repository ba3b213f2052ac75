//! Connections lent to one caller at a time, for writes that `WAIT` for
//! replicas (`acked.rs`): `WAIT` blocks the connection it runs on, so it
//! must not be one that verifies share. Idle connections are kept and
//! handed out again without a PING (deadpool's checkout PINGs, and in a
//! cluster that PING can stall on a dead node after a failover); a loan
//! whose connection failed is dropped instead (`conn.rs` decides).

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::shared::Connector;
use crate::store::StoreError;

pub(super) struct Exclusive<P: Connector> {
    connector: P,
    idle: Arc<Mutex<Vec<P::Conn>>>,
    /// At most this many connections lent out at once.
    permits: Arc<Semaphore>,
    size: usize,
}

impl<P: Connector> Clone for Exclusive<P> {
    fn clone(&self) -> Self {
        Exclusive {
            connector: self.connector.clone(),
            idle: self.idle.clone(),
            permits: self.permits.clone(),
            size: self.size,
        }
    }
}

/// One lent connection; returned to the idle list when dropped, unless
/// [`Loan::discard`]ed.
pub(super) struct Loan<P: Connector> {
    conn: Option<P::Conn>,
    idle: Arc<Mutex<Vec<P::Conn>>>,
    _permit: OwnedSemaphorePermit,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<P: Connector> Exclusive<P> {
    pub(super) fn new(connector: P, size: usize) -> Self {
        Exclusive {
            connector,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(size.max(1))),
            size: size.max(1),
        }
    }

    /// An idle connection, or a new one (the caller bounds the wait).
    pub(super) async fn get(&self) -> Result<Loan<P>, StoreError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the Redis store is closed".into()))?;
        let idle = lock(&self.idle).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.connector.connect().await?,
        };
        Ok(Loan {
            conn: Some(conn),
            idle: self.idle.clone(),
            _permit: permit,
        })
    }

    pub(super) fn close(&self) {
        self.permits.close();
        lock(&self.idle).clear();
        self.connector.close();
    }

    /// (open, idle) connections: the idle ones and those lent out.
    pub(super) fn figures(&self) -> (usize, usize) {
        let idle = lock(&self.idle).len();
        let lent = self.size.saturating_sub(self.permits.available_permits());
        (idle + lent, idle)
    }
}

impl<P: Connector> Loan<P> {
    pub(super) fn conn(&mut self) -> Option<&mut P::Conn> {
        self.conn.as_mut()
    }

    pub(super) fn conn_ref(&self) -> Option<&P::Conn> {
        self.conn.as_ref()
    }

    /// Drops the connection instead of returning it.
    pub(super) fn discard(&mut self) {
        self.conn = None;
    }
}

impl<P: Connector> Drop for Loan<P> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            lock(&self.idle).push(c);
        }
    }
}
