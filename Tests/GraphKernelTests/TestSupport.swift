import Foundation
import GraphValues
import Testing

@testable import GraphKernel

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TempDirectory {
    let path: String

    init(_ name: String = "store") {
        path = NSTemporaryDirectory() + "trellis-kernel-test-\(UUID().uuidString)/\(name)"
    }

    func cleanup() {
        let root = (path as NSString).deletingLastPathComponent
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// A configuration on a simulated disk with a small page cache.
func simulatedConfiguration(_ fs: SimulatedFileSystem, pageCacheBytes: Int = 1 << 20) -> KernelConfiguration {
    var configuration = KernelConfiguration(pageCacheSizeBytes: pageCacheBytes)
    configuration.fileSystem = fs
    configuration.logFileSystem = fs
    return configuration
}

func expectError(_ code: StatusCode, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as DatabaseError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

func usleepMillis(_ ms: Int) {
    var ts = timespec(tv_sec: 0, tv_nsec: ms * 1_000_000)
    nanosleep(&ts, nil)
}
