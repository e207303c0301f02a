import Foundation

/// A configuration problem that stops start-up. The message names the file (or environment variable), the
/// line and the setting, so an operator can fix it without guessing.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Where a setting's value came from, for error messages and `dbms.listConfig`.
public enum SettingSource: Sendable, Hashable, CustomStringConvertible {
    case file(path: String, line: Int)
    case environment(variable: String)
    case programmatic

    public var description: String {
        switch self {
        case .file(let path, let line): return "\(path):\(line)"
        case .environment(let variable): return "environment variable \(variable)"
        case .programmatic: return "program"
        }
    }
}

/// The validated configuration of one instance: embedded defaults, then `trellis.conf`, then `TRELLIS_*`
/// environment overrides (last wins). Every explicit value has been checked against the registry when a
/// `Config` exists, so typed reads cannot fail.
public struct Config: Sendable {
    /// Absolute home folder (TRELLIS_HOME, default the current directory).
    public let home: String
    /// The conf file read, if there was one.
    public let confFile: String?
    /// Explicitly set values by setting name.
    public private(set) var values: [String: String]
    public private(set) var sources: [String: SettingSource]
    /// Non-fatal findings (unknown names with strict validation off, deprecated names) to log at start.
    public private(set) var warnings: [String]

    /// Prefix of environment overrides (`TRELLIS_dbms_security_auth__enabled=false`).
    public static let environmentPrefix = "TRELLIS_"
    /// Setting namespaces an environment override may address; other `TRELLIS_*` variables (TRELLIS_HOME,
    /// TRELLIS_ROOT, TRELLIS_TEST_LONG, …) are not settings and are left alone.
    static let settingNamespaces = [
        "dbms.", "ha.", "metrics.", "unsupported.", "causal_clustering.", "browser.", "trellis.",
    ]

