import Foundation
import Logging

/// `dbms.mode=ARBITER` (neo4j-ha.md §1): a member that only takes part in coordination — it votes and counts
/// toward quorum, so two data instances and an arbiter survive the loss of any one. No store, no Bolt, no HTTP,
/// never master.
public final class ArbiterInstance: @unchecked Sendable {
    public let configuration: HAConfiguration
    let coordinator: any HACoordinator
    let pidFile: PidFile
    let log: Logger

    init(configuration: HAConfiguration, coordinator: any HACoordinator, pidFile: PidFile, log: Logger) {
        self.configuration = configuration
        self.coordinator = coordinator
        self.pidFile = pidFile
        self.log = log
    }

    /// The coordination port actually bound.
    public var coordinationPort: Int { coordinator.boundPort }

    /// Validates the HA settings, takes the pid file and joins the cluster.
    public static func start(
        config: Config, logs: LogSystem, transport: HATransport? = nil
    ) throws -> ArbiterInstance {
        let log = logs.userLog
        log.info("======== Trellis \(Trellis.version) ========")
        for warning in config.warnings { log.warning("\(warning)") }
        let configuration = try HAConfiguration(config: config)
        let transport = transport ?? HATransport.nio(coordinationLog: log, dataLog: logs.logger("ha"))
        for (dir, setting) in [
            (config.logsDirectory, "dbms.directories.logs"), (config.runDirectory, "dbms.directories.run"),
            (configuration.stateDirectory, "cluster state, under dbms.directories.data"),
        ] {
            try StartupErrors.createDirectory(dir, setting: setting)
        }
        let pidFile = try PidFile(path: config.pidFile)
        var lastError: (any Error)?
        for port in configuration.coordinationPorts {
            let settings = HACoordinatorSettings(
                me: configuration.serverID, kind: .arbiter, listenHost: configuration.coordinationHost,
                listenPort: port, initialHosts: configuration.initialHosts,
                coordinationAddress: configuration.advertisedCoordination(boundPort: port),
                dataAddress: nil, boltAddress: nil, httpAddress: nil,
                heartbeatInterval: configuration.heartbeatInterval, heartbeatTimeout: configuration.heartbeatTimeout,
                electionTimeout: configuration.electionTimeout, allowInitCluster: configuration.allowInitCluster,
                joinTimeout: configuration.joinTimeout, stateDirectory: configuration.stateDirectory,
                clusterName: configuration.clusterName)
            // An arbiter has no log: it offers position 0, so it can never outrank a data member.
            let coordinator = transport.makeCoordinator(settings) { HALogHead(tx: 0, epoch: .zero) }
            do {
                try blocking { try await coordinator.start() }
                coordinator.onRoleChange { event in
                    if case .slave(let master, let epoch, _) = event {
                        log.info("Instance \(master.rawValue) was elected as master (\(epoch))")
                    }
                }
                let started = "Started in ARBITER mode. This instance is now joining the cluster (instance "
                    + "\(configuration.serverID.rawValue), coordination port \(coordinator.boundPort))."
                log.info("\(started)")
                try? HARoleFile.write("arbiter", to: HARoleFile.path(config))
                return ArbiterInstance(
                    configuration: configuration, coordinator: coordinator, pidFile: pidFile, log: log)
            } catch {
                lastError = error
                blocking { await coordinator.stop() }
            }
        }
        pidFile.release()
        throw LifecycleError(
            "Cannot bind the HA coordination port ha.host.coordination=\(configuration.coordinationHost):"
                + "\(configuration.coordinationPorts): \(lastError.map { "\($0)" } ?? "no port in the range")")
    }

    /// Leaves the cluster and releases the pid file.
    public func shutdown() {
        log.info("Stopping...")
        let coordinator = self.coordinator
        blocking { await coordinator.stop() }
        pidFile.release()
    }
}
