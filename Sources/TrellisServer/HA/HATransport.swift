import ClusterCore
import GraphKernel
import GraphValues

// The seams between `HAInstance` (role switching, replication decisions, forwarding) and the pieces that move
// bytes: coordination (membership, heartbeats, election), the data port (pull, push, store copy, forwarded
// transactions) and the kernel's replication hooks. `HATransport.nio` builds them from ClusterNIO and GraphKernel;
// keeping them behind these small protocols lets the switch logic be exercised in-process as well.

/// A role decided by the coordination layer (ClusterNIO's `ClusterRoleEvent`).
public enum HARoleEvent: Hashable, Sendable {
    /// No master known, or quorum lost: reads only.
    case pending
    /// This member won the election for `epoch`.
    case master(epoch: Epoch)
    /// `master` leads `epoch`; `masterData` is its data port ("host:port").
    case slave(master: MemberID, epoch: Epoch, masterData: String?)
}

/// One member as coordination sees it (ClusterNIO's `MemberStatus` with its advertised addresses).
public struct HAMember: Hashable, Sendable {
    public var id: MemberID
    public var isArbiter: Bool
    public var alive: Bool
    /// "master", "slave", "UNKNOWN" or "arbiter".
    public var role: String
    public var coordination: String
    public var data: String?
    public var bolt: String?
    public var http: String?
    public var lastCommittedTx: UInt64
    /// `ha.slave_only`: never elected, so never a strict push target (see `HAInstance.committedOnMaster`).
    public var isSlaveOnly: Bool

    public init(
        id: MemberID, isArbiter: Bool, alive: Bool, role: String, coordination: String, data: String?,
        bolt: String?, http: String?, lastCommittedTx: UInt64, isSlaveOnly: Bool = false
    ) {
        self.isSlaveOnly = isSlaveOnly
        self.id = id
        self.isArbiter = isArbiter
        self.alive = alive
        self.role = role
        self.coordination = coordination
        self.data = data
        self.bolt = bolt
        self.http = http
        self.lastCommittedTx = lastCommittedTx
    }
}

/// What a coordination member is started with (ClusterNIO's `CoordinationSettings`).
public struct HACoordinatorSettings: Sendable, Hashable {
    public var me: MemberID
    public var kind: MemberKind
    public var listenHost: String
    public var listenPort: Int
    public var initialHosts: [String]
    /// Advertised addresses, gossiped to the other members.
    public var coordinationAddress: String
    public var dataAddress: String?
    public var boltAddress: String?
    public var httpAddress: String?
    public var heartbeatInterval: Duration
    public var heartbeatTimeout: Duration
    public var electionTimeout: Duration
    public var allowInitCluster: Bool
    public var joinTimeout: Duration
    public var stateDirectory: String
    /// `ha.cluster_name`: members of differently named clusters refuse each other.
    public var clusterName: String
}

/// The head of this member's log as elections rank it: the last committed transaction and the epoch of the master
/// that committed it (a log ending in a newer epoch outranks a longer one from an older epoch; see
/// `ElectionCredentials.outranks`).
public struct HALogHead: Hashable, Sendable {
    public var tx: UInt64
    public var epoch: Epoch

    public init(tx: UInt64, epoch: Epoch) {
        self.tx = tx
        self.epoch = epoch
    }
}

/// Membership and election for one member.
public protocol HACoordinator: AnyObject, Sendable {
    /// Binds and starts taking part; returns once listening.
    func start() async throws
    var boundPort: Int { get }
    func stop() async
    /// Role decisions, in order. Called off the event loops.
    func onRoleChange(_ listener: @escaping @Sendable (HARoleEvent) -> Void)
    /// Every configured member, this one included.
    var members: [HAMember] { get }
    /// True only while this member is master and holds its lease.
    func isAcceptingWrites() -> Bool
}

/// A statement's outcome on the master, for a transaction forwarded by a slave (ClusterNIO's `ForwardedResult`).
public struct HAForwardedResult: Sendable, Hashable {
    public var keys: [String]
    public var rows: [[Value]]
    /// Neo4j counter names ("nodes-created", …) to counts.
    public var statistics: [String: Int64]

    public init(keys: [String], rows: [[Value]], statistics: [String: Int64]) {
        self.keys = keys
        self.rows = rows
        self.statistics = statistics
    }
}

/// The data port server every data member runs (ClusterNIO's `DataServer`).
public protocol HADataService: AnyObject, Sendable {
    func start(host: String, port: Int) async throws
    var boundPort: Int { get }
    func stop() async
    /// Pushes and forwarded transactions from older epochs are refused (fencing).
    func setEpoch(_ epoch: Epoch, isMaster: Bool)
}

