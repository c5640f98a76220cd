//! Admission's CPU work (verifying the signatures of submitted and gossiped transactions) on a
//! few threads of its own.
//!
//! Why: under load, verifying incoming transactions takes most of a validator's CPU. Run as one
//! blocking task per API request, it spreads over as many threads as there are requests in
//! flight (and gossip's reader adds one more), and the kernel's fair scheduler shares the cores
//! per thread: every block then waits behind all of them. Here at most [`Pool`]'s few threads
//! verify at once, and the rest of admission waits its turn in the queue, so consensus's
//! threads (proposing, executing, voting, committing blocks) keep their share. Admission
//! slowing under overload is back-pressure: a client's batch is answered later, a peer's gossip
//! is read later.
//!
//! Measured (`cadenza-bench node`, four validators on 2 cores, everything posted at once): the
//! p99 of finality fell from 500-750 ms to 350-600 ms. Running these threads at a lower priority
//! (`nice` 5 or 10) was tried as well: no better p99, and a worse median (a block's
//! transactions then reach the other validators' pools later, so they verify more of them in
//! the block).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run admission jobs in the order they come. The queue is not bounded here: each
/// caller waits for its job, and callers are bounded (the HTTP API's concurrency limit, one
/// gossip reader per validator).
#[derive(Debug)]
pub struct Pool {
    jobs: mpsc::Sender<Job>,
}

/// A job that panicked (its thread goes on), or a pool with no threads left.
#[derive(Debug, thiserror::Error)]
#[error("an admission job panicked")]
pub struct Panicked;

impl Pool {
    /// A pool of `threads` (at least one) named `cadenza-admit-N`.
    pub fn new(threads: usize) -> std::io::Result<Pool> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("cadenza-admit-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return, // the pool is gone
                        };
                        job();
                    }
                })?;
        }
        Ok(Pool { jobs: tx })
    }

    /// Runs `f` on one of the pool's threads and waits (asynchronously) for its result.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Panicked> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panicking job drops `tx`, which tells the caller.
            if let Ok(result) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
                let _ = tx.send(result);
            }
        });
        self.jobs.send(job).map_err(|_| Panicked)?;
        rx.await.map_err(|_| Panicked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pool_and_a_panic_is_reported() {
        let pool = Pool::new(2).expect("threads");
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("ran");
        assert!(name.is_some_and(|n| n.starts_with("cadenza-admit-")));
        let panicked = pool.run(|| -> u32 { panic!("boom") }).await;
        assert!(panicked.is_err());
        // The pool goes on after a job panicked.
        let sums: Vec<u64> =
            futures::future::join_all((0..8u64).map(|i| pool.run(move || (0..=i).sum::<u64>())))
                .await
                .into_iter()
                .map(|r| r.expect("ran"))
                .collect();
        assert_eq!(sums, vec![0, 1, 3, 6, 10, 15, 21, 28]);
    }
}
