import Foundation
import GraphKernel

/// The settings registry: every setting Trellis accepts, with Neo4j 3.x names and defaults
/// (neo4j-ops.md §1–2, neo4j-ha.md for `ha.*`, `metrics.*`). `docs/configuration.md` is generated from `all`
/// (`trellis admin generate-config-docs`); a test checks the committed file matches.
///
/// Typed handles are declared for settings the server reads; cluster and metrics settings are declared now,
/// with their defaults, so that configuration files written for them validate before those features land.
public enum Settings {
    // MARK: - Directories and database
    public static let home = Setting<String>.path(
        "dbms.directories.home", "", "Accepted for compatibility; no effect: the home folder is TRELLIS_HOME (default: the current "
            + "directory), which is also where `conf/trellis.conf` is looked for.")
    public static let dataDirectory = Setting<String>.path(
        "dbms.directories.data", "data", "Data folder: databases under `databases/`, users under `dbms/`.")
    public static let logsDirectory = Setting<String>.path("dbms.directories.logs", "logs", "Log folder.")
    public static let runDirectory = Setting<String>.path(
        "dbms.directories.run", "run", "Folder of the pid file `trellis.pid`.")
    public static let importDirectory = Setting<String>.path(
        "dbms.directories.import", "import", "Folder LOAD CSV reads `file:///` URLs from.")
    public static let certificatesDirectory = Setting<String>.path(
        "dbms.directories.certificates", "certificates",
        "Folder of TLS material (`private.key`, `public.crt`) for Bolt and HTTPS.")
    public static let pluginsDirectory = Setting<String>.path(
        "dbms.directories.plugins", "plugins", "Accepted for compatibility; Trellis loads no plugins.")
    public static let libDirectory = Setting<String>.path(
        "dbms.directories.lib", "lib", "Accepted for compatibility; unused.")
    public static let metricsDirectory = Setting<String>.path(
        "dbms.directories.metrics", "metrics", "Folder of CSV metrics files.")
    public static let txLogDirectory = Setting<String>.path(
        "dbms.directories.tx_log", "",
        "Accepted for compatibility; no effect: the transaction logs always live in the database folder "
            + "(`<data>/databases/<active_database>/`).")
    public static let activeDatabase = Setting<String>.string(
        "dbms.active_database", "graph.db", "Name of the database folder under `<data>/databases/`.")
    public static let readOnly = Setting<Bool>.boolean(
        "dbms.read_only", false, "Refuse every write (Neo.ClientError.General.ForbiddenOnReadOnlyDatabase).")
    public static let allowUpgrade = Setting<Bool>.boolean(
        "dbms.allow_upgrade", false,
        "Accepted for compatibility; no effect: Trellis has one store format, so there is nothing to migrate "
            + "(a store it cannot read stops start-up with Neo.DatabaseError.General.StorageDamageDetected).")
    public static let allowFormatMigration = Setting<Bool>.boolean(
        "dbms.allow_format_migration", false,
        "Accepted for compatibility; older name of `dbms.allow_upgrade`, no effect either.")
    public static let recordFormat = Setting<String>(
        "dbms.record_format", default: "", type: "`standard` or empty",
        "Store record format; empty or `standard`, the only format Trellis writes. Any other value (Neo4j's "
            + "`high_limit`) stops start-up rather than being silently ignored."
    ) { (t: String) throws(SettingValueError) in
        let value = t.trimmingCharacters(in: .whitespaces)
        guard value.isEmpty || value.caseInsensitiveCompare("standard") == .orderedSame else {
            throw SettingValueError(expected: "standard (the only record format Trellis has) or nothing")
        }
        return value.lowercased()
    }
    public static let mode = Setting<String>.oneOf(
        "dbms.mode", "SINGLE", ["SINGLE", "HA", "ARBITER", "CORE", "READ_REPLICA"],
        "Operating mode. SINGLE is a stand-alone instance. HA is a data member of a master/slave cluster (see `ha.*`); "
            + "ARBITER only votes (coordination port, no store, no Bolt or HTTP). CORE and READ_REPLICA (causal "
            + "clustering) are refused at start-up.")
    public static let strictValidation = Setting<Bool>.boolean(
        "dbms.config.strict_validation", true,
        "Stop start-up on an unknown setting name. When false, unknown names are only logged as warnings.")
    public static let jvmAdditional = Setting<[String]>.list(
        "dbms.jvm.additional", "", "Accepted (and may repeat) for compatibility with neo4j.conf; ignored.")