/// One connection to another member's data port (ClusterNIO's `DataClient`).
public protocol HADataLink: AnyObject, Sendable {
    /// Committed transactions from `from` on, at most `limit`. Throws
    /// `TransactionLogError.transactionsNotAvailable` when the master no longer has them (store copy needed).
    func pullTransactions(from: TxID, limit: Int) async throws -> [CommittedTransaction]
    func transactionStamp(at: TxID) async throws -> TransactionStamp?
    /// Returns once `tx` is durable on the member; transactions it misses before `tx` are sent along from
    /// `database`'s log (commit hooks of concurrent commits run in any order).
    func push(_ tx: CommittedTransaction, epoch: Epoch, catchingUpFrom database: GraphDatabase) async throws
    /// A full store copy into `directory`, which must not hold a store; returns the tx id the copy ends at.
    func copyStore(into directory: String) async throws -> TxID
    /// The member's store id: a store with another id is another database, never a copy of this one.
    func storeID() async throws -> StoreID?
    /// `epoch`: the epoch the slave believes the member is master of (fencing).
    func forwardBegin(user: String, metadata: [String: Value], timeout: Duration?, epoch: Epoch) async throws
        -> UInt64
    func forwardRun(_ tx: UInt64, query: String, parameters: [String: Value]) async throws -> HAForwardedResult
    /// Returns the master's last committed tx id after the commit.
    func forwardCommit(_ tx: UInt64) async throws -> UInt64
    func forwardRollback(_ tx: UInt64) async throws
    func close() async
}

extension HADataLink {
    /// Links that cannot tell (test transports) report nil, and the store id check is skipped.
    public func storeID() async throws -> StoreID? { nil }
}

/// Bytes a member's data port sent, by purpose (neo4j-ha.md §8).
public struct HANetworkTraffic: Sendable, Hashable {
    /// Forwarded transactions this member sent to the master as a slave.
    public var slaveTransactionBytes: Int
    /// Committed transactions this member sent to slaves as master (pull replies and pushes).
    public var masterTransactionBytes: Int
    /// Store files this member sent in store copies.
    public var masterStoreBytes: Int

    public init(slaveTransactionBytes: Int, masterTransactionBytes: Int, masterStoreBytes: Int) {
        self.slaveTransactionBytes = slaveTransactionBytes
        self.masterTransactionBytes = masterTransactionBytes
        self.masterStoreBytes = masterStoreBytes
    }
}

/// Builds the pieces `HAInstance` drives.
public struct HATransport: Sendable {
    public var makeCoordinator: @Sendable (HACoordinatorSettings, @escaping @Sendable () -> HALogHead) -> any HACoordinator
    public var makeDataService: @Sendable (GraphDatabase, ForwardedTransactions) -> any HADataService
    public var makeDataLink: @Sendable (String) -> any HADataLink
    /// Installs the kernel's commit gate (checked before a local write commit) and commit hook (after a local
    /// commit is durable, before it returns) on `database`; nil removes them.
    public var installKernelHooks:
        @Sendable (GraphDatabase, (@Sendable () throws -> Void)?, (@Sendable (CommittedTransaction) throws -> Void)?)
            -> Void
    /// Moves the store files of `databaseDirectory` to `branched/<timestamp>/` per `ha.branched_data_policy`
    /// (keep_all, keep_last, keep_none); returns where they went.
    public var moveToBranched: @Sendable (String, String) throws -> String
    /// Bytes the data port has sent so far (`neo4j.network.*` metrics); nil when the transport moves no bytes
    /// over a network (in-process test transports), and then those metrics are not reported.
    public var networkTraffic: (@Sendable () -> HANetworkTraffic)?

    public init(
        makeCoordinator: @escaping @Sendable (HACoordinatorSettings, @escaping @Sendable () -> HALogHead)
            -> any HACoordinator,
        makeDataService: @escaping @Sendable (GraphDatabase, ForwardedTransactions) -> any HADataService,
        makeDataLink: @escaping @Sendable (String) -> any HADataLink,
        installKernelHooks: @escaping @Sendable (
            GraphDatabase, (@Sendable () throws -> Void)?, (@Sendable (CommittedTransaction) throws -> Void)?
        ) -> Void,
        moveToBranched: @escaping @Sendable (String, String) throws -> String,
        networkTraffic: (@Sendable () -> HANetworkTraffic)? = nil
    ) {
        self.networkTraffic = networkTraffic
        self.makeCoordinator = makeCoordinator
        self.makeDataService = makeDataService
        self.makeDataLink = makeDataLink
        self.installKernelHooks = installKernelHooks
        self.moveToBranched = moveToBranched
    }
}
