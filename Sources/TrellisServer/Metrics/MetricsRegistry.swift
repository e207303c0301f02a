import Foundation
import Synchronization

// MARK: - Samples

/// How a metric is reported: a counter only grows (CSV header `t,count`, Prometheus `counter`); a gauge is a value
/// at the moment of sampling (`t,value`, `gauge`). The kinds follow Neo4j's metric sources (neo4j-ops.md §7), which
/// register some ever-growing values, such as `last_committed_tx_id`, as counters.
public enum MetricKind: String, Sendable, Hashable {
    case counter
    case gauge
}

/// One metric's value at one moment.
public struct MetricSample: Sendable, Hashable {
    /// The full Neo4j name, e.g. `neo4j.transaction.committed`.
    public var name: String
    public var kind: MetricKind
    public var value: Double

    public init(_ name: String, _ kind: MetricKind, _ value: Double) {
        self.name = name
        self.kind = kind
        self.value = value
    }

    public static func counter(_ name: String, _ value: some BinaryInteger) -> MetricSample {
        MetricSample(name, .counter, Double(value))
    }

    public static func gauge(_ name: String, _ value: some BinaryInteger) -> MetricSample {
        MetricSample(name, .gauge, Double(value))
    }

    public static func gauge(_ name: String, _ value: Double) -> MetricSample {
        MetricSample(name, .gauge, value)
    }

    /// The value as reporters write it: integral values without a fraction (`42`), others in shortest form.
    public var formattedValue: String { MetricSample.format(value) }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9.0e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

// MARK: - Groups and their switches

/// A metric group with its on/off setting. Each group switch inherits `metrics.neo4j.enabled`, which inherits
/// `metrics.enabled` (neo4j-ops.md §1 "Metrics settings"); `metrics.enabled=false` turns every group off.
public enum MetricGroup: String, Sendable, Hashable, CaseIterable {
    case transactions = "metrics.neo4j.tx.enabled"
    case pageCache = "metrics.neo4j.pagecache.enabled"
    case counts = "metrics.neo4j.counts.enabled"
    case network = "metrics.neo4j.network.enabled"
    case checkpointing = "metrics.neo4j.checkpointing.enabled"
    case logRotation = "metrics.neo4j.logrotation.enabled"
    case cluster = "metrics.neo4j.cluster.enabled"
    case boltMessages = "metrics.bolt.messages.enabled"
    /// Trellis's stand-in for the JVM groups: resident memory, threads, CPU time, open files of the process.
    case process = "metrics.trellis.process.enabled"

    public var settingName: String { rawValue }
}

/// Which groups are on, resolved from the configuration once at start-up.
public struct MetricSwitches: Sendable, Hashable {
    public private(set) var enabled: Set<MetricGroup>

    public init(enabled: Set<MetricGroup>) { self.enabled = enabled }

    /// Reads the switches: a group's own value when set, else `metrics.neo4j.enabled` when set, else
    /// `metrics.enabled`. With `metrics.enabled=false` nothing is on, whatever the group switches say.
    public init(config: Config) {
        let master = config.get(Settings.metricsEnabled)
        let neo4j = MetricSwitches.explicit(config, "metrics.neo4j.enabled") ?? master
        var on: Set<MetricGroup> = []
        if master {
            for group in MetricGroup.allCases where MetricSwitches.explicit(config, group.settingName) ?? neo4j {
                on.insert(group)
            }
        }
        self.enabled = on
    }

    public func isEnabled(_ group: MetricGroup) -> Bool { enabled.contains(group) }

    /// The value of a boolean group switch if it is set (the registry has validated it already).
    static func explicit(_ config: Config, _ name: String) -> Bool? {
        guard let text = config.values[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return try? SettingParsers.boolean(text)
    }
}

// MARK: - Registry

/// The metrics of one instance: sources registered per group, sampled on demand by the reporters.
///
/// Sources are closures that read counters the subsystems keep anyway (kernel, Bolt, HA atomics), so sampling
/// costs the request path nothing: swift-metrics' push API was not used because it would mean a second counter
/// increment next to every existing one. Samples come out sorted by name, so reports are stable.
public final class MetricsRegistry: Sendable {
    public let switches: MetricSwitches
    private let sources = Mutex<[(group: MetricGroup, collect: @Sendable () -> [MetricSample])]>([])

    public init(switches: MetricSwitches) {
        self.switches = switches
    }

    /// Adds a source; ignored when its group is switched off.
    public func register(_ group: MetricGroup, _ collect: @escaping @Sendable () -> [MetricSample]) {
        guard switches.isEnabled(group) else { return }
        sources.withLock { $0.append((group, collect)) }
    }

    /// Whether any source is registered (reporters are not started otherwise).
    public var isEmpty: Bool { sources.withLock { $0.isEmpty } }

    /// Every enabled metric's current value, sorted by name.
    public func collect() -> [MetricSample] {
        let current = sources.withLock { $0 }
        return current.flatMap { $0.collect() }.sorted { $0.name < $1.name }
    }
}
