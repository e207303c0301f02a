import ClusterCore
import ClusterNIO
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import NIOPosix

extension HATransport {
    /// The transport `trellis` uses for `dbms.mode=HA` and ARBITER: ClusterNIO's coordination service and data
    /// port over TCP on NIO's shared event loops, and the kernel's replication hooks. Coordination logs its
    /// membership and election lines (the ones operators grep for) to `coordinationLog` (trellis.log).
    public static func nio(
        coordinationLog: Logger, dataLog: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        requestTimeout: Duration = .seconds(20)
    ) -> HATransport {
        // One per member: its data server and every link it opens add to the same counters.
        let traffic = DataPortTraffic()
        return HATransport(
            makeCoordinator: { settings, lastCommitted in
                NIOCoordinator(
                    CoordinationService(
                        settings: CoordinationSettings(
                            me: settings.me, kind: settings.kind, listenHost: settings.listenHost,
                            listenPort: settings.listenPort, initialHosts: settings.initialHosts,
                            addresses: MemberAddresses(
                                coordination: settings.coordinationAddress, data: settings.dataAddress,
                                bolt: settings.boltAddress, http: settings.httpAddress),
                            heartbeatInterval: settings.heartbeatInterval, heartbeatTimeout: settings.heartbeatTimeout,
                            electionTimeout: settings.electionTimeout, allowInitCluster: settings.allowInitCluster,
                            joinTimeout: settings.joinTimeout, stateDirectory: settings.stateDirectory,
                            clusterName: settings.clusterName),
                        group: group, logger: coordinationLog,
                        lastCommitted: { LogPosition(lastCommittedTx: lastCommitted().tx) },
                        lastCommittedEpoch: { lastCommitted().epoch }))
            },
            makeDataService: { database, forwarded in
                NIODataService(
                    DataServer(
                        database: database, group: group, logger: dataLog, forwarded: forwarded, traffic: traffic))
            },
            makeDataLink: { address in
                NIODataLink(
                    DataClient(
                        address: address, group: group, logger: dataLog, requestTimeout: requestTimeout,
                        traffic: traffic))
            },
            installKernelHooks: { database, gate, hook in installKernelHooks(database, gate: gate, hook: hook) },
            moveToBranched: { directory, policy in try moveToBranched(databaseDirectory: directory, policy: policy) },
            networkTraffic: {
                let s = traffic.snapshot
                return HANetworkTraffic(
                    slaveTransactionBytes: s.slaveTransactionBytes, masterTransactionBytes: s.masterTransactionBytes,
                    masterStoreBytes: s.masterStoreBytes)
            })
    }

    /// The kernel side every transport shares: `GraphDatabase.setCommitGate` / `setCommitHook`.
    public static func installKernelHooks(
        _ database: GraphDatabase, gate: (@Sendable () throws -> Void)?,
        hook: (@Sendable (CommittedTransaction) throws -> Void)?
    ) {
        database.setCommitGate(gate)
        database.setCommitHook(hook)
    }

    /// `StoreDirectories.moveToBranched` with the `ha.branched_data_policy` text.
    public static func moveToBranched(databaseDirectory: String, policy: String) throws -> String {
        guard let keep = BranchedDataPolicy(settingValue: policy) else {
            throw LifecycleError("ha.branched_data_policy=\(policy) is not keep_all, keep_last or keep_none")
        }
        return try StoreDirectories.moveToBranched(databaseDirectory: databaseDirectory, keep: keep, now: Date())
    }
}

extension ForwardedTransactions: ForwardedTransactionHandler {
    public func run(_ tx: UInt64, query: String, parameters: [String: Value]) throws -> ForwardedResult {
        let result: HAForwardedResult = try run(tx, query: query, parameters: parameters)
        return ForwardedResult(keys: result.keys, rows: result.rows, statistics: result.statistics)
    }
}

final class NIOCoordinator: HACoordinator, @unchecked Sendable {
    let service: CoordinationService
    init(_ service: CoordinationService) { self.service = service }

