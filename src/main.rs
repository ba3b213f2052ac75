#![forbid(unsafe_code)]

// mimalloc instead of glibc's malloc: the request paths allocate and free
// many small buffers across threads, where glibc's malloc took about a
// sixth of an issue's CPU (scripts/perf-issue.sh, BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tessera::cli::run()
}
