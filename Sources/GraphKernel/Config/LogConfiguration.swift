/// How many rotated transaction log files to keep: `dbms.tx_log.rotation.retention_policy`.
///
/// Neo4j 3.x syntax (`LogPruneStrategyFactory`): `true`/`keep_all` never prunes, `false`/`keep_none` keeps only
/// what recovery needs, otherwise `<n>[k|M|G] <type>` with type `files`, `size`, `txs` (or `entries`), `hours`,
/// `days`. As in Neo4j, the k/M/G suffix multiplies by 1024 for every type (`200k txs` = 204 800 transactions).
/// Pruning only ever removes whole rotated files, oldest first, and never a file the last checkpoint still needs.
public enum RetentionPolicy: Sendable, Hashable, CustomStringConvertible {
    case keepAll
    case keepNone
    /// Keep at least this many log files (the current one included).
    case files(Int64)
    /// Keep the newest files whose total size stays within this many bytes (the current file always stays).
    case totalSizeBytes(Int64)
    /// Keep at least the files holding the last this-many transactions.
    case transactions(Int64)
    /// Keep files holding transactions committed within this duration.
    case age(Duration)

    /// The default, as in Neo4j 3.x.
    public static let `default`: RetentionPolicy = .age(.seconds(7 * 86_400))

    public static func parse(_ text: String, setting: String = "dbms.tx_log.rotation.retention_policy") throws
        -> RetentionPolicy
    {
        let trimmed = text.configTrimmed()
        switch trimmed.lowercased() {
        case "true", "keep_all": return .keepAll
        case "false", "keep_none": return .keepNone
        default: break
        }
        let parts = trimmed.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else {
            throw ConfigurationError(
                setting: setting, value: text,
                reason: "expected true, false, keep_all, keep_none or '<number>[k|M|G] <files|size|txs|entries|hours|days>'")
        }
        let amount: Int64
        do {
            amount = try ByteSize.parse(String(parts[0]), setting: setting)
        } catch {
            throw ConfigurationError(
                setting: setting, value: text, reason: "'\(parts[0])' is not a number with an optional k, M or G suffix")
        }
        guard amount > 0 else {
            throw ConfigurationError(setting: setting, value: text, reason: "the amount must be positive")
        }
        switch parts[1].lowercased() {
        case "files": return .files(amount)
        case "size": return .totalSizeBytes(amount)
        case "txs", "entries": return .transactions(amount)
        case "hours", "hour", "h":
            let (seconds, overflow) = amount.multipliedReportingOverflow(by: 3600)
            guard !overflow else { throw ConfigurationError(setting: setting, value: text, reason: "too long") }
            return .age(.seconds(seconds))
        case "days", "day", "d":
            let (seconds, overflow) = amount.multipliedReportingOverflow(by: 86_400)
            guard !overflow else { throw ConfigurationError(setting: setting, value: text, reason: "too long") }
            return .age(.seconds(seconds))
        default:
            throw ConfigurationError(
                setting: setting, value: text,
                reason: "unknown retention type '\(parts[1])' (use files, size, txs, entries, hours or days)")
        }
    }

    public var description: String {
        switch self {
        case .keepAll: return "true"
        case .keepNone: return "false"
        case .files(let n): return "\(n) files"
        case .totalSizeBytes(let n): return "\(n) size"
        case .transactions(let n): return "\(n) txs"
        case .age(let d):
            let seconds = d.components.seconds
            return seconds % 86_400 == 0 ? "\(seconds / 86_400) days" : "\(seconds / 3600) hours"
        }
    }
}

