import CAllocationCounter
import Foundation
import Testing

/// Counts heap allocations on the calling thread, with the malloc interposer of
/// `CAllocationCounter` (linked into the test executable; Linux with glibc only).
enum AllocationCounter {
    /// False where the interposer is not built (macOS, musl, sanitizers): nothing is counted.
    static var isSupported: Bool { vb_alloc_supported() != 0 }

    /// How many allocations `body` made on this thread. With `recording`, the first few are kept
    /// with their stacks for `recordedStacks()`.
    static func count(recording: Bool = false, _ body: () throws -> Void) rethrows -> Int {
        let previous = vb_alloc_set_recording(recording ? 1 : 0)
        defer { vb_alloc_set_recording(previous) }
        let before = vb_alloc_count()
        vb_alloc_arm()
        do {
            try body()
        } catch {
            vb_alloc_disarm()
            throw error
        }
        return Int(vb_alloc_disarm() - before)
    }

    static func resetRecords() { vb_alloc_reset_records() }

    /// `recordedStacks(from:)`, then forgets those records; its own allocations are not counted.
    static func takeRecords(from first: Int = 0) -> String {
        vb_alloc_pause()
        defer { vb_alloc_resume() }
        let stacks = recordedStacks(from: first)
        vb_alloc_truncate_records(Int32(first))
        return stacks
    }

    /// The recorded allocations, each with its size and innermost frames (module+offset, and the
    /// symbol where the dynamic symbol table has one; `addr2line -f -C -e <test executable>
    /// <offset>` names the rest).
    static func recordedStacks(from first: Int = 0, frames limit: Int = 16) -> String {
        let capacity = Int(VB_ALLOC_FRAMES)
        var frames = [UnsafeMutableRawPointer?](repeating: nil, count: capacity)
        var text = [CChar](repeating: 0, count: 1024)
        var out = ""
        for index in Int32(first)..<max(Int32(first), vb_alloc_record_count()) {
            out += "allocation \(Int(index) - first + 1), \(vb_alloc_record_size(index)) bytes:\n"
            let depth = frames.withUnsafeMutableBufferPointer { vb_alloc_record_stack(index, $0.baseAddress, Int32(capacity)) }
            for frame in frames.prefix(min(Int(depth), limit)) {
                guard let frame else { continue }
                let line = text.withUnsafeMutableBufferPointer { buffer in
                    String(cString: vb_alloc_describe(frame, buffer.baseAddress, buffer.count))
                }
                out += "  \(line)\n"
            }
        }
        return out
    }
}

/// One allocation, kept so that the optimiser cannot drop it.
final class AllocationWitness {
    nonisolated(unsafe) static var kept: AllocationWitness?
    let value: Int
    init(_ value: Int) { self.value = value }
}

/// The counter itself: it sees allocations made through every path into malloc (Swift objects
/// and buffers from libswiftCore, the C library's own callers, posix_memalign), on the armed
/// thread only, and nothing when nothing is allocated.
@Suite(.enabled(if: AllocationCounter.isSupported, "the malloc interposer is Linux/glibc only"))
struct AllocationCounterTests {
    @Test func nothingAllocatedCountsZero() {
        var sum = 0
        let count = AllocationCounter.count {
            for i in 0..<1000 { sum &+= i }
        }
        #expect(count == 0)
        #expect(sum == 499_500)
    }

    @Test func swiftAllocationsAreCounted() {
        // swift_allocObject and swift_slowAlloc live in libswiftCore.so: counting them shows the
        // executable's malloc interposes for shared libraries too.
        #expect(AllocationCounter.count { AllocationWitness.kept = AllocationWitness(1) } == 1)
        #expect(
            AllocationCounter.count {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: 100, alignment: 8)
                raw.deallocate()
            } == 1)
        // Over-aligned: aligned_alloc or posix_memalign rather than malloc.
        #expect(
            AllocationCounter.count {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 128)
                raw.deallocate()
            } == 1)
        var arrays: [[Int]] = []
        arrays.reserveCapacity(4)
        let count = AllocationCounter.count {
            arrays.append(Array(repeating: 7, count: 64))
        }
        #expect(count == 1)
        #expect(arrays[0].count == 64)
    }

    @Test func cAllocationsAreCounted() {
        #expect(AllocationCounter.count { free(malloc(24)) } == 1)
        #expect(AllocationCounter.count { free(calloc(4, 8)) } == 1)
        #expect(AllocationCounter.count { free(realloc(malloc(8), 4096)) } == 2)
        var pointer: UnsafeMutableRawPointer?
        var result: Int32 = -1
        var address = 0
        let aligned = AllocationCounter.count {
            result = posix_memalign(&pointer, 64, 100)
            address = Int(bitPattern: pointer)
            free(pointer)
        }
        #expect(aligned == 1)
        #expect(result == 0 && address != 0 && address % 64 == 0)
        #expect(AllocationCounter.count { free(aligned_alloc(32, 64)) } == 1)
        // strdup allocates inside libc: libc's own calls come here as well.
        let text = strdup("interposed")!
        defer { free(text) }
        #expect(AllocationCounter.count { free(strdup(text)) } == 1)
    }

    @Test func posixMemalignRefusesBadAlignments() {
        var pointer: UnsafeMutableRawPointer?
        #expect(posix_memalign(&pointer, 3, 16) == EINVAL)
        #expect(posix_memalign(&pointer, 0, 16) == EINVAL)
    }

    @Test func otherThreadsAreNotCounted() {
        let go = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            go.wait()
            for i in 0..<1000 { AllocationWitness.kept = AllocationWitness(i) }
            done.signal()
        }
        thread.start()
        let count = AllocationCounter.count {
            go.signal()
            done.wait()
        }
        #expect(count == 0)
    }

    @Test func armingNestsAndPauses() {
        let outer = vb_alloc_count()
        vb_alloc_arm()
        let inner = AllocationCounter.count { AllocationWitness.kept = AllocationWitness(1) }
        vb_alloc_pause()
        AllocationWitness.kept = AllocationWitness(2)  // paused: not counted
        vb_alloc_resume()
        AllocationWitness.kept = AllocationWitness(3)  // still armed after the inner disarm
        let total = Int(vb_alloc_disarm() - outer)
        #expect(inner == 1)
        #expect(total == 2)
        AllocationWitness.kept = AllocationWitness(4)  // disarmed
        #expect(vb_alloc_count() == outer + 2)
    }

    @Test func recordsWhereAllocationsCameFrom() {
        AllocationCounter.resetRecords()
        let count = AllocationCounter.count(recording: true) {
            AllocationWitness.kept = AllocationWitness(5)
        }
        #expect(count == 1)
        #expect(vb_alloc_record_count() == 1)
        #expect(vb_alloc_record_size(0) >= 16)
        let stacks = AllocationCounter.recordedStacks()
        #expect(stacks.hasPrefix("allocation 1, "))
        #expect(stacks.split(separator: "\n").count >= 3, "\(stacks)")
        AllocationCounter.resetRecords()
        _ = AllocationCounter.count { AllocationWitness.kept = AllocationWitness(6) }
        #expect(vb_alloc_record_count() == 0, "recording is off unless asked for")
    }
}