    // MARK: - Memory, checkpoints, transaction logs
    public static let pageCacheSize = Setting<Int64?>.optionalByteSize(
        "dbms.memory.pagecache.size",
        "Page cache size. Unset: half of (RAM - heap), at least 32 MiB and at most 20 GiB (as Neo4j).")
    public static let adjacencyCacheSize = Setting<Int64>.byteSize(
        "trellis.memory.adjacency_cache.size", "512m",
        "Memory for the adjacency cache: the committed relationships of recently expanded nodes as packed arrays, "
            + "so expanding them is a sequential scan (Trellis-specific; 0 disables it).")
    public static let heapInitialSize = Setting<Int64?>.optionalByteSize(
        "dbms.memory.heap.initial_size", "Accepted for compatibility (there is no JVM heap); ignored.")
    public static let heapMaxSize = Setting<Int64?>.optionalByteSize(
        "dbms.memory.heap.max_size", "Accepted for compatibility (there is no JVM heap); ignored.")
    public static let txLogRetention = Setting<RetentionPolicy>.retention(
        "dbms.tx_log.rotation.retention_policy", "7 days", dynamic: true,
        "How many transaction logs to keep: keep_all, keep_none, or e.g. `100M size`, `200k txs`, `10 days`.")
    public static let txLogRotationSize = Setting<Int64>.byteSize(
        "dbms.tx_log.rotation.size", "250M", min: 1 << 20, dynamic: true,
        "Size at which the transaction log rotates to a new file (at least 1M).")
    public static let txLogPreallocate = Setting<Bool>.boolean(
        "dbms.tx_log.preallocate", true,
        "Keep the active transaction log file zero-filled ahead of the write position (in the background, up to "
            + "16 MiB at a time), so a commit's fdatasync writes only data, not the metadata of a grown file. "
            + "Rotated files are cut to their last entry. Neo4j 4.x name.")
    public static let checkpointIntervalTime = Setting<Duration>.duration(
        "dbms.checkpoint.interval.time", "15m", "Longest time between checkpoints.")
    public static let checkpointIntervalTx = Setting<Int64>.integer(
        "dbms.checkpoint.interval.tx", 100_000, range: 1...Int64.max,
        "Most transactions between checkpoints.")
    public static let checkpointIopsLimit = Setting<Int64>.integer(
        "dbms.checkpoint.iops.limit", 300, range: -1...Int64.max,
        "Accepted for compatibility; no effect: checkpoints write at full speed (their cost is measured in "
            + "performance.md).")
    public static let checkpointPolicy = Setting<String>.oneOf(
        "dbms.checkpoint", "periodic", ["periodic", "continuous", "volumetric"],
        "Checkpoint policy. Trellis checkpoints periodically (`dbms.checkpoint.interval.*`) whatever the value; "
            + "continuous and volumetric are accepted and have no effect.")
    public static let transactionTimeout = Setting<Duration>.duration(
        "dbms.transaction.timeout", "0", dynamic: true,
        "Time-out for every transaction that does not set its own (0: none). Time-outs roll the transaction back.")
    public static let transactionMonitorCheckInterval = Setting<Duration>.duration(
        "dbms.transaction.monitor.check.interval", "200ms", positive: true,
        "How often the transaction reaper looks for transactions past their time-out and rolls back those whose "
            + "client is idle. Neo4j's default is 2s; Trellis looks more often so a time-out ends closer to its "
            + "deadline (a check costs one pass over the open transactions).")
    public static let bookmarkReadyTimeout = Setting<Duration>.duration(
        "dbms.transaction.bookmark_ready_timeout", "30s",
        "How long a transaction that names a bookmark waits for this instance to have applied it "
            + "(then Neo.TransientError.Transaction.BookmarkTimeout). Neo4j 4.x name.")
    public static let lockAcquisitionTimeout = Setting<Duration>.duration(
        "dbms.lock.acquisition.timeout", "0", "Longest wait for a lock (0: wait until deadlock detection).")
    public static let restTransactionIdleTimeout = Setting<Duration>.duration(
        "dbms.rest.transaction.idle_timeout", "60s", "HTTP open transactions idle this long are rolled back.")
    public static let relationshipGroupingThreshold = Setting<Int64>.integer(
        "dbms.relationship_grouping_threshold", 50, range: 1...10_000,
        "Relationship count from which a node stores its relationships grouped by type.")
    public static let queryCacheSize = Setting<Int64>.integer(
        "dbms.query_cache_size", 1000, range: 0...1_000_000, "Cached query plans.")

