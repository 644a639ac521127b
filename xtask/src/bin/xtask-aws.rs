/// As in `xtask`: mimalloc instead of glibc's malloc: `cargo xtask dev` allocates and frees a few small buffers per request
/// on several threads (HTTP, the gateway, the SQLite writer, the consumer), and glibc's allocator spent
/// 12–15% of the process's time under load (`_int_malloc`, `_int_free`, `malloc_consolidate`). Measured
/// with `cargo xtask bench`: the durable pipeline went from 13.3k to 16.3k events/s, the no-storage
/// baseline from 42k to 48k.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `xtask-aws`: the same command line, built with the AWS SDK (`--features aws`); `xtask` runs it for the
/// commands that talk to AWS, so `cargo xtask dev` never compiles the SDK.
fn main() -> miette::Result<()> {
    xtask::main()
}
