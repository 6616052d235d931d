#ifndef VB_ALLOCATION_COUNTER_H
#define VB_ALLOCATION_COUNTER_H

#include <stddef.h>
#include <stdint.h>

/// Counts heap allocations made by the current thread while it is armed.
///
/// The counter is a malloc interposer linked into the test executable (Linux with glibc only):
/// it defines malloc, calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc,
/// memalign, valloc and pvalloc, forwards each to glibc's own (`__libc_malloc` and friends), and
/// counts a call only while the calling thread is armed. Arming is per thread and nests, so other
/// threads and other tests are never counted, and an unarmed allocation costs one thread-local load.
///
/// An allocation is any call that may hand out memory: malloc, calloc, realloc (any call),
/// reallocarray and the aligned forms. free is not counted.

#ifdef __cplusplus
extern "C" {
#endif

/// 1 if allocations are really counted in this executable (Linux/glibc, no sanitizer), else 0.
int vb_alloc_supported(void);

/// Starts counting on this thread (nests: each arm needs a disarm).
void vb_alloc_arm(void);
/// Stops counting on this thread (one level). Returns the thread's running count.
uint64_t vb_alloc_disarm(void);

/// Allocations counted on this thread so far, and their requested bytes. Monotonic: take the
/// difference across a region.
uint64_t vb_alloc_count(void);
uint64_t vb_alloc_bytes(void);

/// Suspends counting on this thread without changing the arm depth (for harness code inside an
/// armed region); `vb_alloc_resume` undoes it. Nests.
void vb_alloc_pause(void);
void vb_alloc_resume(void);

/// While recording is on (per thread, off by default), the first allocations counted since the
/// last `vb_alloc_reset_records` are kept with their call stacks (at most VB_ALLOC_RECORDS of
/// them), so that a failing test can say where an allocation came from.
enum { VB_ALLOC_RECORDS = 8, VB_ALLOC_FRAMES = 48 };
/// Turns recording on (1) or off (0) for this thread; returns the previous setting.
int vb_alloc_set_recording(int on);
void vb_alloc_reset_records(void);
/// Forgets the records from `count` on (keeps the first `count`).
void vb_alloc_truncate_records(int count);
/// How many were recorded (at most VB_ALLOC_RECORDS).
int vb_alloc_record_count(void);
/// The size requested by record `index`, and its stack: up to `capacity` return addresses
/// (innermost first, the interposer's own frame left out). Returns how many were written.
size_t vb_alloc_record_size(int index);
int vb_alloc_record_stack(int index, void **frames, int capacity);
/// Describes one address as "module+0xOFFSET symbol+0xOFFSET" (symbol when the dynamic symbol
/// table has one) into `out`. Returns `out`.
const char *vb_alloc_describe(void *address, char *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
