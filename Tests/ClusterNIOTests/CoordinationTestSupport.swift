import ClusterCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import ClusterNIO

/// Log lines captured from every member of a test cluster, so tests can check what operators would grep for.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    func contains(_ fragment: String) -> Bool { lines.withLock { $0.contains { $0.contains(fragment) } } }

    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let member = metadata["member"].map { "\($0)" } ?? "?"
        log.append("[\(event.level)] member=\(member) \(event.message)")
    }
}

/// Role events as listeners saw them, to check "at most one master per epoch" over a whole test.
final class RoleHistory: Sendable {
    private let events = Mutex<[(MemberID, ClusterRoleEvent)]>([])

    func record(_ member: MemberID, _ event: ClusterRoleEvent) { events.withLock { $0.append((member, event)) } }

    /// Every (epoch → members that became master in it) seen so far.
    var mastersByEpoch: [Epoch: Set<MemberID>] {
        events.withLock { events in
            var result: [Epoch: Set<MemberID>] = [:]
            for (member, event) in events {
                if case .master(let epoch) = event { result[epoch, default: []].insert(member) }
            }
            return result
        }
    }

    func everMaster(_ member: MemberID) -> Bool {
        mastersByEpoch.values.contains { $0.contains(member) }
    }
}

/// Short timings so elections take well under a second on an idle machine; the polling bounds are generous so a
/// loaded machine only makes the tests slower, not red.
enum TestTimings {
    static let heartbeatInterval = Duration.milliseconds(50)
    /// Long enough that a loaded CI machine (all test targets run at once on two cores) does not stall an event loop
    /// past it; short enough that a failover takes about a second.
    static let heartbeatTimeout = Duration.milliseconds(800)
    static let electionTimeout = Duration.milliseconds(300)
    static let pollLimit = Duration.seconds(20)
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration = TestTimings.pollLimit, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Free loopback ports: bind port 0, read it, close. A port could in theory be taken in between; the cluster start
/// would then fail loudly rather than misbehave.
func reservePorts(_ count: Int, group: any EventLoopGroup) async throws -> [Int] {
    var channels: [any Channel] = []
    for _ in 0..<count {
        channels.append(try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get())
    }
    let ports = channels.map { $0.localAddress!.port! }
    for channel in channels { try await channel.close() }
    return ports
}

/// One member's configuration in a test cluster.
struct TestMemberSpec {
    var id: Int
    var kind: MemberKind = .data(slaveOnly: false)
    var allowInitCluster = true
    var lastCommitted: UInt64 = 1
    var lastEpoch: UInt64 = 0
}

/// A cluster of in-process coordination services on loopback.
final class TestCluster: @unchecked Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let log = CapturedLog()
    let history = RoleHistory()
    let root: String
    var specs: [TestMemberSpec] = []
    var ports: [Int] = []
    var services: [Int: CoordinationService] = [:]
    var clusterName = "test.cluster"
    var electionTimeout = TestTimings.electionTimeout
    var heartbeatTimeout = TestTimings.heartbeatTimeout

    init() {
        root = NSTemporaryDirectory() + "trellis-coordination-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    var initialHosts: [String] { ports.map { "127.0.0.1:\($0)" } }

    func settings(for index: Int) -> CoordinationSettings {
        let spec = specs[index]
        let isArbiter = spec.kind == .arbiter
        return CoordinationSettings(
            me: MemberID(spec.id),
            kind: spec.kind,
            listenHost: "127.0.0.1",
            listenPort: ports[index],
            initialHosts: initialHosts,
            addresses: MemberAddresses(
                coordination: "127.0.0.1:\(ports[index])",
                data: isArbiter ? nil : "127.0.0.1:\(6000 + index)",
                bolt: isArbiter ? nil : "127.0.0.1:\(7600 + index)",
                http: nil
            ),
            heartbeatInterval: TestTimings.heartbeatInterval,
            heartbeatTimeout: heartbeatTimeout,
            electionTimeout: electionTimeout,
            allowInitCluster: spec.allowInitCluster,
            joinTimeout: .seconds(2),
            stateDirectory: root + "/member-\(index)",
            clusterName: clusterName
        )
    }

    /// Reserves ports for `specs` and starts every member.
    func start(_ specs: [TestMemberSpec]) async throws {
        self.specs = specs
        ports = try await reservePorts(specs.count, group: group)
        for index in specs.indices { try await startMember(index) }
    }

    /// (Re)starts member `index` on its port with its state directory.
    func startMember(_ index: Int) async throws {
        var logger = Logger(label: "coordination-test") { _ in CapturingLogHandler(log: self.log) }
        logger.logLevel = .info
        let committed = specs[index].lastCommitted
        let lastEpoch = specs[index].lastEpoch
        let service = CoordinationService(settings: settings(for: index), group: group, logger: logger,
                                          lastCommitted: { LogPosition(lastCommittedTx: committed) },
                                          lastCommittedEpoch: { Epoch(lastEpoch) })
        let id = MemberID(specs[index].id)
        let history = self.history
        service.onRoleChange { history.record(id, $0) }
        try await service.start()
        services[index] = service
    }

    /// Stops member `index` like a crash (default) or a clean shutdown (a master resigns first).
    func stopMember(_ index: Int, clean: Bool = false) async {
        if clean {
            await services[index]?.stop()
        } else {
            await services[index]?.stopAbruptly()
        }
        services[index] = nil
    }

    /// Indices of running members whose snapshot says master.
    var masterIndices: [Int] {
        services.keys.sorted().filter { index in
            if case .master = services[index]!.snapshot.event { return true }
            return false
        }
    }

    /// Waits (bounded) for a stable master and returns its index; records an issue and throws when none emerges.
    func awaitStableMaster() async throws -> Int {
        var master: Int?
        #expect(await eventually { master = stableMaster(); return master != nil }, "no stable master in time")
        return try #require(master)
    }

    /// The running members agree: exactly one master accepting writes, every other running data member its slave.
    func stableMaster(excluding: Set<Int> = []) -> Int? {
        let running = services.keys.sorted().filter { !excluding.contains($0) }
        let masters = running.filter { index in
            if case .master = services[index]!.snapshot.event { return true }
            return false
        }
        guard masters.count == 1, let master = masters.first, services[master]!.isAcceptingWrites() else {
            return nil
        }
        let masterID = MemberID(specs[master].id)
        for index in running where index != master && specs[index].kind != .arbiter {
            guard case .slave(let followed, _, _) = services[index]!.snapshot.event, followed == masterID else {
                return nil
            }
        }
        return master
    }

    func epoch(of index: Int) -> Epoch? {
        switch services[index]?.snapshot.event {
        case .master(let epoch): return epoch
        case .slave(_, let epoch, _): return epoch
        default: return nil
        }
    }

    /// No epoch ever had two masters.
    var atMostOneMasterPerEpoch: Bool { history.mastersByEpoch.values.allSatisfy { $0.count <= 1 } }

    func shutdown() async {
        for index in services.keys.sorted() { await stopMember(index, clean: true) }
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: root)
    }
}