    // MARK: - Connectors
    public static let defaultListenAddress = Setting<String>.string(
        "dbms.connectors.default_listen_address", "127.0.0.1",
        "Host connectors listen on when their listen_address has no host. `0.0.0.0` allows remote access.")
    public static let defaultAdvertisedAddress = Setting<String>.string(
        "dbms.connectors.default_advertised_address", "localhost",
        "Host advertised to clients (routing tables, discovery) when an advertised_address has no host.")
    public static let boltEnabled = Setting<Bool>.boolean("dbms.connector.bolt.enabled", true, "Bolt connector.")
    public static let boltListenAddress = Setting<SocketAddressSetting>.address(
        "dbms.connector.bolt.listen_address", ":7687", "Bolt listen address.")
    public static let boltAdvertisedAddress = Setting<SocketAddressSetting?>.optionalAddress(
        "dbms.connector.bolt.advertised_address",
        "Bolt address put in routing tables; missing parts come from the listen port and the default advertised host.")
    public static let boltTLSLevel = Setting<String>.oneOf(
        "dbms.connector.bolt.tls_level", "OPTIONAL", ["REQUIRED", "OPTIONAL", "DISABLED"],
        "Bolt TLS: REQUIRED refuses plain connections, OPTIONAL accepts both, DISABLED plain only. "
            + "OPTIONAL without a certificate behaves as DISABLED.")
    public static let boltThreadPoolMinSize = Setting<Int64>.integer(
        "dbms.connector.bolt.thread_pool_min_size", 5, range: 1...10_000,
        "Accepted for compatibility; no effect: Bolt runs on a fixed set of event-loop threads (see "
            + "`thread_pool_max_size`).")
    public static let boltThreadPoolMaxSize = Setting<Int64>.integer(
        "dbms.connector.bolt.thread_pool_max_size", 400, range: 1...10_000,
        "Most Bolt event-loop threads; Trellis never starts more than there are CPU cores, all at start-up.")
    public static let boltThreadPoolKeepAlive = Setting<Duration>.duration(
        "dbms.connector.bolt.thread_pool_keep_alive", "5m",
        "Accepted for compatibility; no effect: the Bolt threads run until shutdown.")
    public static let boltMaxMessageSize = Setting<Int64>.byteSize(
        "dbms.connector.bolt.max_message_size", "64M", min: 1024,
        "Trellis addition. Largest Bolt message accepted; a larger one gets FAILURE and the connection is closed.")
    public static let boltMaxNestingDepth = Setting<Int64>.integer(
        "dbms.connector.bolt.max_nesting_depth", 64, range: 1...10_000,
        "Trellis addition. Deepest nesting of lists, maps and structures accepted in a Bolt message.")
    public static let boltMaxConnections = Setting<Int64>.integer(
        "dbms.connector.bolt.max_connections", 1000, range: 1...1_000_000,
        "Trellis addition. Bolt connections beyond this many are closed at once.")
    public static let boltHandshakeTimeout = Setting<Duration>.duration(
        "dbms.connector.bolt.handshake_timeout", "30s",
        "Trellis addition. A client that has not finished the handshake and authentication in this time is "
            + "disconnected (0: never).")
    public static let boltConnectionKeepAlive = Setting<Duration>.duration(
        "dbms.connector.bolt.connection_keep_alive", "0",
        "A Bolt connection that sends nothing for this long while no work runs for it is closed (0: never). "
            + "Neo4j's name; Trellis uses it as an idle time-out.")
    public static let boltEventLoopReads = Setting<Bool>.boolean(
        "dbms.connector.bolt.event_loop_reads", true,
        "Trellis addition. Answer a pipelined auto-commit RUN + PULL of a cached read-only plan (no procedure, no "
            + "LOAD CSV) on the connection's event loop when it needs no wait, at most 2 ms of work and at most "
            + "1,000 rows; anything else runs on the connection's worker as always. false: every statement does.")
    public static let boltEventLoopWrites = Setting<Bool>.boolean(
        "dbms.connector.bolt.event_loop_writes", true,
        "Trellis addition. Also run a pipelined auto-commit RUN + PULL of a cached plan that writes nodes, "
            + "relationships or properties (not the schema; no procedure, no LOAD CSV) on the connection's event loop, "
            + "on a single instance only, when no lock it needs is held by another transaction and its work up to "
            + "the commit takes at most 2 ms; the commit is durable before the reply, so the loop waits for one log "
            + "sync (shared with every commit syncing then). So that several such commits can share a sync, Bolt then "
            + "runs two event loops per core (at most thread_pool_max_size) instead of one. false: writes always run "
            + "on the connection's worker.")
    public static let httpEnabled = Setting<Bool>.boolean("dbms.connector.http.enabled", true, "HTTP connector.")
    public static let httpListenAddress = Setting<SocketAddressSetting>.address(
        "dbms.connector.http.listen_address", ":7474", "HTTP listen address.")
    public static let httpAdvertisedAddress = Setting<SocketAddressSetting?>.optionalAddress(
        "dbms.connector.http.advertised_address", "HTTP address advertised in the discovery document.")
    public static let httpsEnabled = Setting<Bool>.boolean(
        "dbms.connector.https.enabled", false,
        "HTTPS connector (needs `certificates/private.key` and `public.crt`). Neo4j enables it by default; "
            + "Trellis only when asked, because it needs a certificate.")
    public static let httpsListenAddress = Setting<SocketAddressSetting>.address(
        "dbms.connector.https.listen_address", ":7473", "HTTPS listen address.")
    public static let httpsAdvertisedAddress = Setting<SocketAddressSetting?>.optionalAddress(
        "dbms.connector.https.advertised_address", "HTTPS address advertised in the discovery document.")

    // MARK: - Security
    public static let authEnabled = Setting<Bool>.boolean(
        "dbms.security.auth_enabled", true, "Require authentication. Users live in `<data>/dbms/auth`.")
    public static let authMaxFailedAttempts = Setting<Int64>.integer(
        "dbms.security.auth_max_failed_attempts", 3, range: 0...1_000_000,
        "Failed logins in a row after which the user is locked for auth_lock_time (0: never lock).")
    public static let authLockTime = Setting<Duration>.duration(
        "dbms.security.auth_lock_time", "5s", "How long a user stays locked after too many failed logins.")
    public static let authCacheTTL = Setting<Duration>.duration(
        "dbms.security.auth_cache_ttl", "10m",
        "How long a verified password is remembered (as a salted SHA-256 in memory) so repeated logins and HTTP "
            + "requests skip the slow hash. 0 disables the cache. Any user or role change clears it.")
    public static let haStatusAuthEnabled = Setting<Bool>.boolean(
        "dbms.security.ha_status_auth_enabled", true, "Require authentication on /db/manage/server/ha/*.")
    public static let procedureUnrestricted = Setting<[String]>.list(
        "dbms.security.procedures.unrestricted", "", "Accepted for compatibility; unused.")
    public static let procedureWhitelist = Setting<[String]>.list(
        "dbms.security.procedures.whitelist", "", "Accepted for compatibility; unused.")
    public static let allowCSVImportFromFileURLs = Setting<Bool>.boolean(
        "dbms.security.allow_csv_import_from_file_urls", true, "Let LOAD CSV read `file:///` URLs.")
    public static let testingProceduresEnabled = Setting<Bool>.boolean(
        "trellis.testing.procedures.enabled", false,
        "For conformance testing only (the openCypher TCK's procedure fixtures): offer "
            + "`trellis.testing.registerProcedure(signature, header, rows)`, which admins use to add procedures "
            + "answering from a table. They live in memory until restart. Never enable in production.")

