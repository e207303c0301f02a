import Foundation
import GraphKernel

/// One configuration setting: its neo4j.conf name, the default as it would be written in the file, a
/// description for `docs/configuration.md`, and how its text is read (which is also its validation).
///
/// Typed handles (`Setting<Duration>`, `Setting<Bool>`, …) are what code reads through `Config`; the registry
/// keeps them type-erased as `AnySetting` so one table drives validation and documentation.
public struct Setting<Value: Sendable>: Sendable {
    public let name: String
    /// The default in conf syntax; empty means "not set" (the typed value is then nil / derived).
    public let defaultText: String
    public let description: String
    /// Human description of the syntax ("duration", "byte size", …) for the docs.
    public let typeName: String
    /// Whether the setting can be changed at run time (`dbms.setConfigValue`), as Neo4j marks it.
    public let dynamic: Bool
    let parser: @Sendable (String) throws(SettingValueError) -> Value

    public init(
        _ name: String, default defaultText: String, type typeName: String, dynamic: Bool = false,
        _ description: String, parse: @escaping @Sendable (String) throws(SettingValueError) -> Value
    ) {
        self.name = name
        self.defaultText = defaultText
        self.description = description
        self.typeName = typeName
        self.dynamic = dynamic
        self.parser = parse
    }

    public func parse(_ text: String) throws(SettingValueError) -> Value { try parser(text) }

    public var erased: AnySetting {
        let parser = self.parser
        return AnySetting(
            name: name, defaultText: defaultText, description: description, typeName: typeName, dynamic: dynamic,
            validate: { (text: String) throws(SettingValueError) in _ = try parser(text) })
    }
}

/// A setting without its value type: what the registry, the validator and the docs generator need.
public struct AnySetting: Sendable {
    public let name: String
    public let defaultText: String
    public let description: String
    public let typeName: String
    public let dynamic: Bool
    public let validate: @Sendable (String) throws(SettingValueError) -> Void
}

// MARK: - Constructors for the common types

extension Setting where Value == Bool {
    public static func boolean(_ name: String, _ def: Bool, dynamic: Bool = false, _ doc: String) -> Self {
        Setting(name, default: def ? "true" : "false", type: "boolean", dynamic: dynamic, doc) {
            (t: String) throws(SettingValueError) in try SettingParsers.boolean(t)
        }
    }
}

extension Setting where Value == Duration {
    /// A duration; `positive` rejects zero (for intervals, where 0 cannot mean "none").
    public static func duration(
        _ name: String, _ def: String, dynamic: Bool = false, positive: Bool = false, _ doc: String
    ) -> Self {
        Setting(name, default: def, type: "duration", dynamic: dynamic, doc) {
            (t: String) throws(SettingValueError) in
            let value = try SettingParsers.duration(t)
            guard !positive || value > .zero else { throw SettingValueError(expected: "a duration above zero") }
            return value
        }
    }
}

extension Setting where Value == Int64 {
    /// A byte size (value in bytes).
    public static func byteSize(
        _ name: String, _ def: String, min: Int64 = 0, dynamic: Bool = false, _ doc: String
    ) -> Self {
        Setting(name, default: def, type: "byte size", dynamic: dynamic, doc) { (t: String) throws(SettingValueError) in
            let v = try SettingParsers.byteSize(t)
            guard v >= min else { throw SettingValueError(expected: "a byte size of at least \(min) bytes") }
            return v
        }
    }

    public static func integer(
        _ name: String, _ def: Int64, range: ClosedRange<Int64> = 0...Int64.max, dynamic: Bool = false,
        _ doc: String
    ) -> Self {
        Setting(name, default: String(def), type: "integer", dynamic: dynamic, doc) {
            (t: String) throws(SettingValueError) in try SettingParsers.integer(t, in: range)
        }
    }
}

extension Setting where Value == Int64? {
    /// A byte size that may be left unset (the server then picks a value, e.g. the page cache heuristic).
    public static func optionalByteSize(_ name: String, _ doc: String) -> Self {
        Setting(name, default: "", type: "byte size", doc) { (t: String) throws(SettingValueError) in
            t.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try SettingParsers.byteSize(t)
        }
    }

    public static func optionalInteger(_ name: String, range: ClosedRange<Int64>, _ doc: String) -> Self {
        Setting(name, default: "", type: "integer", doc) { (t: String) throws(SettingValueError) in
            t.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try SettingParsers.integer(t, in: range)
        }
    }
}

extension Setting where Value == String {
    public static func string(_ name: String, _ def: String, dynamic: Bool = false, _ doc: String) -> Self {
        Setting(name, default: def, type: "string", dynamic: dynamic, doc) { (t: String) throws(SettingValueError) in
            t.trimmingCharacters(in: .whitespaces)
        }
    }

    /// A path; relative paths resolve against TRELLIS_HOME (or the data directory, where noted).
    public static func path(_ name: String, _ def: String, _ doc: String) -> Self {
        Setting(name, default: def, type: "path", doc) { (t: String) throws(SettingValueError) in
            let p = t.trimmingCharacters(in: .whitespaces)
            guard !p.contains("\0") else { throw SettingValueError(expected: "a path") }
            return p
        }
    }

    /// One of a fixed set of words (case-insensitive in the file, canonical spelling in the value).
    public static func oneOf(
        _ name: String, _ def: String, _ options: [String], dynamic: Bool = false, _ doc: String
    ) -> Self {
        precondition(options.contains(def), "default \(def) of \(name) must be one of \(options)")
        return Setting(name, default: def, type: "one of " + options.joined(separator: ", "), dynamic: dynamic, doc)
        { (t: String) throws(SettingValueError) in try SettingParsers.oneOf(t, options) }
    }
}

extension Setting where Value == [String] {
    public static func list(_ name: String, _ def: String, _ doc: String) -> Self {
        Setting(name, default: def, type: "comma-separated list", doc) { (t: String) throws(SettingValueError) in
            SettingParsers.list(t)
        }
    }
}

extension Setting where Value == SocketAddressSetting {
    public static func address(_ name: String, _ def: String, _ doc: String) -> Self {
        Setting(name, default: def, type: "host:port", doc) { (t: String) throws(SettingValueError) in
            try SettingParsers.socketAddress(t)
        }
    }
}

extension Setting where Value == SocketAddressSetting? {
    public static func optionalAddress(_ name: String, _ doc: String) -> Self {
        Setting(name, default: "", type: "host:port", doc) { (t: String) throws(SettingValueError) in
            t.trimmingCharacters(in: .whitespaces).isEmpty ? nil : try SettingParsers.socketAddress(t)
        }
    }
}

extension Setting where Value == PortRangeAddress {
    public static func portRange(_ name: String, _ def: String, _ doc: String) -> Self {
        Setting(name, default: def, type: "host:port or host:port-port", doc) {
            (t: String) throws(SettingValueError) in try SettingParsers.portRangeAddress(t)
        }
    }
}

extension Setting where Value == RetentionPolicy {
    public static func retention(_ name: String, _ def: String, dynamic: Bool = false, _ doc: String) -> Self {
        Setting(name, default: def, type: "retention policy", dynamic: dynamic, doc) {
            (t: String) throws(SettingValueError) in try SettingParsers.retentionPolicy(t)
        }
    }
}
