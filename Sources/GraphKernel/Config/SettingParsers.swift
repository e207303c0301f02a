import GraphValues

/// Parsing of neo4j.conf-style values shared by kernel settings: byte sizes and durations.
///
/// Syntax follows Neo4j 3.x (`org.neo4j.kernel.configuration.Settings`): byte sizes take an optional
/// `k`/`m`/`g`/`t` suffix (case-insensitive, optionally followed by `b`/`ib`), multiples of 1024; durations take
/// `ms`, `s`, `m`, `h` or `d`, and a bare number means the setting's default unit.
/// A malformed value throws `ConfigurationError`, whose message names the setting and the offending value.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The setting being parsed, e.g. `dbms.tx_log.rotation.size` (may be empty when parsing a bare value).
    public var setting: String
    /// The value exactly as given.
    public var value: String
    /// What was expected.
    public var reason: String

    public init(setting: String, value: String, reason: String) {
        self.setting = setting
        self.value = value
        self.reason = reason
    }

    public var description: String {
        let name = setting.isEmpty ? "" : " for setting '\(setting)'"
        return "Bad value '\(value)'\(name): \(reason)"
    }

    /// The client-visible form (Neo4j reports configuration problems as invalid arguments).
    public var databaseError: DatabaseError { DatabaseError(.invalidRequest, description) }
}

/// A number of bytes, parsed from Neo4j's size syntax (`512m`, `4g`, `100k`, `1024`).
public enum ByteSize {
    /// Parses `text` as a byte count. Suffixes are powers of 1024: `k`, `m`, `g`, `t` (also `kb`, `kib`, …).
    /// Whitespace between number and unit is allowed. Negative and overflowing values are errors.
    public static func parse(_ text: String, setting: String = "") throws -> Int64 {
        let trimmed = text.configTrimmed()
        let (digits, rest) = trimmed.configSplitLeadingNumber()
        guard !digits.isEmpty, let number = Int64(digits) else {
            throw ConfigurationError(
                setting: setting, value: text,
                reason: "expected a byte size such as 1024, 100k, 512m or 4g")
        }
        let multiplier: Int64
        switch rest.configTrimmed().lowercased() {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        case "t", "tb", "tib": multiplier = 1 << 40
        default:
            throw ConfigurationError(
                setting: setting, value: text,
                reason: "unknown size unit '\(rest.configTrimmed())' (use k, m, g or t)")
        }
        let (result, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else {
            throw ConfigurationError(setting: setting, value: text, reason: "byte size is too large")
        }
        return result
    }
}

/// Durations in Neo4j's syntax (`15m`, `300s`, `1h`, `500ms`, `2d`).
public enum DurationSetting {
    /// The unit a bare number is read in; each setting has its own (Neo4j's time settings default to seconds or
    /// milliseconds depending on the setting).
    public enum Unit: Sendable {
        case milliseconds, seconds, minutes, hours, days

        var milliseconds: Int64 {
            switch self {
            case .milliseconds: return 1
            case .seconds: return 1000
            case .minutes: return 60_000
            case .hours: return 3_600_000
            case .days: return 86_400_000
            }
        }
    }

    /// Parses `text` as a non-negative duration; a bare number is in `defaultUnit`.
    public static func parse(_ text: String, defaultUnit: Unit = .seconds, setting: String = "") throws -> Duration {
        let trimmed = text.configTrimmed()
        let (digits, rest) = trimmed.configSplitLeadingNumber()
        guard !digits.isEmpty, let number = Int64(digits) else {
            throw ConfigurationError(
                setting: setting, value: text, reason: "expected a duration such as 500ms, 300s, 15m, 1h or 7d")
        }
        let unit: Unit
        switch rest.configTrimmed().lowercased() {
        case "": unit = defaultUnit
        case "ms": unit = .milliseconds
        case "s": unit = .seconds
        case "m": unit = .minutes
        case "h": unit = .hours
        case "d": unit = .days
        default:
            throw ConfigurationError(
                setting: setting, value: text,
                reason: "unknown duration unit '\(rest.configTrimmed())' (use ms, s, m, h or d)")
        }
        let (millis, overflow) = number.multipliedReportingOverflow(by: unit.milliseconds)
        guard !overflow else { throw ConfigurationError(setting: setting, value: text, reason: "duration is too long") }
        return .milliseconds(millis)
    }
}

extension String {
    func configTrimmed() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }

    /// Splits "100M size" into ("100", "M size"). Only ASCII digits count; signs are rejected by the caller.
    func configSplitLeadingNumber() -> (digits: String, rest: String) {
        let digits = prefix { $0.isASCII && $0.isNumber }
        return (String(digits), String(dropFirst(digits.count)))
    }
}