    // MARK: - Logs
    public static let logsTimezone = Setting<String>.oneOf(
        "dbms.logs.timezone", "UTC", ["UTC", "SYSTEM"], "Time zone of log timestamps.")
    public static let userLogRotationSize = Setting<Int64>.byteSize(
        "dbms.logs.user.rotation.size", "20m", min: 1024, "Size at which trellis.log rotates.")
    public static let userLogKeepNumber = Setting<Int64>.integer(
        "dbms.logs.user.rotation.keep_number", 7, range: 1...1000, "Rotated trellis.log files kept.")
    public static let debugLogLevel = Setting<String>.oneOf(
        "dbms.logs.debug.level", "INFO", ["DEBUG", "INFO", "WARN", "ERROR"], "Lowest level written to debug.log.")
    public static let debugLogRotationSize = Setting<Int64>.byteSize(
        "dbms.logs.debug.rotation.size", "20m", min: 1024, "Size at which debug.log rotates.")
    public static let debugLogKeepNumber = Setting<Int64>.integer(
        "dbms.logs.debug.rotation.keep_number", 7, range: 1...1000, "Rotated debug.log files kept.")
    public static let debugLogRotationDelay = Setting<Duration>.duration(
        "dbms.logs.debug.rotation.delay", "300s", "Accepted for compatibility; Trellis rotates on size only.")
    public static let queryLogEnabled = Setting<Bool>.boolean(
        "dbms.logs.query.enabled", false, dynamic: true, "Write queries slower than the threshold to query.log.")
    public static let queryLogThreshold = Setting<Duration>.duration(
        "dbms.logs.query.threshold", "0s", dynamic: true, "Queries at least this slow are logged (0s: all).")
    public static let queryLogParameters = Setting<Bool>.boolean(
        "dbms.logs.query.parameter_logging_enabled", true, dynamic: true, "Log query parameters.")
    public static let queryLogTime = Setting<Bool>.boolean(
        "dbms.logs.query.time_logging_enabled", false, dynamic: true, "Accepted for compatibility.")
    public static let queryLogAllocation = Setting<Bool>.boolean(
        "dbms.logs.query.allocation_logging_enabled", false, dynamic: true, "Accepted for compatibility.")
    public static let queryLogPage = Setting<Bool>.boolean(
        "dbms.logs.query.page_logging_enabled", false, dynamic: true, "Accepted for compatibility.")
    public static let queryLogRuntime = Setting<Bool>.boolean(
        "dbms.logs.query.runtime_logging_enabled", false, dynamic: true, "Accepted for compatibility.")
    public static let queryLogRotationSize = Setting<Int64>.byteSize(
        "dbms.logs.query.rotation.size", "20m", min: 1024, dynamic: true, "Size at which query.log rotates.")
    public static let queryLogKeepNumber = Setting<Int64>.integer(
        "dbms.logs.query.rotation.keep_number", 7, range: 1...1000, dynamic: true, "Rotated query.log files kept.")
    public static let queryLogPath = Setting<String>.path(
        "dbms.logs.query.path", "", "query.log location; empty means `<logs>/query.log`.")
    public static let httpLogEnabled = Setting<Bool>.boolean(
        "dbms.logs.http.enabled", false, "Write an NCSA-style request log to http.log.")
    public static let httpLogRotationSize = Setting<Int64>.byteSize(
        "dbms.logs.http.rotation.size", "20m", min: 1024, "Size at which http.log rotates.")
    public static let httpLogKeepNumber = Setting<Int64>.integer(
        "dbms.logs.http.rotation.keep_number", 5, range: 1...1000, "Rotated http.log files kept.")
    public static let gcLogEnabled = Setting<Bool>.boolean(
        "dbms.logs.gc.enabled", false, "Accepted for compatibility (no JVM garbage collector).")
    public static let gcLogOptions = Setting<String>.string(
        "dbms.logs.gc.options", "", "Accepted for compatibility.")
    public static let gcLogKeepNumber = Setting<Int64>.integer(
        "dbms.logs.gc.rotation.keep_number", 5, range: 1...1000, "Accepted for compatibility.")
    public static let gcLogRotationSize = Setting<Int64>.byteSize(
        "dbms.logs.gc.rotation.size", "20m", "Accepted for compatibility.")
    public static let securityLogLevel = Setting<String>.oneOf(
        "dbms.logs.security.level", "INFO", ["DEBUG", "INFO", "WARN", "ERROR", "NONE"],
        "Accepted for compatibility; authentication events go to debug.log.")

