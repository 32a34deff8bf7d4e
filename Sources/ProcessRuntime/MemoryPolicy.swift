import CMalloc

/// Keeps freed memory in the process's heap instead of handing it back to the kernel after every
/// large free. A service allocates and frees index copies, move pages and replies all the time;
/// each time the heap shrinks and grows again the pages are unmapped and faulted in anew (and the
/// address-space lock that every search thread's page faults need is taken for writing).
/// Setting the trim threshold also fixes glibc's mmap threshold at its 128 KiB start instead of
/// letting it climb: blocks above it are mapped on their own, as before. Measured on a 3-worker
/// cluster (docs/BENCHMARKS.md): search p50 1.4 → 1.1–1.3 ms, shard moves faster; a 32 MiB mmap
/// threshold (heap blocks up to there) made moves slower. Peak RSS is unchanged; RSS no longer
/// falls after a transient peak. Returns false when glibc refused the setting.
@discardableResult
public func keepFreedMemoryInTheHeap() -> Bool {
    mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
}
