import ClusterCore

/// The addresses a member advertises to the others: sent in its hello, so every member can tell clients and the
/// data port where the master is.
public struct MemberAddresses: Hashable, Sendable, Codable {
    /// `ha.host.coordination` as the other members reach it, "host:port" (the entry they list in `ha.initial_hosts`).
    public var coordination: String
    /// `ha.host.data`, "host:port"; nil for arbiters.
    public var data: String?
    /// The advertised Bolt "host:port"; nil for arbiters.
    public var bolt: String?
    /// The advertised HTTP "host:port".
    public var http: String?

    /// Creates the address set.
    public init(coordination: String, data: String? = nil, bolt: String? = nil, http: String? = nil) {
        self.coordination = coordination
        self.data = data
        self.bolt = bolt
        self.http = http
    }
}

/// Everything the coordination service needs from `neo4j.conf` (the `ha.*` settings) and the data directory.
public struct CoordinationSettings: Sendable {
    /// `ha.server_id`.
    public var me: MemberID
    /// Data member (`ha.slave_only` inside) or arbiter (`dbms.mode=ARBITER`).
    public var kind: MemberKind
    /// Interface part of `ha.host.coordination`.
    public var listenHost: String
    /// Port part of `ha.host.coordination`; 0 binds an ephemeral port (tests), see `CoordinationService.boundPort`.
    public var listenPort: Int
    /// `ha.initial_hosts`: "host:port" coordination addresses, normally the same list on every member and including
    /// this one. The voter set is these hosts (plus this member if it is not listed); quorum is a majority of it.
    public var initialHosts: [String]
    /// What this member advertises.
    public var addresses: MemberAddresses
    /// `ha.heartbeat_interval`.
    public var heartbeatInterval: Duration
    /// `ha.heartbeat_timeout` (at least twice the interval).
    public var heartbeatTimeout: Duration
    /// `ha.election_timeout`.
    public var electionTimeout: Duration
    /// `ha.allow_init_cluster`: false means this member joins an existing cluster but never founds one.
    public var allowInitCluster: Bool
    /// `ha.join_timeout`: how long to look for a master before logging that joining failed (and retrying).
    public var joinTimeout: Duration
    /// Where the election state (`PersistentElectionState`: epoch and vote) is kept durably.
    public var stateDirectory: String
    /// `unsupported.ha.cluster_name`: members of differently named clusters refuse each other.
    public var clusterName: String

    /// Creates settings; timing defaults are ClusterCore's (docs/clustering-design.md, "Defaults and why").
    public init(
        me: MemberID,
        kind: MemberKind = .data(slaveOnly: false),
        listenHost: String = "0.0.0.0",
        listenPort: Int = 5001,
        initialHosts: [String],
        addresses: MemberAddresses,
        heartbeatInterval: Duration = ClusterConfiguration.defaultHeartbeatInterval,
        heartbeatTimeout: Duration = ClusterConfiguration.defaultHeartbeatTimeout,
        electionTimeout: Duration = ClusterConfiguration.defaultElectionTimeout,
        allowInitCluster: Bool = true,
        joinTimeout: Duration = .seconds(30),
        stateDirectory: String,
        clusterName: String = "neo4j.ha"
    ) {
        self.me = me
        self.kind = kind
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.initialHosts = initialHosts
        self.addresses = addresses
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.electionTimeout = electionTimeout
        self.allowInitCluster = allowInitCluster
        self.joinTimeout = joinTimeout
        self.stateDirectory = stateDirectory
        self.clusterName = clusterName
    }
}

/// This member's role as the rest of the server must act on it.
public enum ClusterRoleEvent: Hashable, Sendable {
    /// No master known, or quorum lost: serve reads only.
    case pending
    /// This member won the election for `epoch`; writes are allowed while `CoordinationService.isAcceptingWrites()`.
    case master(epoch: Epoch)
    /// This member follows `master` in `epoch`.
    case slave(master: MemberID, epoch: Epoch, masterAddresses: MemberAddresses)
}

/// One member as this member sees it.
public struct MemberStatus: Hashable, Sendable {
    /// Its server id.
    public var id: MemberID
    /// Data member or arbiter.
    public var kind: MemberKind
    /// What it advertised in its hello.
    public var addresses: MemberAddresses
    /// Heard from within the heartbeat time-out (always true for this member itself).
    public var alive: Bool
    /// "master", "slave" or "UNKNOWN" as Neo4j reports roles; "arbiter" for arbiters.
    public var role: String
    /// Its last committed transaction, from its latest heartbeat.
    public var lastCommitted: LogPosition

    /// Creates a status row.
    public init(id: MemberID, kind: MemberKind, addresses: MemberAddresses, alive: Bool, role: String,
                lastCommitted: LogPosition) {
        self.id = id
        self.kind = kind
        self.addresses = addresses
        self.alive = alive
        self.role = role
        self.lastCommitted = lastCommitted
    }
}

/// A consistent picture of the cluster from this member.
public struct ClusterSnapshot: Hashable, Sendable {
    /// This member.
    public var me: MemberID
    /// Its current role.
    public var event: ClusterRoleEvent
    /// Every member known so far (learned by handshake), this one included, ascending by id.
    public var members: [MemberStatus]

    /// Creates a snapshot.
    public init(me: MemberID, event: ClusterRoleEvent, members: [MemberStatus]) {
        self.me = me
        self.event = event
        self.members = members
    }
}

/// A coordination set-up problem an operator must fix (bad address, unreadable election state).
public struct CoordinationError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in words for the log.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
