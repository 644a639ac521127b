/// mimalloc instead of glibc's malloc: `cargo xtask dev` allocates and frees a few small buffers per request
/// on several threads (HTTP, the gateway, the SQLite writer, the consumer), and glibc's allocator spent
/// 12–15% of the process's time under load (`_int_malloc`, `_int_free`, `malloc_consolidate`). Measured
/// with `cargo xtask bench`: the durable pipeline went from 13.3k to 16.3k events/s, the no-storage
/// baseline from 42k to 48k.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `cargo xtask`: every command but those that talk to AWS, which this binary hands to `xtask-aws`.
fn main() -> miette::Result<()> {
    xtask::main()
}
