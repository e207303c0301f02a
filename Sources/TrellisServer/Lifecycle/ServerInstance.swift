import BoltServer
import Cypher
import Dispatch
import Foundation
import GraphKernel
import GraphValues
import HTTPAPI
import Logging
import NIOCore
import TrellisService

/// One running Trellis instance: the pid file lock, users, logs, the database, and the Bolt and HTTP
/// connectors. `start` brings them up in dependency order; `shutdown` takes them down in reverse: refuse new
/// transactions and let in-flight ones finish (or roll them back after the grace period), stop the connectors,
/// checkpoint, release the store lock and the pid file.
public final class ServerInstance: @unchecked Sendable {
    public let config: Config
    public let logs: LogSystem
    public let auth: AuthManager
    public let service: TrellisDatabaseService
    let pidFile: PidFile
    let bolt: BoltServer?
    let connectors: [any Connector]
    /// The cluster member (`dbms.mode=HA`), nil on a single instance.
    public let ha: HAInstance?
    /// How long shutdown waits for running transactions (Neo4j: `dbms.shutdown_transaction_end_timeout`, 10s).
    public static let shutdownGrace: Duration = .seconds(10)

    init(config: Config, logs: LogSystem, auth: AuthManager, service: TrellisDatabaseService, pidFile: PidFile,
         bolt: BoltServer?, connectors: [any Connector], ha: HAInstance?) {
        self.config = config
        self.logs = logs
        self.auth = auth
        self.service = service
        self.pidFile = pidFile
        self.bolt = bolt
        self.connectors = connectors
        self.ha = ha
    }