    // MARK: - Shell, backup (accepted; not served)
    public static let shellEnabled = Setting<Bool>.boolean(
        "dbms.shell.enabled", false, "Accepted for compatibility; neo4j-shell is not served.")
    public static let shellHost = Setting<String>.string("dbms.shell.host", "127.0.0.1", "Accepted; unused.")
    public static let shellPort = Setting<Int64>.integer(
        "dbms.shell.port", 1337, range: 0...65535, "Accepted; unused.")
    public static let shellReadOnly = Setting<Bool>.boolean("dbms.shell.read_only", false, "Accepted; unused.")
    public static let shellRMIName = Setting<String>.string("dbms.shell.rmi_name", "shell", "Accepted; unused.")
    public static let backupEnabled = Setting<Bool>.boolean(
        "dbms.backup.enabled", true,
        "Accepted for compatibility; no effect: Trellis has no online backup service yet (back up a stopped "
            + "instance's data folder, or use an HA slave).")
    public static let backupAddress = Setting<PortRangeAddress>.portRange(
        "dbms.backup.address", "127.0.0.1:6362-6372",
        "Accepted for compatibility; no effect (no online backup service; nothing listens on it).")

    // MARK: - High availability (neo4j-ha.md)
    public static let haServerID = Setting<Int64?>.optionalInteger(
        "ha.server_id", range: 0...Int64(Int32.max), "This member's id; unique in the cluster, mandatory for HA.")
    public static let haInitialHosts = Setting<[String]>.list(
        "ha.initial_hosts", "", "Comma list of host:coordination-port of the cluster members (mandatory for HA).")
    public static let haHostCoordination = Setting<PortRangeAddress>.portRange(
        "ha.host.coordination", "0.0.0.0:5001-5099", "Cluster coordination address; binds the first free port.")
    public static let haHostData = Setting<PortRangeAddress>.portRange(
        "ha.host.data", "0.0.0.0:6001-6011", "Transaction/data address (slave to master RPC and pushes).")
    public static let haHostCoordinationAdvertised = Setting<SocketAddressSetting?>.optionalAddress(
        "ha.host.coordination.advertised_address",
        "Trellis addition. The coordination address the other members are given for this one, when it differs from "
            + "what `ha.host.coordination` binds (a proxy, NAT or port forward in between). It must be the entry "
            + "listed in `ha.initial_hosts`: members are accepted by this address. A missing host is the "
            + "`ha.host.coordination` host (a wildcard one: the default advertised host), a missing port the bound one.")
    public static let haHostDataAdvertised = Setting<SocketAddressSetting?>.optionalAddress(
        "ha.host.data.advertised_address",
        "Trellis addition. The data address the other members dial for pulls, pushes and store copies, when it "
            + "differs from what `ha.host.data` binds. Missing parts as for "
            + "`ha.host.coordination.advertised_address`.")
    public static let haClusterName = Setting<String>.string(
        "ha.cluster_name", "neo4j.ha", "Cluster name (also `unsupported.ha.cluster_name`).")
    public static let haUnsupportedClusterName = Setting<String>.string(
        "unsupported.ha.cluster_name", "neo4j.ha", "Neo4j 3.x name of `ha.cluster_name`.")
    public static let haAllowInitCluster = Setting<Bool>.boolean(
        "ha.allow_init_cluster", true, "Whether this member may create a new cluster when none answers.")
    public static let haDefaultTimeout = Setting<Duration>.duration(
        "ha.default_timeout", "5s",
        "Accepted for compatibility; no effect: the cluster time-outs Trellis uses are set one by one "
            + "(`ha.heartbeat_timeout`, `ha.election_timeout`, `ha.join_timeout`, `ha.slave_read_timeout`).")
    public static let haHeartbeatInterval = Setting<Duration>.duration(
        "ha.heartbeat_interval", "500ms",
        "Heartbeat send period. Trellis default 500ms (Neo4j: 5s): with the 2s time-out a failed master is replaced "
            + "in a few seconds.")
    public static let haHeartbeatTimeout = Setting<Duration>.duration(
        "ha.heartbeat_timeout", "2s",
        "Silence after which a peer is suspected and a master without a majority stops taking writes; at least twice "
            + "the interval. Trellis default 2s (Neo4j 3.x: 40s, which meant about a minute without writes after a "
            + "master crash). Raise it on networks or hosts with long pauses, to avoid needless elections.")
    public static let haBroadcastTimeout = Setting<Duration>.duration(
        "ha.broadcast_timeout", "30s", "Accepted for compatibility; no effect (no Paxos broadcast in Trellis).")
    public static let haJoinTimeout = Setting<Duration>.duration("ha.join_timeout", "30s", "Join time-out.")
    public static let haLeaveTimeout = Setting<Duration>.duration(
        "ha.leave_timeout", "30s", "Accepted for compatibility; no effect: a stopping member leaves at once.")
    public static let haConfigurationTimeout = Setting<Duration>.duration(
        "ha.configuration_timeout", "1s",
        "Accepted for compatibility; no effect (members are configured by `ha.initial_hosts`; see "
            + "`ha.join_timeout`).")
    public static let haPaxosTimeout = Setting<Duration>.duration(
        "ha.paxos_timeout", "5s", "Accepted for compatibility; no effect (elections are timed by `ha.election_timeout`).")
    public static let haPhase1Timeout = Setting<Duration>.duration(
        "ha.phase1_timeout", "5s", "Accepted for compatibility; no effect (see `ha.election_timeout`).")
    public static let haPhase2Timeout = Setting<Duration>.duration(
        "ha.phase2_timeout", "5s", "Accepted for compatibility; no effect (see `ha.election_timeout`).")
    public static let haElectionTimeout = Setting<Duration>.duration(
        "ha.election_timeout", "1s",
        "How long a candidate waits for votes; a retry adds a random jitter of up to this long. Trellis default 1s "
            + "(Neo4j: 5s), part of the few-second failover.")
    public static let haLearnTimeout = Setting<Duration>.duration(
        "ha.learn_timeout", "5s", "Accepted for compatibility; no effect (see `ha.election_timeout`).")
    public static let haMaxAcceptors = Setting<Int64>.integer(
        "ha.max_acceptors", 21, range: 1...1000,
        "Accepted for compatibility; no effect: every member listed in `ha.initial_hosts` votes.")
    public static let haSlaveOnly = Setting<Bool>.boolean("ha.slave_only", false, "Never become master.")
    public static let haTxPushFactor = Setting<Int64>.integer(
        "ha.tx_push_factor", 1, range: 0...1000,
        "Slaves the master pushes each commit to before answering the client (one fewer when a slave sent it). "
            + "Without `ha.tx_push_strict` a shortfall is only logged.")
    public static let haTxPushStrict = Setting<Bool>.boolean(
        "ha.tx_push_strict", false,
        "Trellis addition. When true a commit succeeds only once `ha.tx_push_factor` slaves have it durably; "
            + "otherwise the client gets Neo.DatabaseError.Cluster.ReplicationFailure (not retried by drivers: the "
            + "transaction is committed on the master and reaches the slaves by pulls). False is Neo4j's optimistic push.")
    public static let haTxPushStrategy = Setting<String>.oneOf(
        "ha.tx_push_strategy", "fixed_ascending", ["fixed_ascending", "fixed_descending", "round_robin"],
        "Order in which slaves are pushed to.")
    public static let haPullInterval = Setting<Duration>.duration(
        "ha.pull_interval", "1s",
        "Period of slave pulls from the master (0s: only on pushes and forwarded commits). Trellis default 1s "
            + "(Neo4j: 0s), so slaves beyond `ha.tx_push_factor` still follow the master closely.")
    public static let haPullBatchSize = Setting<Int64>.integer(
        "ha.pull_batch_size", 100, range: 1...1_000_000, "Transactions per apply batch on a slave.")
    public static let haSlaveReadTimeout = Setting<Duration>.duration(
        "ha.slave_read_timeout", "20s", "Slave wait for a master response.")
    public static let haSlaveLockTimeout = Setting<Duration>.duration(
        "ha.slave_lock_timeout", "20s", "Slave wait for a lock taken on the master.")
    public static let haMaxChannelsPerSlave = Setting<Int64>.integer(
        "ha.max_channels_per_slave", 20, range: 1...1000,
        "Accepted for compatibility; no effect.")
    public static let haDataChunkSize = Setting<Int64>.byteSize(
        "ha.data_chunk_size", "2M", min: 1024,
        "Accepted for compatibility; no effect: the data port sizes its own frames.")
    public static let haRoleSwitchTimeout = Setting<Duration>.duration(
        "ha.role_switch_timeout", "120s",
        "Accepted for compatibility; no effect: a write begun while the member has no role fails at once with "
            + "Neo.TransientError.General.DatabaseUnavailable, which drivers retry.")
    public static let haInternalRoleSwitchTimeout = Setting<Duration>.duration(
        "ha.internal_role_switch_timeout", "10s", "Wait for running transactions during a role switch.")
    public static let haBranchedDataPolicy = Setting<String>.oneOf(
        "ha.branched_data_policy", "keep_all", ["keep_all", "keep_last", "keep_none"],
        "What to keep of a store found to have diverged from the master.")
    public static let haBranchedDataCopyingStrategy = Setting<String>.oneOf(
        "ha.branched_data_copying_strategy", "branch_then_copy", ["branch_then_copy", "copy_then_branch"],
        "Whether a store being replaced by a copy of the master's is moved away before the copy (branch_then_copy) "
            + "or only once the copy is complete (copy_then_branch: needs room for a second store, and a failed "
            + "copy leaves the instance with its old store).")

