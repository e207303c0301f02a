import ClusterCore
import Dispatch
import Foundation
import GraphKernel
import GraphValues
import Synchronization

@testable import TrellisServer

/// An in-process `HATransport` for `HAInstance` tests: the test plays the coordination layer (it decides who is
/// master and tells every member), and data links call the other member's database and forwarded-transaction
/// handler directly. What it leaves out — sockets, heartbeats, elections — is ClusterNIO's and tested there.
final class InProcessCluster: @unchecked Sendable {
    struct Member {
        var id: MemberID
        var coordinator: InProcessCoordinator
        var alive = true
        var role = "UNKNOWN"
        var bolt: String?
        var data: String?
    }

    final class DataEndpoint: @unchecked Sendable {
        let database: GraphDatabase
        let forwarded: ForwardedTransactions
        init(database: GraphDatabase, forwarded: ForwardedTransactions) {
            self.database = database
            self.forwarded = forwarded
        }
    }

    let state = Mutex<(members: [MemberID: Member], endpoints: [String: DataEndpoint], nextPort: Int)>(
        ([:], [:], 40_000))
    /// How many pushes reached each member's data port.
    let pushes = Mutex<[String: Int]>([:])
    /// How many of the next store copies fail half-way (after writing part of a file into the target).
    let failingStoreCopies = Mutex<Int>(0)
    /// While true, a slave's branch check waits at its first question to the master (the store id), so a test
    /// can look at a member in the middle of switching to a new master.
    let joinsHeld = Mutex<Bool>(false)

    var transport: HATransport {
        HATransport(
            makeCoordinator: { settings, lastCommitted in
                InProcessCoordinator(cluster: self, settings: settings, lastCommitted: lastCommitted)
            },
            makeDataService: { database, forwarded in
                InProcessDataService(cluster: self, database: database, forwarded: forwarded)
            },
            makeDataLink: { address in InProcessDataLink(cluster: self, address: address) },
            installKernelHooks: { db, gate, hook in HATransport.installKernelHooks(db, gate: gate, hook: hook) },
            moveToBranched: { dir, policy in try HATransport.moveToBranched(databaseDirectory: dir, policy: policy) })
    }

    func endpoint(_ address: String) throws -> DataEndpoint {
        guard let e = state.withLock({ $0.endpoints[address] }) else {
            throw DatabaseError(.databaseUnavailable, "no data service at \(address)")
        }
        return e
    }

    /// Makes `master` master of `epoch` and every other live data member its slave.
    func elect(_ master: MemberID, epoch: UInt64) {
        let (members, masterData) = state.withLock { s -> ([Member], String?) in
            for id in s.members.keys where s.members[id]!.alive {
                s.members[id]!.role = id == master ? "master" : "slave"
            }
            return (Array(s.members.values.filter(\.alive)), s.members[master]?.data)
        }
        for m in members {
            m.coordinator.tell(
                m.id == master ? .master(epoch: Epoch(epoch))
                    : .slave(master: master, epoch: Epoch(epoch), masterData: masterData))
        }
    }

    /// Every live member loses its master.
    func allPending() {
        let members = state.withLock { s -> [Member] in
            for id in s.members.keys { s.members[id]!.role = "UNKNOWN" }
            return Array(s.members.values.filter(\.alive))
        }
        for m in members { m.coordinator.tell(.pending) }
    }

    func register(_ coordinator: InProcessCoordinator) {
        state.withLock { s in
            s.members[coordinator.settings.me] = Member(
                id: coordinator.settings.me, coordinator: coordinator, bolt: coordinator.settings.boltAddress,
                data: coordinator.settings.dataAddress)
        }
    }

    func left(_ id: MemberID) {
        state.withLock { s in
            s.members[id]?.alive = false
            s.members[id]?.role = "UNKNOWN"
        }
    }
}

final class InProcessCoordinator: HACoordinator, @unchecked Sendable {
    let cluster: InProcessCluster
    let settings: HACoordinatorSettings
    let lastCommitted: @Sendable () -> HALogHead
    let listeners = Mutex<[@Sendable (HARoleEvent) -> Void]>([])

    init(cluster: InProcessCluster, settings: HACoordinatorSettings, lastCommitted: @escaping @Sendable () -> HALogHead) {
        self.cluster = cluster
        self.settings = settings
        self.lastCommitted = lastCommitted
    }

    func start() async throws { cluster.register(self) }
    var boundPort: Int { 5000 + settings.me.rawValue }
    func stop() async { cluster.left(settings.me) }
    func onRoleChange(_ listener: @escaping @Sendable (HARoleEvent) -> Void) {
        listeners.withLock { $0.append(listener) }
    }
    func tell(_ event: HARoleEvent) { for l in listeners.withLock({ $0 }) { l(event) } }

    var members: [HAMember] {
        cluster.state.withLock { s in
            s.members.values.map { m in
                HAMember(
                    id: m.id, isArbiter: false, alive: m.alive, role: m.role,
                    coordination: "in-process:\(m.id.rawValue)",
                    data: m.data, bolt: m.bolt, http: nil,
                    lastCommittedTx: m.alive ? m.coordinator.lastCommitted().tx : 0)
            }
        }
    }

    func isAcceptingWrites() -> Bool {
        cluster.state.withLock { $0.members[settings.me].map { $0.alive && $0.role == "master" } ?? false }
    }
}