    /// Defaults only (plus `overrides`), with `home` as given. For tests and embedded use.
    public init(home: String, overrides: [String: String] = [:]) throws(ConfigError) {
        self.home = home
        self.confFile = nil
        self.values = [:]
        self.sources = [:]
        self.warnings = []
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
            try set(name, value, source: .programmatic, strict: true)
        }
    }

    /// Loads the configuration the way `trellis` does: home from TRELLIS_HOME (default `currentDirectory`),
    /// `trellis.conf` from TRELLIS_CONF (default `<home>/conf`; a missing file means embedded defaults),
    /// then `TRELLIS_*` overrides from `environment`.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) throws(ConfigError) -> Config {
        let home = absolutePath(environment["TRELLIS_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ".",
                                relativeTo: currentDirectory)
        let confDir = absolutePath(environment["TRELLIS_CONF"].flatMap { $0.isEmpty ? nil : $0 } ?? "conf",
                                   relativeTo: home)
        let confPath = (confDir as NSString).appendingPathComponent("trellis.conf")
        var text: String?
        if FileManager.default.fileExists(atPath: confPath) {
            do {
                text = try String(contentsOfFile: confPath, encoding: .utf8)
            } catch {
                throw ConfigError("\(confPath): cannot be read as UTF-8 text: \(error.localizedDescription)")
            }
        } else if environment["TRELLIS_CONF"] != nil {
            throw ConfigError("TRELLIS_CONF=\(confDir): no trellis.conf in that folder")
        }
        return try Config(home: home, confFile: text == nil ? nil : confPath, text: text ?? "",
                          environment: environment)
    }

    /// Reads conf `text` (attributed to `confFile` in messages) and the environment overrides.
    public init(home: String, confFile: String?, text: String, environment: [String: String]) throws(ConfigError) {
        self.home = home
        self.confFile = confFile
        self.values = [:]
        self.sources = [:]
        self.warnings = []
        let fileName = confFile ?? "trellis.conf"
        let entries = try Config.parseLines(text, file: fileName)
        let envEntries = Config.environmentEntries(environment)
        // Strictness itself may be set in the file or the environment; find it before judging names.
        var strict = true
        for (name, value, source) in entries.map({ ($0.name, $0.value, $0.source) }) + envEntries
        where name == Settings.strictValidation.name {
            do { strict = try Settings.strictValidation.parse(value) } catch {
                throw ConfigError("\(source): invalid value '\(value)' for setting '\(name)': \(error)")
            }
        }
        for e in entries { try set(e.name, e.value, source: e.source, strict: strict) }
        for (name, value, source) in envEntries { try set(name, value, source: source, strict: strict) }
    }

    struct Line {
        var name: String
        var value: String
        var source: SettingSource
    }

    /// neo4j.conf syntax: `name=value` per line, `#` comment lines, blank lines ignored; whitespace around
    /// name and value trimmed. A line without `=` or with an empty name is malformed.
    static func parseLines(_ text: String, file: String) throws(ConfigError) -> [Line] {
        var lines: [Line] = []
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else {
                throw ConfigError("\(file):\(number): malformed line '\(line)': expected name=value")
            }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw ConfigError("\(file):\(number): malformed line '\(line)': expected name=value")
            }
            lines.append(Line(name: name, value: value, source: .file(path: file, line: number)))
        }
        return lines
    }

    /// `TRELLIS_<name>` with `.` written `_` and `_` written `__` (Neo4j's Docker convention).
    public static func settingName(fromEnvironmentVariable variable: String) -> String? {
        guard variable.hasPrefix(environmentPrefix) else { return nil }
        let encoded = variable.dropFirst(environmentPrefix.count)
        var name = ""
        var i = encoded.startIndex
        while i < encoded.endIndex {
            let c = encoded[i]
            let next = encoded.index(after: i)
            if c == "_" {
                if next < encoded.endIndex && encoded[next] == "_" {
                    name.append("_")
                    i = encoded.index(after: next)
                    continue
                }
                name.append(".")
            } else {
                name.append(c)
            }
            i = next
        }
        guard settingNamespaces.contains(where: { name.hasPrefix($0) }) else { return nil }
        return name
    }

    /// The environment variable that overrides `setting`.
    public static func environmentVariable(for setting: String) -> String {
        environmentPrefix + setting.replacingOccurrences(of: "_", with: "__").replacingOccurrences(of: ".", with: "_")
    }

    static func environmentEntries(_ environment: [String: String]) -> [(String, String, SettingSource)] {
        environment.keys.sorted().compactMap { key in
            guard let name = settingName(fromEnvironmentVariable: key) else { return nil }
            return (name, environment[key]!, .environment(variable: key))
        }
    }

    mutating func set(_ rawName: String, _ value: String, source: SettingSource, strict: Bool) throws(ConfigError) {
        var name = rawName
        if let current = Settings.legacyNames[rawName] {
            warnings.append("\(source): setting '\(rawName)' is deprecated; use '\(current)'")
            name = current
        }
        guard let setting = Settings.byName[name] else {
            var message = "\(source): unknown setting '\(rawName)'"
            if case .environment = source, let hint = Config.environmentHint(forUnknown: name) {
                message += " (\(hint))"
            }
            if strict {
                throw ConfigError(message + " (set dbms.config.strict_validation=false to only warn)")
            }
            warnings.append(message + " (ignored)")
            return
        }
        do {
            try setting.validate(value)
        } catch {
            throw ConfigError("\(source): invalid value '\(value)' for setting '\(name)': \(error)")
        }
        if name == Settings.jvmAdditional.name, let previous = values[name], !previous.isEmpty {
            values[name] = previous + "," + value  // may repeat in neo4j.conf; values accumulate
        } else {
            // The last value wins, as in Neo4j; a setting given twice in the file is usually an edit that
            // forgot the first line, so say which line lost. (The environment overriding the file is intended.)
            if case .file(_, let line) = source, case .file(_, let earlier)? = sources[name] {
                warnings.append("\(source): setting '\(name)' is also set on line \(earlier); line \(line) wins")
            }
            values[name] = value
        }
        // A setting that is only accepted so that neo4j.conf files validate does nothing; say so once, so that
        // nobody waits for an effect that never comes (docs/configuration.md says why for each).
        if Settings.withoutEffect.contains(name) && !noEffectReported.contains(name) {
            noEffectReported.insert(name)
            warnings.append(
                "\(source): setting '\(name)' is accepted for compatibility but has no effect in Trellis "
                    + "(see docs/configuration.md)")
        }
        sources[name] = source
    }

    /// Names already reported as having no effect (a repeated `dbms.jvm.additional` warns once).
    private var noEffectReported: Set<String> = []

    /// For an unknown name that came from an environment variable: the variable of the setting that differs
    /// only in `_` versus `.`, the usual slip (`TRELLIS_dbms_read_only` decodes to `dbms.read.only`; the
    /// variable for `dbms.read_only` is `TRELLIS_dbms_read__only`).
    static func environmentHint(forUnknown name: String) -> String? {
        func shape(_ text: String) -> String { text.replacingOccurrences(of: "_", with: ".") }
        let target = shape(name)
        guard let match = Settings.byName.keys.sorted().first(where: { shape($0) == target }) else { return nil }
        return "did you mean \(environmentVariable(for: match)) for setting '\(match)'? Write '_' in a name as '__'"
    }

    // MARK: - Reading

    /// The typed value of `setting`: explicit value if set, else the default.
    public func get<T>(_ setting: Setting<T>) -> T {
        if let text = values[setting.name], let v = try? setting.parse(text) { return v }
        do {
            return try setting.parse(setting.defaultText)
        } catch {
            preconditionFailure("default '\(setting.defaultText)' of \(setting.name) does not parse: \(error)")
        }
    }

    public func isExplicitlySet(_ name: String) -> Bool { values[name] != nil }

    /// This configuration with `overrides` applied on top (validated like any value; source "program").
    public func overriding(_ overrides: [String: String]) throws(ConfigError) -> Config {
        var copy = self
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
            try copy.set(name, value, source: .programmatic, strict: true)
        }
        return copy
    }

    /// Text value (explicit or default) of any registered setting, for `dbms.listConfig`.
    public func text(of name: String) -> String? {
        values[name] ?? Settings.byName[name]?.defaultText
    }

    /// Changes a dynamic setting at run time (`dbms.setConfigValue`).
    public mutating func setDynamic(_ name: String, _ value: String) throws(ConfigError) {
        guard let setting = Settings.byName[name] else { throw ConfigError("unknown setting '\(name)'") }
        guard setting.dynamic else { throw ConfigError("setting '\(name)' is not dynamic") }
        try set(name, value, source: .programmatic, strict: true)
    }

    // MARK: - Layout (relative to home)

    static func absolutePath(_ path: String, relativeTo base: String) -> String {
        let p = path.hasPrefix("/") ? path : (base as NSString).appendingPathComponent(path)
        return (p as NSString).standardizingPath
    }

    /// A directory setting resolved against home.
    public func directory(_ setting: Setting<String>) -> String {
        Config.absolutePath(get(setting), relativeTo: home)
    }

    public var dataDirectory: String { directory(Settings.dataDirectory) }
    public var logsDirectory: String { directory(Settings.logsDirectory) }
    public var runDirectory: String { directory(Settings.runDirectory) }
    public var importDirectory: String { directory(Settings.importDirectory) }
    public var certificatesDirectory: String { directory(Settings.certificatesDirectory) }
    /// `<data>/databases/<active_database>`.
    public var databaseDirectory: String {
        ((dataDirectory as NSString).appendingPathComponent("databases") as NSString)
            .appendingPathComponent(get(Settings.activeDatabase))
    }
    /// `<data>/dbms`: users (`auth`) and roles (`roles`).
    public var authDirectory: String { (dataDirectory as NSString).appendingPathComponent("dbms") }
    public var pidFile: String { (runDirectory as NSString).appendingPathComponent("trellis.pid") }

    // MARK: - Connectors

    /// A listen address with the host filled from `dbms.connectors.default_listen_address` and the port from
    /// the setting's default.
    public func listenAddress(_ setting: Setting<SocketAddressSetting>) -> (host: String, port: Int) {
        let given = get(setting)
        let defaultPort = (try? setting.parse(setting.defaultText))?.port ?? 0
        return (given.host ?? get(Settings.defaultListenAddress), given.port ?? defaultPort)
    }

    /// An advertised address: explicit parts first, then the default advertised host and the listen port.
    public func advertisedAddress(
        _ setting: Setting<SocketAddressSetting?>, listen: Setting<SocketAddressSetting>
    ) -> (host: String, port: Int) {
        let given = get(setting)
        return (given?.host ?? get(Settings.defaultAdvertisedAddress), given?.port ?? listenAddress(listen).port)
    }

    public var boltAdvertisedAddress: String {
        let a = advertisedAddress(Settings.boltAdvertisedAddress, listen: Settings.boltListenAddress)
        return SocketAddressSetting(host: a.host, port: a.port).description
    }
}