    // MARK: - Metrics (neo4j-ops.md §2, §7)
    public static let metricsEnabled = Setting<Bool>.boolean("metrics.enabled", true, "Master switch for metrics.")
    public static let metricsPrefix = Setting<String>.string(
        "metrics.prefix", "neo4j",
        "Prefix of metric names sent to Graphite. Unset on an HA member: `neo4j.<ha.cluster_name>.<ha.server_id>`.")
    public static let metricsCSVEnabled = Setting<Bool>.boolean(
        "metrics.csv.enabled", true, "Write metrics as CSV files under the metrics folder.")
    public static let metricsCSVInterval = Setting<Duration>.duration(
        "metrics.csv.interval", "3s", "CSV metrics write period.")
    public static let metricsCSVRotationSize = Setting<Int64>.byteSize(
        "metrics.csv.rotation.size", "100m", "Size at which a CSV metrics file rotates.")
    public static let metricsCSVKeepNumber = Setting<Int64>.integer(
        "metrics.csv.rotation.keep_number", 7, range: 1...1000, "Rotated CSV files kept per metric.")
    public static let metricsGraphiteEnabled = Setting<Bool>.boolean(
        "metrics.graphite.enabled", false, "Send metrics to Graphite.")
    public static let metricsGraphiteServer = Setting<SocketAddressSetting>.address(
        "metrics.graphite.server", ":2003",
        "Graphite server (plaintext protocol over TCP); a missing host means localhost.")
    public static let metricsGraphiteInterval = Setting<Duration>.duration(
        "metrics.graphite.interval", "3s", "Graphite send period.")
    public static let metricsPrometheusEnabled = Setting<Bool>.boolean(
        "metrics.prometheus.enabled", false, "Serve metrics for Prometheus scraping.")
    public static let metricsPrometheusEndpoint = Setting<SocketAddressSetting>.address(
        "metrics.prometheus.endpoint", "localhost:2004",
        "Address of the Prometheus endpoint (`GET /metrics`); a missing host means the default listen address.")

