import CMalloc

/// Keeps large freed blocks in the process's heap instead of handing them back to the kernel.
/// A service allocates and frees index copies, move pages and replies all the time; each
/// mmap/munmap pair takes the address-space lock (page faults of every search thread wait on
/// it) and faults the pages in again. Memory is reused, not lost: peak RSS is unchanged, but RSS
/// no longer falls after a transient peak. Returns false when glibc refused a setting.
@discardableResult
public func keepFreedMemoryInTheHeap() -> Bool {
    // Blocks below 32 MiB (glibc's ceiling for this setting) come from the heap; its top is
    // trimmed only past 1 GiB free.
    mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
}