    /// Starts everything; on any failure what was started is stopped again and the error is thrown.
    ///
    /// `dbms.mode=HA` makes the instance a cluster member: the database starts with writes gated (PENDING), the
    /// connectors come up, then the member joins the cluster over `haTransport`. ARBITER instances are started by
    /// `ArbiterInstance` instead.
    public static func start(
        config: Config, logs: LogSystem, openDatabase: @escaping @Sendable (Config) throws -> any KernelDatabase,
        haTransport: HATransport? = nil
    ) throws -> ServerInstance {
        let log = logs.userLog
        log.info("======== Trellis \(Trellis.version) ========")
        log.info("Starting...")
        // After the banner, so that they read as part of this start.
        for warning in config.warnings { log.warning("\(warning)") }
        // Refuse other cluster modes outright rather than silently running stand-alone: an operator who
        // configured clustering expects failover, and a single instance that pretends otherwise would lose
        // writes they were promised.
        let mode = config.get(Settings.mode)
        guard mode == "SINGLE" || mode == "HA" else {
            throw LifecycleError(
                mode == "ARBITER"
                    ? "dbms.mode=ARBITER runs no database; start it with `trellis console` or `trellis start`."
                    : "dbms.mode=\(mode) (causal clustering) is not available in Trellis. Use dbms.mode=SINGLE or "
                        + "HA (master/slave).")
        }
        let haConfiguration = mode == "HA" ? try HAConfiguration(config: config) : nil
        let haTransport = haTransport ?? HATransport.nio(coordinationLog: log, dataLog: logs.logger("ha"))
        for (dir, setting) in [
            (config.dataDirectory, "dbms.directories.data"), (config.logsDirectory, "dbms.directories.logs"),
            (config.runDirectory, "dbms.directories.run"), (config.importDirectory, "dbms.directories.import"),
            (config.certificatesDirectory, "dbms.directories.certificates"),
            (config.authDirectory, "users and roles, under dbms.directories.data"),
        ] {
            try StartupErrors.createDirectory(dir, setting: setting)
        }
        let pidFile = try PidFile(path: config.pidFile)
        var cleanups: [() -> Void] = [{ pidFile.release() }]
        func undo() { for c in cleanups.reversed() { c() } }
        do {
            let auth = try AuthManager(
                enabled: config.get(Settings.authEnabled), directory: config.authDirectory,
                maxFailedAttempts: Int(config.get(Settings.authMaxFailedAttempts)),
                lockTime: config.get(Settings.authLockTime), cacheTTL: config.get(Settings.authCacheTTL),
                logger: logs.logger("auth"))
            let database = try openDatabase(config)
            cleanups.append { try? database.closeDatabase() }
            if let store = database as? GraphDatabase, store.recoveredTransactionCount > 0 {
                // Neo4j says so too: the operator learns that the last stop was not clean (kill -9, power loss).
                let message = "Recovery completed: replayed \(store.recoveredTransactionCount) transactions from the "
                    + "transaction log (the last shutdown was not clean)."
                log.info("\(message)")
            }
            logs.debugLog.info("database open", metadata: ["directory": "\(config.databaseDirectory)",
                "lastCommittedTx": "\(database.lastCommittedTransaction)"])
            let cypher = CypherEngine(planCacheSize: Int(config.get(Settings.queryCacheSize)))
            let local = CypherGraphEngine(
                database: database, cypher: cypher,
                importDirectory: config.get(Settings.allowCSVImportFromFileURLs) ? config.importDirectory : nil)
            let haEngine = haConfiguration == nil ? nil : HAGraphEngine(local: local)
            let service = TrellisDatabaseService(
                engine: haEngine ?? local, auth: auth, config: config, logger: logs.logger("service"),
                queryLog: logs.queryLog)
            ServerProcedures.register(in: cypher.procedures, auth: auth, config: config, service: service)
            var ha: HAInstance?
            if let haConfiguration, let haEngine {
                guard database is GraphDatabase else {
                    throw LifecycleError("dbms.mode=HA needs the Trellis kernel store")
                }
                let instance = HAInstance(
                    configuration: haConfiguration, config: config, service: service, engine: haEngine,
                    transport: haTransport, log: log, debug: logs.logger("ha"),
                    openDatabase: { config in
                        guard let db = try openDatabase(config) as? GraphDatabase else {
                            throw LifecycleError("dbms.mode=HA needs the Trellis kernel store")
                        }
                        return db
                    })
                // Writes stay refused until the cluster elects a master; reads are served meanwhile.
                instance.prepare()
                HAProcedures.register(in: cypher.procedures, ha: instance)
                service.setBookmarkCatchUp { [weak instance] txID in try instance?.catchUp(to: txID) }
                service.setClusterRouting { [weak instance] in
                    instance?.routingTable()
                        ?? RoutingTable(ttlSeconds: 1, writers: [], readers: [], routers: [], database: "neo4j")
                }
                ha = instance
            }

            var bolt: BoltServer?
            if config.get(Settings.boltEnabled) {
                let server = BoltServer(
                    configuration: try boltConfiguration(config, log: log), service: service, logger: logs.logger("bolt"))
                let (host, port) = config.listenAddress(Settings.boltListenAddress)
                do {
                    try blocking { try await server.start() }
                } catch {
                    throw StartupErrors.connectorFailure(
                        "Bolt", host: host, port: port, setting: Settings.boltListenAddress.name, error)
                }
                cleanups.append { blocking { await server.stop() } }
                log.info("Bolt enabled on \(host):\(server.port ?? port).")
                bolt = server
            }
            var connectors: [any Connector] = []
            for connector in try startConnectors(config: config, service: service, logs: logs, haStatus: ha) {
                connectors.append(connector)
                cleanups.append { connector.stop() }
            }
            if let ha {
                // Advertised with the ports actually bound (tests listen on ephemeral ports).
                let boltAddress = bolt.map { server in
                    let a = config.advertisedAddress(Settings.boltAdvertisedAddress, listen: Settings.boltListenAddress)
                    let bound = config.get(Settings.boltAdvertisedAddress)?.port ?? server.port ?? a.port
                    return SocketAddressSetting(host: a.host, port: bound).description
                }
                let httpAddress = connectors.compactMap { $0 as? HTTPServer }.first.map { server in
                    let a = config.advertisedAddress(Settings.httpAdvertisedAddress, listen: Settings.httpListenAddress)
                    let bound = config.get(Settings.httpAdvertisedAddress)?.port ?? server.localPort ?? a.port
                    return SocketAddressSetting(host: a.host, port: bound).description
                }
                try ha.start(boltAddress: boltAddress, httpAddress: httpAddress)
                cleanups.append { ha.stop() }
                log.info("This HA instance will be operational once it has joined the cluster.")
            }
            // Metrics last, once every source exists; its reporters log their own problems and never stop start-up.
            let metrics = MetricsSystem.start(
                config: config, logger: logs.logger("metrics"), database: { local.database as? GraphDatabase },
                bolt: bolt?.metrics, ha: ha)
            connectors.append(metrics)
            cleanups.append { metrics.stop() }
            log.info("Started.")
            return ServerInstance(
                config: config, logs: logs, auth: auth, service: service, pidFile: pidFile, bolt: bolt,
                connectors: connectors, ha: ha)
        } catch {
            undo()
            throw error
        }
    }

