// A heap-allocation counter to LD_PRELOAD into weft-proxy (or any process): counts calls to the
// malloc family (operator new and delete reach it through libstdc++) and prints the totals on
// SIGUSR2 and at exit. bench/alloc_per_request.sh reads two snapshots around a load run and
// divides the difference by the requests sent: allocations per proxied request, a number that,
// unlike CPU time on a shared machine, is the same from run to run.
//
//   LD_PRELOAD=build/lib/libweft_alloc_count.so weft-proxy ...    then   kill -USR2 <pid>
//
// Environment:
//   ALLOC_COUNT_OUTPUT=FILE   append the snapshots to FILE (default: stderr)
//   ALLOC_COUNT_SAMPLE=N      also write the call stack of every Nth allocation to
//                             ALLOC_COUNT_OUTPUT.stacks (backtrace_symbols_fd format), to find
//                             which code allocates (ALLOC_CALLERS in bench/alloc_per_request.sh)
//
// Forwarding goes to glibc's __libc_* entry points, so no dlsym (which itself allocates) is
// needed. Counters are relaxed atomics: exact totals, no ordering needed.
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t n, size_t size);
extern void* __libc_realloc(void* p, size_t size);
extern void __libc_free(void* p);
extern void* __libc_memalign(size_t alignment, size_t size);

static atomic_ullong g_allocs;  // every call that returns new memory (malloc, calloc, memalign...)
static atomic_ullong g_reallocs;
static atomic_ullong g_frees;  // free of a non-null pointer
static atomic_ullong g_bytes;  // bytes requested by the calls counted in g_allocs and g_reallocs

static int g_out_fd = 2;
static int g_stacks_fd = -1;
static unsigned long long g_sample_every;
static __thread int t_in_sampler;  // backtrace() may allocate (it loads libgcc_s once)

static void AppendNumber(char** p, unsigned long long v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *(*p)++ = digits[--n];
}

static void AppendText(char** p, const char* s) {
  size_t n = strlen(s);
  memcpy(*p, s, n);
  *p += n;
}

// Async-signal-safe: formats by hand and writes once.
static void PrintTotals(void) {
  char line[256];
  char* p = line;
  AppendText(&p, "alloc_count: pid=");
  AppendNumber(&p, (unsigned long long)getpid());
  AppendText(&p, " allocs=");
  AppendNumber(&p, atomic_load_explicit(&g_allocs, memory_order_relaxed));
  AppendText(&p, " reallocs=");
  AppendNumber(&p, atomic_load_explicit(&g_reallocs, memory_order_relaxed));
  AppendText(&p, " frees=");
  AppendNumber(&p, atomic_load_explicit(&g_frees, memory_order_relaxed));
  AppendText(&p, " bytes=");
  AppendNumber(&p, atomic_load_explicit(&g_bytes, memory_order_relaxed));
  *p++ = '\n';
  ssize_t unused = write(g_out_fd, line, (size_t)(p - line));
  (void)unused;
}

static void OnSignal(int sig) {
  (void)sig;
  int saved = errno;
  PrintTotals();
  // Marks the snapshot in the stacks file too, so a reader can keep only the stacks sampled
  // between two snapshots (the measured run, not startup).
  if (g_stacks_fd >= 0) {
    ssize_t unused = write(g_stacks_fd, "== snapshot\n", 12);
    (void)unused;
  }
  errno = saved;
}

static void MaybeSample(unsigned long long count) {
  if (g_stacks_fd < 0 || count % g_sample_every != 0 || t_in_sampler) return;
  t_in_sampler = 1;
  void* frames[24];
  int n = backtrace(frames, 24);
  // Frame 0 is MaybeSample, frame 1 the interposed function: start at the caller.
  if (n > 2) {
    backtrace_symbols_fd(frames + 2, n - 2, g_stacks_fd);
    ssize_t unused = write(g_stacks_fd, "--\n", 3);
    (void)unused;
  }
  t_in_sampler = 0;
}

static void CountAlloc(size_t size) {
  unsigned long long count = atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed) + 1;
  atomic_fetch_add_explicit(&g_bytes, size, memory_order_relaxed);
  if (g_sample_every != 0) MaybeSample(count);
}

void* malloc(size_t size) {
  CountAlloc(size);
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
  CountAlloc(n * size);
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t size) {
  if (p == NULL) {
    CountAlloc(size);
  } else {
    atomic_fetch_add_explicit(&g_reallocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_bytes, size, memory_order_relaxed);
  }
  return __libc_realloc(p, size);
}

void free(void* p) {
  if (p != NULL) atomic_fetch_add_explicit(&g_frees, 1, memory_order_relaxed);
  __libc_free(p);
}

void* memalign(size_t alignment, size_t size) {
  CountAlloc(size);
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }

int posix_memalign(void** out, size_t alignment, size_t size) {
  void* p = memalign(alignment, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

__attribute__((constructor)) static void Init(void) {
  const char* out = getenv("ALLOC_COUNT_OUTPUT");
  if (out != NULL && out[0] != '\0') {
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) g_out_fd = fd;
    const char* sample = getenv("ALLOC_COUNT_SAMPLE");
    if (sample != NULL) g_sample_every = strtoull(sample, NULL, 10);
    if (g_sample_every != 0) {
      char path[4096];
      size_t n = strlen(out);
      if (n + sizeof(".stacks") <= sizeof(path)) {
        memcpy(path, out, n);
        memcpy(path + n, ".stacks", sizeof(".stacks"));
        g_stacks_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
      }
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, NULL);
}

__attribute__((destructor)) static void Fini(void) { PrintTotals(); }