/// Settings of the transaction log and checkpointing, with Neo4j 3.x names and defaults.
public struct LogConfiguration: Sendable, Hashable {
    /// `dbms.tx_log.rotation.size`: rotate to a new file once the current one reaches this size (default 250M,
    /// minimum 1M in Neo4j; smaller values are accepted here so tests can rotate often).
    public var rotationSizeBytes: Int64
    /// `dbms.tx_log.rotation.retention_policy` (default `7 days`).
    public var retention: RetentionPolicy
    /// `dbms.checkpoint.interval.time` (default 15m). The store checkpoints when either interval is reached.
    public var checkpointIntervalTime: Duration
    /// `dbms.checkpoint.interval.tx` (default 100000).
    public var checkpointIntervalTx: Int64
    /// `dbms.tx_log.preallocate` (Neo4j 4.x name, default true): keep the active log file zero-filled ahead of the
    /// write position, so an append overwrites blocks that are already allocated and written and its `fdatasync`
    /// writes data only (no inode update for a grown file). Real zeros are written, not `fallocate`d: on ext4 an
    /// fallocated extent is "unwritten" and its first write still changes metadata at the sync.
    public var preallocate: Bool
    /// The largest step by which the zero-filled region is extended ahead of the write position (in the background,
    /// once the position has used half of the step). Steps start at 1 MiB and double with the file up to this;
    /// never beyond `rotationSizeBytes`.
    public var preallocationStepBytes: Int64

    public init(
        rotationSizeBytes: Int64 = 250 << 20,
        retention: RetentionPolicy = .default,
        checkpointIntervalTime: Duration = .seconds(15 * 60),
        checkpointIntervalTx: Int64 = 100_000,
        preallocate: Bool = true,
        preallocationStepBytes: Int64 = 16 << 20
    ) {
        precondition(preallocationStepBytes > 0, "preallocation step must be positive")
        self.rotationSizeBytes = rotationSizeBytes
        self.retention = retention
        self.checkpointIntervalTime = checkpointIntervalTime
        self.checkpointIntervalTx = checkpointIntervalTx
        self.preallocate = preallocate
        self.preallocationStepBytes = preallocationStepBytes
    }

    public static let `default` = LogConfiguration()

    /// The setting names this configuration reads.
    public static let settingNames = [
        "dbms.tx_log.rotation.size", "dbms.tx_log.rotation.retention_policy",
        "dbms.checkpoint.interval.time", "dbms.checkpoint.interval.tx", "dbms.tx_log.preallocate",
    ]

    /// Builds the configuration from neo4j.conf-style settings; absent keys keep their defaults, keys not listed in
    /// `settingNames` are ignored (they belong to other components). A malformed value throws `ConfigurationError`.
    public init(settings: [String: String]) throws {
        self.init()
        if let text = settings["dbms.tx_log.rotation.size"] {
            rotationSizeBytes = try ByteSize.parse(text, setting: "dbms.tx_log.rotation.size")
            guard rotationSizeBytes > 0 else {
                throw ConfigurationError(setting: "dbms.tx_log.rotation.size", value: text, reason: "must be positive")
            }
        }
        if let text = settings["dbms.tx_log.rotation.retention_policy"] {
            retention = try RetentionPolicy.parse(text)
        }
        if let text = settings["dbms.checkpoint.interval.time"] {
            // A bare number is seconds, as for every duration in trellis.conf (the server's settings registry).
            checkpointIntervalTime = try DurationSetting.parse(
                text, defaultUnit: .seconds, setting: "dbms.checkpoint.interval.time")
        }
        if let text = settings["dbms.checkpoint.interval.tx"] {
            guard let count = Int64(text.configTrimmed()), count > 0 else {
                throw ConfigurationError(
                    setting: "dbms.checkpoint.interval.tx", value: text, reason: "expected a positive whole number")
            }
            checkpointIntervalTx = count
        }
        if let text = settings["dbms.tx_log.preallocate"] {
            switch text.configTrimmed().lowercased() {
            case "true": preallocate = true
            case "false": preallocate = false
            default:
                throw ConfigurationError(
                    setting: "dbms.tx_log.preallocate", value: text, reason: "expected true or false")
            }
        }
    }
}