    /// Bolt settings: address, TLS level and the key pair from `certificates/`.
    static func boltConfiguration(_ config: Config, log: Logger) throws -> BoltServerConfiguration {
        let (host, port) = config.listenAddress(Settings.boltListenAddress)
        var level = BoltTLSLevel(rawValue: config.get(Settings.boltTLSLevel)) ?? .optional
        let pair = certificatePair(config, purpose: "bolt")
        if pair == nil {
            switch level {
            case .required:
                throw LifecycleError(
                    "dbms.connector.bolt.tls_level=REQUIRED but no key pair was found in \(config.certificatesDirectory) "
                        + "(bolt/private.key and bolt/public.crt)")
            case .optional:
                log.info("No TLS certificate in \(config.certificatesDirectory); Bolt accepts plain connections only.")
                level = .disabled
            case .disabled:
                break
            }
        }
        // Event loops are the Bolt workers: at most thread_pool_max_size, and never more than the cores
        // (NIO threads that do not block would only add switching). Writes on the event loop block it for their
        // log sync, during which its other connections wait: two loops per core let that many commits share a
        // sync before a loop's connections queue behind one another (docs/bolt.md "How it runs"; four per core
        // cost reads 10 % of their throughput with 4 clients on 2 cores and gave writes less). Only a single
        // instance writes on the loop: an HA member forwards or pushes its writes, which wait for the network.
        let eventLoopWrites = config.get(Settings.boltEventLoopWrites) && config.get(Settings.mode) == "SINGLE"
        let loopsPerCore = eventLoopWrites ? 2 : 1
        let threads = min(Int(config.get(Settings.boltThreadPoolMaxSize)), System.coreCount * loopsPerCore)
        // 0 means never; anything beyond a year is capped there so that NIO's deadline arithmetic cannot overflow.
        func amount(_ d: Duration) -> TimeAmount? {
            guard d > .zero else { return nil }
            let capped = min(d, .seconds(365 * 86_400))
            let (seconds, atto) = capped.components
            return .nanoseconds(seconds * 1_000_000_000 + atto / 1_000_000_000)
        }
        var configuration = BoltServerConfiguration(
            host: host, port: port, tlsLevel: level, certificatePath: pair?.certificate, privateKeyPath: pair?.key,
            maxMessageBytes: Int(config.get(Settings.boltMaxMessageSize)),
            maxNestingDepth: Int(config.get(Settings.boltMaxNestingDepth)),
            maxConnections: Int(config.get(Settings.boltMaxConnections)),
            handshakeTimeout: amount(config.get(Settings.boltHandshakeTimeout)) ?? .seconds(365 * 86_400),
            idleTimeout: amount(config.get(Settings.boltConnectionKeepAlive)),
            eventLoopThreads: threads)
        configuration.eventLoopReads = config.get(Settings.boltEventLoopReads)
        configuration.eventLoopWrites = eventLoopWrites
        return configuration
    }

    /// The first complete pair among `<purpose>/private.key`+`<purpose>/public.crt` (purpose `bolt` or
    /// `https`, as Neo4j 4+ lays them out), `private.key`+`public.crt` and Neo4j 3.x's `neo4j.key`+`neo4j.cert`.
    static func certificatePair(_ config: Config, purpose: String) -> (key: String, certificate: String)? {
        let dir = config.certificatesDirectory
        for (key, cert) in [("\(purpose)/private.key", "\(purpose)/public.crt"), ("private.key", "public.crt"),
                            ("neo4j.key", "neo4j.cert")]
        {
            let k = dir + "/" + key
            let c = dir + "/" + cert
            if FileManager.default.fileExists(atPath: k) && FileManager.default.fileExists(atPath: c) { return (k, c) }
        }
        return nil
    }

    /// Graceful stop, in reverse start order.
    public func shutdown() {
        logs.userLog.info("Stopping...")
        service.drain(grace: Self.shutdownGrace)
        for c in connectors.reversed() { c.stop() }
        if let bolt { blocking { await bolt.stop() } }
        // Leave the cluster (and close the data port) before the store goes away.
        ha?.stop()
        service.closeEngine()
        pidFile.release()
    }
}

/// A started front end other than Bolt (HTTP, HTTPS), stopped at shutdown.
public protocol Connector: AnyObject {
    func stop()
}

/// Runs async work from synchronous start-up and shutdown code (the main thread is not on a cooperative pool).
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
    init() {}
}

func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

func blocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}