    /// The `metrics.neo4j.*` / `metrics.jvm.*` / … group switches; each inherits `metrics.neo4j.enabled`,
    /// which inherits `metrics.enabled` (empty default = inherit). Read by `MetricSwitches`.
    static let metricGroupSwitches: [AnySetting] = [
        ("metrics.neo4j.enabled", "Default of the metric group switches below; unset inherits `metrics.enabled`."),
        ("metrics.neo4j.tx.enabled", "Transaction metrics (`neo4j.transaction.*`)."),
        ("metrics.neo4j.pagecache.enabled", "Page cache metrics (`neo4j.page_cache.*`)."),
        ("metrics.neo4j.counts.enabled", "Records in use (`neo4j.ids_in_use.*`)."),
        ("metrics.neo4j.network.enabled", "HA data port bytes sent (`neo4j.network.*`)."),
        ("metrics.neo4j.checkpointing.enabled", "Checkpoint metrics (`neo4j.check_point.*`)."),
        ("metrics.neo4j.logrotation.enabled", "Transaction log rotation metrics (`neo4j.log_rotation.*`)."),
        ("metrics.neo4j.cluster.enabled", "HA role and pull metrics (`neo4j.cluster.*`)."),
        ("metrics.neo4j.server.enabled", "Accepted for compatibility; nothing to report (no Jetty thread pool)."),
        ("metrics.neo4j.causal_clustering.enabled", "Accepted for compatibility; no causal clustering."),
        ("metrics.jvm.gc.enabled", "Accepted for compatibility; no JVM (see `metrics.trellis.process.enabled`)."),
        ("metrics.jvm.memory.enabled", "Accepted for compatibility; no JVM (see `metrics.trellis.process.enabled`)."),
        ("metrics.jvm.buffers.enabled", "Accepted for compatibility; no JVM (see `metrics.trellis.process.enabled`)."),
        ("metrics.jvm.threads.enabled", "Accepted for compatibility; no JVM (see `metrics.trellis.process.enabled`)."),
        ("metrics.cypher.replanning.enabled", "Accepted for compatibility; replans are not counted."),
        ("metrics.bolt.messages.enabled", "Bolt connection and message metrics (`neo4j.bolt.*`)."),
        ("metrics.trellis.process.enabled", "Process memory, threads, CPU time, open files (`trellis.process.*`)."),
    ].map { name, what in
        let inherits = name == "metrics.neo4j.enabled" ? "" : " Unset inherits `metrics.neo4j.enabled`."
        return Setting<Bool?>(name, default: "", type: "boolean", what + inherits) {
            (t: String) throws(SettingValueError) in
            t.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try SettingParsers.boolean(t)
        }.erased
    }

