import ArgumentParser
import ClusterCore
import ClusterNIO
import Dispatch
import GraphKernel
import Logging
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The child process of the data port's kill -9 test (`Tests/ClusterNIOTests/DataPortCrashTests.swift`): opens
/// (and so recovers) a slave store, serves the data port on an ephemeral loopback port, prints `port <n>` on stdout
/// and then serves until killed. The parent pushes transactions and SIGKILLs it at random moments; every push it
/// saw acknowledged must be in the store when it is reopened.
struct DataSlaveChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-slave-child", abstract: "Serve a slave store's data port until killed (crash tests).")

    @Option(help: "Store directory (created if missing).")
    var store: String

    @Option(help: "The epoch the data server follows.")
    var epoch: UInt64 = 1

    func run() throws {
        // Small files and frequent checkpoints, so kills land in rotation and checkpointing too.
        let db = try GraphDatabase(directory: store, configuration: .crashTestChild())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let logger = Logger(label: "trellis.data-port") { StreamLogHandler.standardError(label: $0) }
        let server = DataServer(database: db, group: group, logger: logger, forwarded: nil)
        server.setEpoch(Epoch(epoch), isMaster: false)
        let started = DispatchSemaphore(value: 0)
        let failure = StartFailure()
        Task {
            do { try await server.start(host: "127.0.0.1", port: 0) } catch { failure.error = "\(error)" }
            started.signal()
        }
        started.wait()
        if let error = failure.error { throw ValidationError("data port did not start: \(error)") }
        // Unbuffered, straight to the pipe: the parent waits for this line.
        let line = Array("port \(server.boundPort)\n".utf8)
        _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        while true { sleep(60) }
    }
}

/// Carries a start-up error out of the Task (written before the semaphore is signalled, read after).
private final class StartFailure: @unchecked Sendable {
    var error: String?
}
