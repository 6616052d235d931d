import CLibFuzzer
import Foundation

/// The target this process fuzzes, from `FUZZ_TARGET`, read once (libFuzzer calls the entry
/// point millions of times; the environment is not looked up on each).
let selectedTarget: FuzzTarget? = {
    guard let name = getenv("FUZZ_TARGET") else { return nil }
    return FuzzTarget(rawValue: String(cString: name))
}()

/// Called by libFuzzer once before the first input: an unknown or missing target stops the run
/// with the list of names, instead of a fuzzer that silently exercises nothing.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    guard selectedTarget != nil else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: " ")
        let given = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "(unset)"
        FileHandle.standardError.write(Data("VoiceBridgeFuzz: FUZZ_TARGET=\(given) is not one of: \(names)\n".utf8))
        exit(2)
    }
    return 0
}

/// libFuzzer's entry point. Returns 0 always; a finding is a crash (trap, precondition, ASan).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let target = selectedTarget else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data.map(UnsafeRawPointer.init), count: data == nil ? 0 : size)
    target.run(bytes)
    return 0
}

/// The process entry point. SwiftPM links an executable target with `main` aliased to
/// `<module>_main` (so tests can link the module), which would leave libFuzzer's own `main`
/// unused; this is that symbol, and it hands the command line to libFuzzer's driver. There is no
/// main.swift and no `@main`: the module has no top-level code.
@_cdecl("VoiceBridgeFuzz_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzerTestOneInput)
}
