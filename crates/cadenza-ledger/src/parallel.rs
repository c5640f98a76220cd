//! Scoped parallelism for the stateless part of block execution (signature batches, receipt
//! chains, transaction hashes). Results are returned in input order and never depend on the
//! number of threads, so determinism is untouched.

use std::sync::OnceLock;

/// Below this much total work, threads cost more than they save.
const MIN_PARALLEL_WEIGHT: usize = 2_048;
/// The most threads the ledger uses.
const MAX_THREADS: usize = 8;

fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_THREADS)
    })
}

/// Maps `f` over contiguous chunks of `items` of about equal total `weight`, in parallel, and
/// concatenates the results in order. `f` must return one result per item of its chunk.
pub(crate) fn map_chunks<T: Sync, R: Send>(
    items: &[T],
    weight: impl Fn(&T) -> usize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    let total: usize = items.iter().map(&weight).sum();
    let n = threads();
    if n == 1 || items.len() < 2 || total < MIN_PARALLEL_WEIGHT {
        return f(items);
    }
    let target = total.div_ceil(n);
    let mut bounds = Vec::with_capacity(n + 1);
    bounds.push(0);
    let mut acc = 0;
    for (i, item) in items.iter().enumerate() {
        acc += weight(item);
        if acc >= target && bounds.len() < n && i + 1 < items.len() {
            bounds.push(i + 1);
            acc = 0;
        }
    }
    bounds.push(items.len());
    let chunks: Vec<&[T]> = bounds.windows(2).map(|w| &items[w[0]..w[1]]).collect();
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks[1..]
            .iter()
            .map(|chunk| s.spawn(move || f(chunk)))
            .collect();
        let mut out = f(chunks[0]);
        for h in handles {
            out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        out
    })
}
