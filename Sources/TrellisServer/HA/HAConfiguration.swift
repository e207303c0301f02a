import ClusterCore
import Foundation

/// The `ha.*` settings of one cluster member, read and checked once at start-up so that a mistake stops the
/// instance with a message naming the setting, instead of surfacing later as a member that never joins.
public struct HAConfiguration: Sendable, Hashable {
    /// `ha.server_id`.
    public var serverID: MemberID
    /// Data member (`dbms.mode=HA`, possibly `ha.slave_only`) or arbiter (`dbms.mode=ARBITER`).
    public var kind: MemberKind
    /// `ha.initial_hosts`, each "host:port".
    public var initialHosts: [String]
    /// `ha.host.coordination`: host and the ports tried in order (0...0: an ephemeral port, for tests).
    public var coordinationHost: String
    public var coordinationPorts: ClosedRange<Int>
    /// `ha.host.data`.
    public var dataHost: String
    public var dataPorts: ClosedRange<Int>
    /// `ha.host.coordination.advertised_address` / `ha.host.data.advertised_address`: what the other members are
    /// told instead of the bound address (a proxy or port forward in between); nil parts come from the bound one.
    public var coordinationAdvertised: SocketAddressSetting?
    public var dataAdvertised: SocketAddressSetting?
    /// The host other members and clients reach this one at (`dbms.connectors.default_advertised_address`) when
    /// the listen host is a wildcard.
    public var advertisedHost: String
    public var heartbeatInterval: Duration
    public var heartbeatTimeout: Duration
    public var electionTimeout: Duration
    public var joinTimeout: Duration
    public var allowInitCluster: Bool
    /// `ha.tx_push_factor`, `ha.tx_push_strategy`, `ha.tx_push_strict`.
    public var pushFactor: Int
    public var pushStrategy: PushStrategy
    public var pushStrict: Bool
    /// `ha.pull_interval` (zero: no periodic pull) and `ha.pull_batch_size`.
    public var pullInterval: Duration
    public var pullBatchSize: Int
    /// `ha.slave_read_timeout`: the longest a slave waits for the master (pull, forwarded statement, push ack).
    public var readTimeout: Duration
    /// `ha.slave_lock_timeout` + 5 s: forwarded transactions idle longer on the master are rolled back (their
    /// slave is presumed gone), as Neo4j reaps idle lock sessions.
    public var forwardedIdleTimeout: Duration
    /// `ha.branched_data_policy`: keep_all, keep_last or keep_none.
    public var branchedDataPolicy: String
    /// `ha.branched_data_copying_strategy`: true for `copy_then_branch` (the master's store is copied into
    /// `<db>/temp-copy/` first and the old store moved away only once the copy is complete), false for
    /// `branch_then_copy` (the old store is moved away first; the default).
    public var copyThenBranch: Bool
    /// Where the election state (epoch, vote) is kept durably: `<data>/cluster-state`.
    public var stateDirectory: String
    /// `ha.cluster_name` (or its 3.x name `unsupported.ha.cluster_name` when only that is set).
    public var clusterName: String

