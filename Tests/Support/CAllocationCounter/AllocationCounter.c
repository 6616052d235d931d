// A malloc interposer that counts the allocations of armed threads. See CAllocationCounter.h.
//
// Why an interposer compiled into the test executable rather than a preloaded or dynamic
// library: on Linux the executable comes first in the dynamic linker's global scope, so its
// malloc is the malloc of every shared library in the process (libswiftCore, Foundation, libc's
// own callers) as well as of the statically linked Swift code (NIO, our modules), with no
// LD_PRELOAD, no dlsym bootstrap and no dependency on how `swift test` launches the executable.
// It forwards to glibc's allocator (`__libc_malloc` and friends), so memory from either side may
// be freed by the other.
#define _GNU_SOURCE
#include "CAllocationCounter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#if !defined(__linux__) || !defined(__GLIBC__) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VB_NO_INTERPOSER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define VB_NO_INTERPOSER 1
#endif
#endif

#ifndef VB_NO_INTERPOSER

#include <dlfcn.h>
#include <execinfo.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

// initial-exec: the executable's thread-locals live in the static TLS block, so reading them
// never calls into the dynamic linker (which could allocate, inside malloc).
#define VB_TLS static __thread __attribute__((tls_model("initial-exec")))

VB_TLS int armedDepth;
VB_TLS int pausedDepth;
VB_TLS int recording;  // inside our own bookkeeping: allocations made there are not counted
VB_TLS int recordingEnabled;
VB_TLS uint64_t counted;
VB_TLS uint64_t countedBytes;
VB_TLS int recordCount;
VB_TLS size_t recordSizes[VB_ALLOC_RECORDS];
VB_TLS int recordDepths[VB_ALLOC_RECORDS];
VB_TLS void *recordFrames[VB_ALLOC_RECORDS][VB_ALLOC_FRAMES];

static int backtraceReady;

__attribute__((noinline)) static void note(size_t size) {
    if (pausedDepth > 0 || recording) return;
    counted += 1;
    countedBytes += size;
    if (recordingEnabled && recordCount < VB_ALLOC_RECORDS) {
        recording = 1;
        void *frames[VB_ALLOC_FRAMES + 2];
        int depth = backtrace(frames, VB_ALLOC_FRAMES + 2);
        // frames[0] is this function, frames[1] the interposed function: leave both out.
        int kept = depth > 2 ? depth - 2 : 0;
        memcpy(recordFrames[recordCount], frames + 2, (size_t)kept * sizeof(void *));
        recordDepths[recordCount] = kept;
        recordSizes[recordCount] = size;
        recordCount += 1;
        recording = 0;
    }
}

#define VB_NOTE(size)                                    \
    do {                                                 \
        if (__builtin_expect(armedDepth > 0, 0)) note(size); \
    } while (0)

void *malloc(size_t size) {
    VB_NOTE(size);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    VB_NOTE(count * size);
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    VB_NOTE(size);
    return __libc_realloc(pointer, size);
}

void *reallocarray(void *pointer, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    VB_NOTE(total);
    return __libc_realloc(pointer, total);
}

void free(void *pointer) {
    __libc_free(pointer);
}

void *memalign(size_t alignment, size_t size) {
    VB_NOTE(size);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    VB_NOTE(size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    // POSIX: a power of two that is a multiple of sizeof(void *); errors are returned, not set.
    if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) {
        return EINVAL;
    }
    VB_NOTE(size);
    int saved = errno;
    void *pointer = __libc_memalign(alignment, size);
    errno = saved;
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

void *valloc(size_t size) {
    VB_NOTE(size);
    return __libc_valloc(size);
}

void *pvalloc(size_t size) {
    VB_NOTE(size);
    return __libc_pvalloc(size);
}

int vb_alloc_supported(void) { return 1; }

void vb_alloc_arm(void) {
    if (!__atomic_load_n(&backtraceReady, __ATOMIC_ACQUIRE)) {
        // The first backtrace() loads the unwinder (dlopen, which allocates): do it here, not
        // inside a counted allocation.
        recording = 1;
        void *frame[1];
        backtrace(frame, 1);
        recording = 0;
        __atomic_store_n(&backtraceReady, 1, __ATOMIC_RELEASE);
    }
    armedDepth += 1;
}

uint64_t vb_alloc_disarm(void) {
    if (armedDepth > 0) armedDepth -= 1;
    return counted;
}

uint64_t vb_alloc_count(void) { return counted; }
uint64_t vb_alloc_bytes(void) { return countedBytes; }

void vb_alloc_pause(void) { pausedDepth += 1; }
void vb_alloc_resume(void) {
    if (pausedDepth > 0) pausedDepth -= 1;
}

int vb_alloc_set_recording(int on) {
    int previous = recordingEnabled;
    recordingEnabled = on;
    return previous;
}

void vb_alloc_reset_records(void) { recordCount = 0; }
void vb_alloc_truncate_records(int count) {
    if (count >= 0 && count < recordCount) recordCount = count;
}
int vb_alloc_record_count(void) { return recordCount; }

size_t vb_alloc_record_size(int index) {
    return index >= 0 && index < recordCount ? recordSizes[index] : 0;
}

int vb_alloc_record_stack(int index, void **frames, int capacity) {
    if (index < 0 || index >= recordCount || capacity <= 0) return 0;
    int n = recordDepths[index] < capacity ? recordDepths[index] : capacity;
    memcpy(frames, recordFrames[index], (size_t)n * sizeof(void *));
    return n;
}

const char *vb_alloc_describe(void *address, char *out, size_t capacity) {
    if (capacity == 0) return out;
    Dl_info info;
    // A return address points after the call; step back into the calling instruction.
    void *lookup = (char *)address - 1;
    if (dladdr(lookup, &info) == 0 || info.dli_fname == NULL) {
        snprintf(out, capacity, "%p", address);
        return out;
    }
    const char *module = strrchr(info.dli_fname, '/');
    module = module ? module + 1 : info.dli_fname;
    unsigned long offset = (unsigned long)((char *)address - (char *)info.dli_fbase);
    if (info.dli_sname != NULL) {
        unsigned long symbolOffset = (unsigned long)((char *)address - (char *)info.dli_saddr);
        snprintf(out, capacity, "%s+0x%lx %s+0x%lx", module, offset, info.dli_sname, symbolOffset);
    } else {
        snprintf(out, capacity, "%s+0x%lx", module, offset);
    }
    return out;
}

#else  // no interposer: nothing is counted

int vb_alloc_supported(void) { return 0; }
void vb_alloc_arm(void) {}
uint64_t vb_alloc_disarm(void) { return 0; }
uint64_t vb_alloc_count(void) { return 0; }
uint64_t vb_alloc_bytes(void) { return 0; }
void vb_alloc_pause(void) {}
void vb_alloc_resume(void) {}
int vb_alloc_set_recording(int on) { (void)on; return 0; }
void vb_alloc_reset_records(void) {}
void vb_alloc_truncate_records(int count) { (void)count; }
int vb_alloc_record_count(void) { return 0; }
size_t vb_alloc_record_size(int index) { (void)index; return 0; }
int vb_alloc_record_stack(int index, void **frames, int capacity) {
    (void)index; (void)frames; (void)capacity;
    return 0;
}
const char *vb_alloc_describe(void *address, char *out, size_t capacity) {
    if (capacity > 0) snprintf(out, capacity, "%p", address);
    return out;
}

#endif