    /// Every setting, in documentation order.
    public static let all: [AnySetting] = {
        var settings: [AnySetting] = [
            home.erased, dataDirectory.erased, logsDirectory.erased, runDirectory.erased, importDirectory.erased,
            certificatesDirectory.erased, pluginsDirectory.erased, libDirectory.erased, metricsDirectory.erased,
            txLogDirectory.erased, activeDatabase.erased, readOnly.erased, allowUpgrade.erased,
            allowFormatMigration.erased, recordFormat.erased, mode.erased, strictValidation.erased,
            jvmAdditional.erased, adjacencyCacheSize.erased, testingProceduresEnabled.erased,
            pageCacheSize.erased, heapInitialSize.erased, heapMaxSize.erased, txLogRetention.erased,
            txLogRotationSize.erased, txLogPreallocate.erased, checkpointIntervalTime.erased,
            checkpointIntervalTx.erased,
            checkpointIopsLimit.erased, checkpointPolicy.erased, transactionTimeout.erased,
            transactionMonitorCheckInterval.erased, bookmarkReadyTimeout.erased, lockAcquisitionTimeout.erased, restTransactionIdleTimeout.erased, relationshipGroupingThreshold.erased,
            queryCacheSize.erased,
            defaultListenAddress.erased, defaultAdvertisedAddress.erased, boltEnabled.erased,
            boltListenAddress.erased, boltAdvertisedAddress.erased, boltTLSLevel.erased,
            boltThreadPoolMinSize.erased, boltThreadPoolMaxSize.erased, boltThreadPoolKeepAlive.erased,
            boltMaxMessageSize.erased, boltMaxNestingDepth.erased, boltMaxConnections.erased,
            boltHandshakeTimeout.erased, boltConnectionKeepAlive.erased, boltEventLoopReads.erased, boltEventLoopWrites.erased,
            httpEnabled.erased, httpListenAddress.erased, httpAdvertisedAddress.erased, httpsEnabled.erased,
            httpsListenAddress.erased, httpsAdvertisedAddress.erased,
            authEnabled.erased, authMaxFailedAttempts.erased, authLockTime.erased, authCacheTTL.erased, haStatusAuthEnabled.erased,
            procedureUnrestricted.erased, procedureWhitelist.erased, allowCSVImportFromFileURLs.erased,
            logsTimezone.erased, userLogRotationSize.erased, userLogKeepNumber.erased, debugLogLevel.erased,
            debugLogRotationSize.erased, debugLogKeepNumber.erased, debugLogRotationDelay.erased,
            queryLogEnabled.erased, queryLogThreshold.erased, queryLogParameters.erased, queryLogTime.erased,
            queryLogAllocation.erased, queryLogPage.erased, queryLogRuntime.erased, queryLogRotationSize.erased,
            queryLogKeepNumber.erased, queryLogPath.erased, httpLogEnabled.erased, httpLogRotationSize.erased,
            httpLogKeepNumber.erased, gcLogEnabled.erased, gcLogOptions.erased, gcLogKeepNumber.erased,
            gcLogRotationSize.erased, securityLogLevel.erased,
            shellEnabled.erased, shellHost.erased, shellPort.erased, shellReadOnly.erased, shellRMIName.erased,
            backupEnabled.erased, backupAddress.erased,
            haServerID.erased, haInitialHosts.erased, haHostCoordination.erased, haHostData.erased,
            haHostCoordinationAdvertised.erased, haHostDataAdvertised.erased,
            haClusterName.erased, haUnsupportedClusterName.erased, haAllowInitCluster.erased,
            haDefaultTimeout.erased, haHeartbeatInterval.erased, haHeartbeatTimeout.erased,
            haBroadcastTimeout.erased, haJoinTimeout.erased, haLeaveTimeout.erased, haConfigurationTimeout.erased,
            haPaxosTimeout.erased, haPhase1Timeout.erased, haPhase2Timeout.erased, haElectionTimeout.erased,
            haLearnTimeout.erased, haMaxAcceptors.erased, haSlaveOnly.erased, haTxPushFactor.erased,
            haTxPushStrict.erased,
            haTxPushStrategy.erased, haPullInterval.erased, haPullBatchSize.erased, haSlaveReadTimeout.erased,
            haSlaveLockTimeout.erased, haMaxChannelsPerSlave.erased, haDataChunkSize.erased,
            haRoleSwitchTimeout.erased, haInternalRoleSwitchTimeout.erased, haBranchedDataPolicy.erased,
            haBranchedDataCopyingStrategy.erased,
            metricsEnabled.erased, metricsPrefix.erased, metricsCSVEnabled.erased, metricsCSVInterval.erased,
            metricsCSVRotationSize.erased, metricsCSVKeepNumber.erased, metricsGraphiteEnabled.erased,
            metricsGraphiteServer.erased, metricsGraphiteInterval.erased, metricsPrometheusEnabled.erased,
            metricsPrometheusEndpoint.erased,
        ]
        settings += metricGroupSwitches
        return settings
    }()

    /// Settings by name.
    public static let byName: [String: AnySetting] = {
        var table: [String: AnySetting] = [:]
        for s in all {
            precondition(table[s.name] == nil, "setting \(s.name) declared twice")
            table[s.name] = s
        }
        return table
    }()

    /// Settings accepted only so that neo4j.conf files written for Neo4j validate: they change nothing in Trellis
    /// (their descriptions start with "Accepted"). Setting one explicitly logs a warning at start-up.
    public static let withoutEffect: Set<String> = Set(all.filter { $0.description.hasPrefix("Accepted") }.map(\.name))

    /// Older setting names accepted and read as their current name (Neo4j migrates these automatically).
    public static let legacyNames: [String: String] = [
        "ha.cluster_server": "ha.host.coordination",
        "ha.server": "ha.host.data",
        "ha.read_timeout": "ha.slave_read_timeout",
        "ha.lock_read_timeout": "ha.slave_lock_timeout",
        "ha.max_concurrent_channels_per_slave": "ha.max_channels_per_slave",
        "ha.com_chunk_size": "ha.data_chunk_size",
        "ha.pull_apply_batch_size": "ha.pull_batch_size",
        "ha.state_switch_timeout": "ha.role_switch_timeout",
        "ha.internal_state_switch_timeout": "ha.internal_role_switch_timeout",
    ]
}