    /// Reads and validates the HA settings of `config` for `dbms.mode` HA or ARBITER.
    public init(config: Config) throws {
        let mode = config.get(Settings.mode)
        guard mode == "HA" || mode == "ARBITER" else {
            throw LifecycleError("HA settings are only read for dbms.mode=HA or ARBITER, not \(mode)")
        }
        guard let id = config.get(Settings.haServerID) else {
            throw LifecycleError(
                "ha.server_id is mandatory when dbms.mode=\(mode): give every cluster member a unique integer "
                    + "(for example ha.server_id=1).")
        }
        serverID = MemberID(Int(id))
        kind = mode == "ARBITER" ? .arbiter : .data(slaveOnly: config.get(Settings.haSlaveOnly))
        let hosts = config.get(Settings.haInitialHosts)
        guard !hosts.isEmpty else {
            throw LifecycleError(
                "ha.initial_hosts is mandatory when dbms.mode=\(mode): list every member's coordination address, "
                    + "the same on all members (for example ha.initial_hosts=host1:5001,host2:5001,host3:5001).")
        }
        for host in hosts {
            guard Self.isHostPort(host) else {
                throw LifecycleError(
                    "ha.initial_hosts entry '\(host)' is not a host:port address with a port in 1...65535.")
            }
        }
        initialHosts = hosts
        advertisedHost = config.get(Settings.defaultAdvertisedAddress)
        let listenDefault = config.get(Settings.defaultListenAddress)
        let coordination = config.get(Settings.haHostCoordination)
        coordinationHost = coordination.host ?? listenDefault
        coordinationPorts = coordination.ports
        coordinationAdvertised = config.get(Settings.haHostCoordinationAdvertised)
        dataAdvertised = config.get(Settings.haHostDataAdvertised)
        let data = config.get(Settings.haHostData)
        dataHost = data.host ?? listenDefault
        dataPorts = data.ports
        heartbeatInterval = config.get(Settings.haHeartbeatInterval)
        heartbeatTimeout = config.get(Settings.haHeartbeatTimeout)
        electionTimeout = config.get(Settings.haElectionTimeout)
        guard heartbeatInterval > .zero else {
            throw LifecycleError("ha.heartbeat_interval must be positive, got \(heartbeatInterval).")
        }
        guard heartbeatTimeout >= heartbeatInterval * 2 else {
            throw LifecycleError(
                "ha.heartbeat_timeout (\(heartbeatTimeout)) must be at least twice ha.heartbeat_interval "
                    + "(\(heartbeatInterval)); a shorter time-out suspects members after a single lost heartbeat.")
        }
        guard electionTimeout > .zero else {
            throw LifecycleError("ha.election_timeout must be positive, got \(electionTimeout).")
        }
        joinTimeout = config.get(Settings.haJoinTimeout)
        allowInitCluster = config.get(Settings.haAllowInitCluster)
        pushFactor = Int(config.get(Settings.haTxPushFactor))
        switch config.get(Settings.haTxPushStrategy) {
        case "fixed_descending": pushStrategy = .fixedDescending
        case "round_robin": pushStrategy = .roundRobin
        default: pushStrategy = .fixedAscending
        }
        pushStrict = config.get(Settings.haTxPushStrict)
        pullInterval = config.get(Settings.haPullInterval)
        pullBatchSize = Int(config.get(Settings.haPullBatchSize))
        readTimeout = config.get(Settings.haSlaveReadTimeout)
        guard readTimeout > .zero else {
            throw LifecycleError("ha.slave_read_timeout must be positive, got \(readTimeout).")
        }
        forwardedIdleTimeout = config.get(Settings.haSlaveLockTimeout) + .seconds(5)
        branchedDataPolicy = config.get(Settings.haBranchedDataPolicy)
        copyThenBranch = config.get(Settings.haBranchedDataCopyingStrategy) == "copy_then_branch"
        stateDirectory = (config.dataDirectory as NSString).appendingPathComponent("cluster-state")
        let name = config.get(Settings.haClusterName)
        let legacy = config.get(Settings.haUnsupportedClusterName)
        clusterName = name == Settings.haClusterName.defaultText ? legacy : name
    }

    /// "host:port" with a non-empty host and a port in 1...65535 (IPv6 literals in brackets).
    static func isHostPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":") else { return false }
        let host = text[..<colon]
        guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty else {
            return false
        }
        if host.contains(":") { return host.hasPrefix("[") && host.hasSuffix("]") }
        return !host.contains(where: { $0 == " " || $0 == "/" })
    }

    /// The address others use for a listener bound to `host:port`: a wildcard host becomes the advertised host.
    func advertised(host: String, port: Int) -> String {
        let h = (host == "0.0.0.0" || host == "::" || host.isEmpty) ? advertisedHost : host
        return h.contains(":") ? "[\(h)]:\(port)" : "\(h):\(port)"
    }

    /// The coordination address this member announces in its hello (and that the others look up in their
    /// `ha.initial_hosts`) when bound to `port`.
    func advertisedCoordination(boundPort port: Int) -> String {
        advertised(host: coordinationAdvertised?.host ?? coordinationHost, port: coordinationAdvertised?.port ?? port)
    }

    /// The data address the other members dial when this member's data port is bound to `port`.
    func advertisedData(boundPort port: Int) -> String {
        advertised(host: dataAdvertised?.host ?? dataHost, port: dataAdvertised?.port ?? port)
    }
}

/// `run/ha-role`: this member's HA role as the HA endpoints would answer it ("master", "slave", "UNKNOWN", or
/// "arbiter"), for `trellis status`. Written by the running instance, removed at a clean stop.
public enum HARoleFile {
    public static func path(_ config: Config) -> String { config.runDirectory + "/ha-role" }

    /// Replaces the file atomically, so a reader never sees a half-written role.
    static func write(_ role: String, to path: String) throws {
        try Data((role + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The role the running instance last wrote, if any.
    public static func read(_ config: Config) -> String? {
        guard let text = try? String(contentsOfFile: path(config), encoding: .utf8) else { return nil }
        let role = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return role.isEmpty ? nil : role
    }
}
