//! The `replicate` benchmark: blob replication throughput between two nodes over loopback.
//!
//! Setup (not timed): a blob of pseudo-random bytes (64 MiB by default) imported into node A's
//! `BlobStore`, and two `cadenza-blobs` iroh replicators on 127.0.0.1. Timed: node B fetching the
//! blob from A, from connect to the verified blob fsynced in B's store (a fresh B each run). The
//! reference, measured in the same run: the same bytes copied over a plain tokio TCP connection on
//! 127.0.0.1 (written in 256 KiB pieces, read and discarded), the loopback limit. The best of
//! R runs of each is reported: on a shared machine other work only ever adds time.
//!
//! Informative lines: the store's verified read rate for the whole blob and for 64 KiB ranges at
//! random offsets (what HTTP streaming costs before any HTTP).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cadenza_blobs::{BlobStore, Replicator, start_iroh};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::json::{Line, Num};
use crate::reference::per_second;
use crate::rng::SplitMix64;

/// The benchmark's name in its output lines.
const BENCH: &str = "replicate";
/// Bytes per TCP write of the reference.
const TCP_PIECE: usize = 256 * 1024;
/// Length of the ranged reads.
const RANGE_LEN: u64 = 64 * 1024;

/// The usage text of `replicate`.
pub const USAGE: &str = "\
usage: cadenza-bench replicate [--mib N] [--runs R]

Fetches an N MiB blob (default 64) from one cadenza-blobs node to another over iroh on
127.0.0.1, verified and fsynced, best of R runs (default 3), next to a plain tokio TCP copy of
the same bytes over 127.0.0.1 measured in the same run. Also reports the store's verified read
rates. JSON lines go to stdout, progress to stderr.";

/// The `replicate` subcommand.
pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (mib, runs) = match parse(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("cadenza-bench replicate: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cadenza-bench replicate: FAILED: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scratch =
        std::env::temp_dir().join(format!("cadenza-bench-replicate-{}", std::process::id()));
    let result = runtime.block_on(run(&scratch, mib, runs));
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cadenza-bench replicate: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<(usize, usize), String> {
    let (mut mib, mut runs) = (64usize, 3usize);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--mib" => &mut mib,
            "--runs" => &mut runs,
            "--json" => continue,
            other => return Err(format!("unknown option `{other}`")),
        };
        *slot = it
            .next()
            .and_then(|v| v.parse().ok())
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("{flag} needs a positive number"))?;
    }
    if mib > 4096 {
        return Err("--mib must be at most 4096".into());
    }
    Ok((mib, runs))
}

async fn run(scratch: &std::path::Path, mib: usize, runs: usize) -> Result<Vec<Line>, String> {
    let len = mib << 20;
    let mut rng = SplitMix64::new(0xB10B_5EED);
    let bytes: Vec<u8> = (0..len / 8)
        .flat_map(|_| rng.next_u64().to_le_bytes())
        .collect();
    let local: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let store_a = BlobStore::open(&scratch.join("a")).map_err(|e| e.to_string())?;
    let id = store_a.put(&bytes).map_err(|e| e.to_string())?;
    let node_a = start_iroh(store_a.clone(), local)
        .await
        .map_err(|e| e.to_string())?;

    eprintln!("[replicate] fetching {mib} MiB from A to B over iroh, {runs} runs");
    let mut best_fetch = Duration::MAX;
    for r in 0..runs {
        let dir: PathBuf = scratch.join(format!("b{r}"));
        let store_b = BlobStore::open(&dir).map_err(|e| e.to_string())?;
        let node_b = start_iroh(store_b.clone(), local)
            .await
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let got = node_b
            .fetch(id, &node_a.addr())
            .await
            .map_err(|e| e.to_string())?;
        let took = start.elapsed();
        if got != len as u64
            || store_b.read_range(&id, 0, 64).map_err(|e| e.to_string())? != bytes[..64]
        {
            return Err("B's copy is not the blob".into());
        }
        eprintln!("[replicate]   run {r}: {:.1} ms", took.as_secs_f64() * 1e3);
        best_fetch = best_fetch.min(took);
        node_b.shutdown().await;
        drop(store_b);
        let _ = std::fs::remove_dir_all(&dir);
    }
    node_a.shutdown().await;

    eprintln!("[replicate] copying the same bytes over plain TCP on 127.0.0.1");
    let mut best_tcp = Duration::MAX;
    let shared = std::sync::Arc::new(bytes);
    for _ in 0..runs {
        best_tcp = best_tcp.min(tcp_copy(shared.clone()).await?);
    }

    eprintln!("[replicate] verified reads from the store");
    let read_whole = {
        let mut best = Duration::MAX;
        for _ in 0..runs {
            let start = Instant::now();
            let out = store_a
                .read_range(&id, 0, u64::MAX)
                .map_err(|e| e.to_string())?;
            best = best.min(start.elapsed());
            std::hint::black_box(out);
        }
        best
    };
    let (ranges, range_time) = {
        let mut rng = SplitMix64::new(7);
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < Duration::from_secs(1) {
            let offset = rng.below(len as u64 - RANGE_LEN);
            let out = store_a
                .read_range(&id, offset, RANGE_LEN)
                .map_err(|e| e.to_string())?;
            std::hint::black_box(out);
            n += 1;
        }
        (n, start.elapsed())
    };

    Ok(vec![
        Line::against(
            BENCH,
            "bytes_per_s",
            Num::rounded(per_second(len, best_fetch)),
            "loopback_tcp_bytes_per_s",
            Num::rounded(per_second(len, best_tcp)),
        ),
        Line::info(BENCH, "fetch_ms", Num::millis(best_fetch)),
        Line::info(BENCH, "blob_bytes", Num::Int(len as u64)),
        Line::info(
            BENCH,
            "read_whole_bytes_per_s",
            Num::rounded(per_second(len, read_whole)),
        ),
        Line::info(
            BENCH,
            "read_64KiB_ranges_per_s",
            Num::rounded(per_second(ranges, range_time)),
        ),
    ])
}

/// Copies `bytes` over one TCP connection on 127.0.0.1 and returns the time from connect to the
/// last byte read.
async fn tcp_copy(bytes: std::sync::Arc<Vec<u8>>) -> Result<Duration, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("tcp bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let sender = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await?;
        for piece in bytes.chunks(TCP_PIECE) {
            sock.write_all(piece).await?;
        }
        sock.shutdown().await
    });
    let start = Instant::now();
    let mut sock = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("tcp connect: {e}"))?;
    let mut buf = vec![0u8; TCP_PIECE];
    loop {
        let n = sock.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
    }
    let took = start.elapsed();
    sender
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("tcp send: {e}"))?;
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_are_bounded() {
        assert_eq!(parse(&[]), Ok((64, 3)));
        let args: Vec<String> = ["--mib", "8", "--runs", "1"].map(String::from).to_vec();
        assert_eq!(parse(&args), Ok((8, 1)));
        assert!(parse(&["--mib".to_string(), "0".to_string()]).is_err());
        assert!(parse(&["--bogus".to_string()]).is_err());
    }
}
