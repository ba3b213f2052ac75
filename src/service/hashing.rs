//! The hashing pool: a fixed set of threads that run Argon2id checks, each
//! owning its working memory (allocated once, see `HashScratch`), fed by a
//! bounded queue. A full queue refuses at once (`ServiceError::Busy`)
//! instead of making every caller wait behind a flood, and one source
//! address may hold at most half the threads (at least one) queued or
//! running, so a flood from one address always leaves a thread for others.
//!
//! Why not `spawn_blocking`: its pool grows to hundreds of threads under a
//! credential flood, each with its own malloc arena keeping its freed
//! 19 MiB blocks, so RSS climbed to ~900 MB and stayed there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use super::ServiceError;
use crate::domain::HashScratch;

/// One check: runs on a hashing thread with that thread's memory.
type Job = Box<dyn FnOnce(&mut HashScratch) -> bool + Send>;

type Queued = (Job, oneshot::Sender<bool>);

pub(super) struct HashingPool {
    queue: SyncSender<Queued>,
    /// Checks queued or running per source; an entry leaves at zero, so
    /// the map holds at most as many entries as checks in flight.
    in_flight: Mutex<HashMap<IpAddr, usize>>,
    per_source: usize,
}

/// One source's place in the pool; gives it back when dropped.
struct Slot<'a> {
    pool: &'a HashingPool,
    source: IpAddr,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut map = self.pool.in_flight_map();
        if let Some(n) = map.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.source);
            }
        }
    }
}

impl HashingPool {
    /// `threads` hashing threads; at most `max_waiting` checks wait for one,
    /// and one source holds at most `per_source` (0: half the threads).
    pub(super) fn new(
        threads: usize,
        max_waiting: usize,
        per_source: usize,
    ) -> std::io::Result<Self> {
        let (queue, jobs) = sync_channel::<Queued>(max_waiting);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("tessera-argon2-{i}"))
                .spawn(move || work(&jobs))?;
        }
        Ok(HashingPool {
            queue,
            in_flight: Mutex::new(HashMap::new()),
            per_source: match per_source {
                0 => (threads / 2).max(1),
                n => n,
            },
        })
    }

    fn in_flight_map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// [`run`](Self::run) for a check asked for by `source`: `Busy` at once
    /// when that source already holds its share of the pool.
    pub(super) async fn run_for(
        &self,
        source: IpAddr,
        job: impl FnOnce(&mut HashScratch) -> bool + Send + 'static,
    ) -> Result<bool, ServiceError> {
        let slot = {
            let mut map = self.in_flight_map();
            let n = map.entry(source).or_default();
            if *n >= self.per_source {
                return Err(ServiceError::Busy);
            }
            *n += 1;
            Slot { pool: self, source }
        };
        let answer = self.run(job).await;
        drop(slot);
        answer
    }

    /// Queues `job` for a hashing thread and returns its answer to come;
    /// `Busy` at once when the queue is full.
    pub(super) fn submit(
        &self,
        job: impl FnOnce(&mut HashScratch) -> bool + Send + 'static,
    ) -> Result<oneshot::Receiver<bool>, ServiceError> {
        let (tx, rx) = oneshot::channel();
        match self.queue.try_send((Box::new(job), tx)) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(ServiceError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(ServiceError::HashingStopped),
        }
    }

    /// Runs `job` on a hashing thread; `Busy` at once when the queue is full.
    pub(super) async fn run(
        &self,
        job: impl FnOnce(&mut HashScratch) -> bool + Send + 'static,
    ) -> Result<bool, ServiceError> {
        self.submit(job)?
            .await
            .map_err(|_| ServiceError::HashingStopped)
    }
}

/// A hashing thread: takes jobs until the pool is dropped.
fn work(jobs: &Mutex<Receiver<Queued>>) {
    let mut scratch = HashScratch::default();
    loop {
        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((job, reply)) = next else {
            return;
        };
        // The caller may have gone (client disconnected): nothing to tell.
        let _ = reply.send(job(&mut scratch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = HashingPool::new(1, 1, 0).unwrap();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (release, held) = std::sync::mpsc::channel::<()>();
        // Occupy the one thread (and know it started), then fill the one slot.
        let first = pool
            .submit(move |_| started_tx.send(()).is_ok() && held.recv().is_ok())
            .unwrap();
        started.recv().unwrap();
        let queued = pool.submit(|_| true).unwrap();
        assert!(matches!(pool.submit(|_| true), Err(ServiceError::Busy)));
        release.send(()).unwrap();
        assert!(first.await.unwrap());
        assert!(queued.await.unwrap());
        assert!(pool.run(|_| true).await.unwrap(), "room again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_source_holds_at_most_half_the_threads() {
        let pool = Arc::new(HashingPool::new(2, 8, 0).unwrap());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move {
                let job =
                    move |_: &mut HashScratch| started_tx.send(()).is_ok() && held.recv().is_ok();
                pool.run_for(a, job).await
            }
        });
        started.recv().unwrap();
        assert!(matches!(
            pool.run_for(a, |_| true).await,
            Err(ServiceError::Busy)
        ));
        assert!(
            pool.run_for(b, |_| true).await.unwrap(),
            "another source gets a thread"
        );
        release.send(()).unwrap();
        assert!(first.await.unwrap().unwrap());
        assert!(pool.run_for(a, |_| true).await.unwrap(), "its slot is back");
        assert!(pool.in_flight_map().is_empty());
    }
}