final class InProcessDataService: HADataService, @unchecked Sendable {
    let cluster: InProcessCluster
    let endpoint: InProcessCluster.DataEndpoint
    let port = Mutex(0)
    let host = Mutex("")

    init(cluster: InProcessCluster, database: GraphDatabase, forwarded: ForwardedTransactions) {
        self.cluster = cluster
        self.endpoint = InProcessCluster.DataEndpoint(database: database, forwarded: forwarded)
    }

    func start(host: String, port requested: Int) async throws {
        let bound = cluster.state.withLock { s -> Int in
            var p = requested
            if p == 0 {
                p = s.nextPort
                s.nextPort += 1
            }
            s.endpoints["\(host):\(p)"] = endpoint
            return p
        }
        port.withLock { $0 = bound }
        self.host.withLock { $0 = host }
    }

    var boundPort: Int { port.withLock { $0 } }

    func stop() async {
        let key = "\(host.withLock { $0 }):\(boundPort)"
        cluster.state.withLock { s in
            if s.endpoints[key] === endpoint { s.endpoints[key] = nil }
        }
    }

    func setEpoch(_ epoch: Epoch, isMaster: Bool) {}
}

final class InProcessDataLink: HADataLink, @unchecked Sendable {
    let cluster: InProcessCluster
    let address: String

    init(cluster: InProcessCluster, address: String) {
        self.cluster = cluster
        self.address = address
    }

    /// Runs on a plain thread, as a network peer would: never on the caller's cooperative pool thread.
    func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    func storeID() async throws -> StoreID? {
        try await offThread {
            // Bounded: a test that forgets to release fails on its own assertions, not by hanging here.
            let deadline = ContinuousClock.now + .seconds(60)
            while self.cluster.joinsHeld.withLock({ $0 }) && ContinuousClock.now < deadline { usleep(2_000) }
            return nil
        }
    }

    func pullTransactions(from: TxID, limit: Int) async throws -> [CommittedTransaction] {
        try await offThread { try self.pullNow(from: from, limit: limit) }
    }

    func pullNow(from: TxID, limit: Int) throws -> [CommittedTransaction] {
        let db = try cluster.endpoint(address).database
        guard from.rawValue <= db.lastCommittedTxID.rawValue else { return [] }
        let cursor = try db.committedTransactions(from: from)
        var result: [CommittedTransaction] = []
        while result.count < limit, let tx = try cursor.next() { result.append(tx) }
        return result
    }

    func transactionStamp(at tx: TxID) async throws -> TransactionStamp? {
        try await offThread { try self.stampNow(at: tx) }
    }

    func stampNow(at tx: TxID) throws -> TransactionStamp? {
        let db = try cluster.endpoint(address).database
        guard tx.rawValue <= db.lastCommittedTxID.rawValue else { return nil }
        guard let t = try db.committedTransactions(from: tx).next() else { return nil }
        return TransactionStamp(
            tx: LogPosition(lastCommittedTx: UInt64(t.header.txID.rawValue)), epoch: Epoch(UInt64(t.header.epoch)),
            master: MemberID(Int(t.header.masterServerID)), checksum: t.header.checksum)
    }

    func push(_ tx: CommittedTransaction, epoch: Epoch, catchingUpFrom database: GraphDatabase) async throws {
        try await offThread { try self.pushNow(tx) }
    }

    func pushNow(_ tx: CommittedTransaction) throws {
        let db = try cluster.endpoint(address).database
        cluster.pushes.withLock { $0[address, default: 0] += 1 }
        if tx.header.txID.rawValue <= db.lastCommittedTxID.rawValue { return }
        try db.applyReplicated(tx)
    }

    func copyStore(into directory: String) async throws -> TxID {
        let fail = cluster.failingStoreCopies.withLock { left -> Bool in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if fail {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: directory + "/neostore.nodestore.db", contents: Data([1, 2, 3]))
            throw DatabaseError(.databaseUnavailable, "injected failure half-way through a store copy")
        }
        return try await offThread { try self.cluster.endpoint(self.address).database.copyStore(to: directory) }
    }

    func forwardBegin(user: String, metadata: [String: Value], timeout: Duration?, epoch: Epoch) async throws
        -> UInt64
    {
        try await offThread {
            try self.cluster.endpoint(self.address).forwarded.begin(user: user, metadata: metadata, timeout: timeout)
        }
    }

    func forwardRun(_ tx: UInt64, query: String, parameters: [String: Value]) async throws -> HAForwardedResult {
        try await offThread {
            try self.cluster.endpoint(self.address).forwarded.run(tx, query: query, parameters: parameters)
        }
    }

    func forwardCommit(_ tx: UInt64) async throws -> UInt64 {
        try await offThread { try self.cluster.endpoint(self.address).forwarded.commit(tx) }
    }

    func forwardRollback(_ tx: UInt64) async throws {
        try await offThread { try self.cluster.endpoint(self.address).forwarded.rollback(tx) }
    }

    func close() async {}
}

/// Runs blocking test code on its own thread and awaits it. HA code waits for async work (Bolt start, data-port
/// calls) with semaphores; a test that blocked one of the few cooperative-pool threads (two on a 2-core machine)
/// while another suite blocked the other would leave that work no thread to run on.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