    func start() async throws { try await service.start() }
    var boundPort: Int { service.boundPort }
    func stop() async { await service.stop() }

    func onRoleChange(_ listener: @escaping @Sendable (HARoleEvent) -> Void) {
        service.onRoleChange { event in
            switch event {
            case .pending: listener(.pending)
            case .master(let epoch): listener(.master(epoch: epoch))
            case .slave(let master, let epoch, let addresses):
                listener(.slave(master: master, epoch: epoch, masterData: addresses.data))
            }
        }
    }

    var members: [HAMember] {
        service.snapshot.members.map { m in
            HAMember(
                id: m.id, isArbiter: m.kind == .arbiter, alive: m.alive, role: m.role,
                coordination: m.addresses.coordination, data: m.addresses.data, bolt: m.addresses.bolt,
                http: m.addresses.http, lastCommittedTx: m.lastCommitted.lastCommittedTx,
                isSlaveOnly: m.kind == .data(slaveOnly: true))
        }
    }

    func isAcceptingWrites() -> Bool { service.isAcceptingWrites() }
}

final class NIODataService: HADataService, @unchecked Sendable {
    let server: DataServer
    init(_ server: DataServer) { self.server = server }
    func start(host: String, port: Int) async throws { try await server.start(host: host, port: port) }
    var boundPort: Int { server.boundPort }
    func stop() async { await server.stop() }
    func setEpoch(_ epoch: Epoch, isMaster: Bool) { server.setEpoch(epoch, isMaster: isMaster) }
}

/// DataClient calls, with the data port's own failures turned into the transient errors drivers retry (a
/// master's DatabaseError crosses the wire with its code and passes through unchanged).
final class NIODataLink: HADataLink, @unchecked Sendable {
    let client: DataClient
    init(_ client: DataClient) { self.client = client }

    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DataPortError {
            switch error {
            case .notMaster, .staleEpoch:
                throw DatabaseError(
                    "Neo.TransientError.Transaction.InstanceStateChanged",
                    "The master changed while the transaction ran (\(error)); retry it.")
            case .unavailable, .protocolViolation:
                throw DatabaseError(
                    .databaseUnavailable,
                    "Cannot reach the master at \(client.address): \(error). The master is either down, or there "
                        + "are network problems; retry.")
            }
        }
    }

    func pullTransactions(from: TxID, limit: Int) async throws -> [CommittedTransaction] {
        try await mapped { try await client.pullTransactions(from: from, limit: limit) }
    }
    func transactionStamp(at tx: TxID) async throws -> TransactionStamp? {
        try await mapped { try await client.transactionStamp(at: tx) }
    }
    func push(_ tx: CommittedTransaction, epoch: Epoch, catchingUpFrom database: GraphDatabase) async throws {
        _ = try await client.push(tx, epoch: epoch, catchingUpFrom: database)
    }
    func storeID() async throws -> StoreID? {
        try await mapped { try await client.storeInfo().storeID }
    }
    func copyStore(into directory: String) async throws -> TxID {
        try await mapped { try await client.copyStore(into: directory) }
    }
    func forwardBegin(user: String, metadata: [String: Value], timeout: Duration?, epoch: Epoch) async throws
        -> UInt64
    {
        try await mapped {
            try await client.forwardBegin(user: user, metadata: metadata, timeout: timeout, epoch: epoch)
        }
    }
    func forwardRun(_ tx: UInt64, query: String, parameters: [String: Value]) async throws -> HAForwardedResult {
        let r = try await mapped { try await client.forwardRun(tx, query: query, parameters: parameters) }
        return HAForwardedResult(keys: r.keys, rows: r.rows, statistics: r.statistics)
    }
    func forwardCommit(_ tx: UInt64) async throws -> UInt64 {
        try await mapped { try await client.forwardCommit(tx) }
    }
    func forwardRollback(_ tx: UInt64) async throws {
        try await mapped { try await client.forwardRollback(tx) }
    }
    func close() async { await client.close() }
}
