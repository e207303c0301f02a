import BoltServer
import Dispatch
import Foundation
import GraphKernel
import Logging
import NIOCore
import NIOPosix

/// The metrics of a running instance: the registry with its sources, and the reporters the configuration turns
/// on (CSV, Graphite, Prometheus), each on its own timer or thread, off the request path.
///
/// A reporter whose target is unusable (a CSV folder that cannot be written, Graphite down, the Prometheus port
/// taken) never stops start-up or the server: the problem is logged and the rest carries on. Malformed addresses
/// are configuration errors found when the configuration is read, like any other setting.
public final class MetricsSystem: Connector, @unchecked Sendable {
    public let registry: MetricsRegistry
    let logger: Logger
    /// Serialises CSV writes and Graphite hand-offs; timers fire here.
    let queue = DispatchQueue(label: "trellis.metrics")
    private var timers: [any DispatchSourceTimer] = []
    private var csv: CSVReporter?
    private var graphite: GraphiteReporter?
    private var graphiteGroup: MultiThreadedEventLoopGroup?
    public private(set) var prometheus: PrometheusEndpoint?

    init(registry: MetricsRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// Builds the registry from the configuration's switches and starts the enabled reporters.
    /// `database` returns the current store (it may change under HA); `bolt` and `ha` are nil when absent.
    public static func start(
        config: Config, logger: Logger, database: @escaping @Sendable () -> GraphDatabase?, bolt: BoltMetrics?,
        ha: HAInstance?
    ) -> MetricsSystem {
        let registry = MetricsRegistry(switches: MetricSwitches(config: config))
        MetricSources.registerDatabase(registry, database: database)
        if let bolt { MetricSources.registerBolt(registry, metrics: bolt) }
        if let ha { MetricSources.registerHA(registry, ha: ha) }
        MetricSources.registerProcess(registry)
        let system = MetricsSystem(registry: registry, logger: logger)
        guard !registry.isEmpty else {
            logger.info("Metrics are disabled (metrics.enabled and the metrics.* group switches)")
            return system
        }
        if config.get(Settings.metricsCSVEnabled) {
            system.startCSV(config: config)
        }
        if config.get(Settings.metricsGraphiteEnabled) {
            system.startGraphite(config: config, ha: ha)
        }
        if config.get(Settings.metricsPrometheusEnabled) {
            system.startPrometheus(config: config)
        }
        return system
    }

    /// `metrics.prefix`; under HA its default becomes `neo4j.<cluster_name>.<server_id>` (neo4j-ha.md §8).
    static func graphitePrefix(config: Config, ha: HAConfiguration?) -> String {
        if config.isExplicitlySet(Settings.metricsPrefix.name) || ha == nil { return config.get(Settings.metricsPrefix) }
        return "\(config.get(Settings.metricsPrefix)).\(ha!.clusterName).\(ha!.serverID.rawValue)"
    }

    private func startCSV(config: Config) {
        let reporter = CSVReporter(
            directory: config.directory(Settings.metricsDirectory),
            rotationSizeBytes: max(1, config.get(Settings.metricsCSVRotationSize)),
            keepNumber: Int(config.get(Settings.metricsCSVKeepNumber)))
        csv = reporter
        schedule(every: config.get(Settings.metricsCSVInterval)) { [weak self] in self?.writeCSV() }
        logger.info("Writing metrics as CSV", metadata: ["directory": "\(reporter.directory)"])
    }

    /// Must run on `queue`.
    private func writeCSV() {
        guard let csv else { return }
        do {
            try csv.report(registry.collect(), epochSeconds: Int64(Date().timeIntervalSince1970))
        } catch {
            logger.error("Cannot write CSV metrics", metadata: ["error": "\(error)"])
        }
    }

    private func startGraphite(config: Config, ha: HAInstance?) {
        let address = config.get(Settings.metricsGraphiteServer)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let reporter = GraphiteReporter(
            host: address.host ?? "localhost", port: address.port ?? 2003,
            prefix: Self.graphitePrefix(config: config, ha: ha?.configuration), loop: group.next(), logger: logger)
        graphiteGroup = group
        graphite = reporter
        schedule(every: config.get(Settings.metricsGraphiteInterval)) { [weak self] in
            guard let self else { return }
            reporter.report(self.registry.collect(), epochSeconds: Int64(Date().timeIntervalSince1970))
        }
        logger.info("Sending metrics to Graphite", metadata: ["server": "\(reporter.host):\(reporter.port)"])
    }

    private func startPrometheus(config: Config) {
        let address = config.get(Settings.metricsPrometheusEndpoint)
        let host = address.host ?? config.get(Settings.defaultListenAddress)
        let port = address.port ?? 2004
        let endpoint = PrometheusEndpoint(registry: registry, logger: logger)
        do {
            try endpoint.start(host: host, port: port)
            prometheus = endpoint
            logger.info("Prometheus metrics endpoint enabled",
                metadata: ["address": "\(host):\(endpoint.port ?? port)"])
        } catch {
            logger.error(
                "Cannot serve Prometheus metrics; the server runs without that endpoint",
                metadata: ["address": "\(host):\(port)", "error": "\(error)"])
        }
    }

    private func schedule(every interval: Duration, _ work: @escaping @Sendable () -> Void) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let c = max(interval, .milliseconds(10)).components
        let nanos = Int(c.seconds) * 1_000_000_000 + Int(c.attoseconds / 1_000_000_000)
        timer.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .nanoseconds(nanos), leeway: .milliseconds(50))
        timer.setEventHandler(handler: work)
        timer.resume()
        timers.append(timer)
    }

    /// Stops the reporters; the CSV files get a last line so they end with the values at shutdown.
    public func stop() {
        let running = timers
        timers = []
        queue.sync {
            for timer in running { timer.cancel() }
            writeCSV()
            csv = nil
        }
        graphite?.stop()
        graphite = nil
        try? graphiteGroup?.syncShutdownGracefully()
        graphiteGroup = nil
        prometheus?.stop()
        prometheus = nil
    }
}
