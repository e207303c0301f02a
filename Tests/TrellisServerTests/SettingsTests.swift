import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import TrellisServer

@Suite("Setting value syntax (neo4j-ops.md §1)")
struct SettingValueTests {
    @Test("durations take ms, s, m, h, d and a bare number is seconds")
    func durations() throws {
        #expect(try SettingParsers.duration("500ms") == .milliseconds(500))
        #expect(try SettingParsers.duration("10") == .seconds(10))
        #expect(try SettingParsers.duration("10s") == .seconds(10))
        #expect(try SettingParsers.duration("5m") == .seconds(300))
        #expect(try SettingParsers.duration("2h") == .seconds(7200))
        #expect(try SettingParsers.duration("7d") == .seconds(7 * 86400))
        #expect(throws: SettingValueError.self) { try SettingParsers.duration("10 minutes") }
        #expect(throws: SettingValueError.self) { try SettingParsers.duration("") }
        #expect(throws: SettingValueError.self) { try SettingParsers.duration("-1s") }
    }

    @Test("byte sizes are binary multiples, case-insensitive")
    func byteSizes() throws {
        #expect(try SettingParsers.byteSize("512") == 512)
        #expect(try SettingParsers.byteSize("4k") == 4096)
        #expect(try SettingParsers.byteSize("20m") == 20 << 20)
        #expect(try SettingParsers.byteSize("250M") == 250 << 20)
        #expect(try SettingParsers.byteSize("2G") == 2 << 30)
        #expect(try SettingParsers.byteSize("1GiB") == 1 << 30)
        #expect(throws: SettingValueError.self) { try SettingParsers.byteSize("1x") }
        #expect(throws: SettingValueError.self) { try SettingParsers.byteSize("99999999999999999999g") }
        // A fraction is refused as a fraction, not as an unknown unit ".5g".
        #expect(throws: SettingValueError(expected: "a whole number with k, m, g or t (1536m, not 1.5g)")) {
            try SettingParsers.byteSize("1.5g")
        }
    }

    @Test("socket addresses: host:port, :port, host and bracketed IPv6")
    func addresses() throws {
        #expect(try SettingParsers.socketAddress(":7687") == SocketAddressSetting(host: nil, port: 7687))
        #expect(try SettingParsers.socketAddress("0.0.0.0:7474") == SocketAddressSetting(host: "0.0.0.0", port: 7474))
        #expect(try SettingParsers.socketAddress("example.org") == SocketAddressSetting(host: "example.org", port: nil))
        #expect(try SettingParsers.socketAddress("[::1]:7687") == SocketAddressSetting(host: "::1", port: 7687))
        #expect(throws: SettingValueError.self) { try SettingParsers.socketAddress("host:99999") }
        #expect(throws: SettingValueError.self) { try SettingParsers.socketAddress("host:abc") }
        #expect(try SettingParsers.portRangeAddress("0.0.0.0:5001-5099").ports == 5001...5099)
        #expect(throws: SettingValueError.self) { try SettingParsers.portRangeAddress(":5099-5001") }
    }

    @Test("retention policies as in dbms.tx_log.rotation.retention_policy")
    func retention() throws {
        #expect(try SettingParsers.retentionPolicy("keep_all") == .keepAll)
        #expect(try SettingParsers.retentionPolicy("false") == .keepNone)
        #expect(try SettingParsers.retentionPolicy("100M size") == .totalSizeBytes(100 << 20))
        #expect(try SettingParsers.retentionPolicy("200k txs") == .transactions(200 << 10))
        #expect(try SettingParsers.retentionPolicy("10 days") == .age(.seconds(10 * 86400)))
        #expect(throws: SettingValueError.self) { try SettingParsers.retentionPolicy("10 fortnights") }
    }
}

@Suite("Settings registry and trellis.conf")
struct ConfigTests {
    @Test("every registered default parses, and names are unique")
    func defaultsValid() throws {
        #expect(Settings.byName.count == Settings.all.count)
        for s in Settings.all {
            #expect(throws: Never.self, "default of \(s.name)") { try s.validate(s.defaultText) }
        }
        // Names Neo4j operators and the cluster work rely on are registered.
        for name in [
            "dbms.memory.pagecache.size", "dbms.security.auth_enabled", "dbms.connector.bolt.listen_address",
            "dbms.tx_log.rotation.retention_policy", "ha.server_id", "ha.initial_hosts", "ha.tx_push_factor",
            "metrics.enabled", "metrics.neo4j.tx.enabled", "dbms.logs.query.threshold",
        ] {
            #expect(Settings.byName[name] != nil, "\(name) is registered")
        }
    }

    @Test("no file gives the embedded defaults with data under ./data")
    func embeddedDefaults() throws {
        let config = try Config(home: "/srv/t")
        #expect(config.databaseDirectory == "/srv/t/data/databases/graph.db")
        #expect(config.authDirectory == "/srv/t/data/dbms")
        #expect(config.pidFile == "/srv/t/run/trellis.pid")
        #expect(config.get(Settings.authEnabled) == true)
        #expect(config.listenAddress(Settings.boltListenAddress) == ("127.0.0.1", 7687))
        #expect(config.boltAdvertisedAddress == "localhost:7687")
    }

    @Test("file values are typed, comments and blank lines skipped, the last duplicate wins")
    func fileValues() throws {
        let text = """
            # a comment
            dbms.memory.pagecache.size = 1g

            dbms.connector.bolt.listen_address=0.0.0.0:7690
            dbms.transaction.timeout=30s
            dbms.transaction.timeout=45s
            dbms.connectors.default_advertised_address=db.example
            dbms.jvm.additional=-Xa
            dbms.jvm.additional=-Xb
            """
        let c = try Config(home: "/h", confFile: "/h/conf/trellis.conf", text: text, environment: [:])
        #expect(c.get(Settings.pageCacheSize) == 1 << 30)
        #expect(c.listenAddress(Settings.boltListenAddress) == ("0.0.0.0", 7690))
        #expect(c.boltAdvertisedAddress == "db.example:7690")
        #expect(c.get(Settings.transactionTimeout) == .seconds(45))
        #expect(c.get(Settings.jvmAdditional) == ["-Xa", "-Xb"])
        #expect(c.sources["dbms.transaction.timeout"] == .file(path: "/h/conf/trellis.conf", line: 6))
    }

    @Test("an unknown setting stops start-up naming file, line and setting")
    func unknownSetting() throws {
        let error = #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "/h/conf/trellis.conf", text: "dbms.foo=1\n\ndbms.bar=2", environment: [:])
        }
        #expect(error?.message.contains("/h/conf/trellis.conf:1") == true)
        #expect(error?.message.contains("'dbms.foo'") == true)
    }

    @Test("a malformed value or line stops start-up with the line number and what was expected")
    func malformed() throws {
        let bad = #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "c", text: "\n\ndbms.security.auth_enabled=yes", environment: [:])
        }
        #expect(bad?.message == "c:3: invalid value 'yes' for setting 'dbms.security.auth_enabled': expected true or false")
        let line = #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "c", text: "dbms.read_only", environment: [:])
        }
        #expect(line?.message.hasPrefix("c:1: malformed line") == true)
    }

    @Test("strict_validation=false turns unknown names into warnings, but bad values still fail")
    func lenient() throws {
        let c = try Config(
            home: "/h", confFile: "c", text: "dbms.foo=1\ndbms.config.strict_validation=false", environment: [:])
        #expect(c.warnings.count == 1)
        #expect(c.warnings[0].contains("dbms.foo"))
        #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "c", text: "dbms.config.strict_validation=false\ndbms.read_only=2",
                       environment: [:])
        }
    }

    @Test("TRELLIS_ environment overrides use . → _ and _ → __, and win over the file")
    func environment() throws {
        #expect(Config.settingName(fromEnvironmentVariable: "TRELLIS_dbms_security_auth__enabled")
            == "dbms.security.auth_enabled")
        #expect(Config.settingName(fromEnvironmentVariable: "TRELLIS_dbms_connector_bolt_listen__address")
            == "dbms.connector.bolt.listen_address")
        #expect(Config.environmentVariable(for: "dbms.memory.pagecache.size") == "TRELLIS_dbms_memory_pagecache_size")
        // Trellis's own settings (`trellis.*`) are reachable from the environment too.
        #expect(Config.settingName(fromEnvironmentVariable: "TRELLIS_trellis_memory_adjacency__cache_size")
            == "trellis.memory.adjacency_cache.size")
        // Variables that are not settings (TRELLIS_HOME, TRELLIS_ROOT, …) are not mistaken for settings.
        #expect(Config.settingName(fromEnvironmentVariable: "TRELLIS_HOME") == nil)
        #expect(Config.settingName(fromEnvironmentVariable: "TRELLIS_TEST_LONG") == nil)
        let c = try Config(
            home: "/h", confFile: "c", text: "dbms.security.auth_enabled=true",
            environment: [
                "TRELLIS_dbms_security_auth__enabled": "false", "TRELLIS_ROOT": "/x",
                "TRELLIS_dbms_connector_bolt_listen__address": "127.0.0.1:7690",
            ])
        #expect(c.get(Settings.authEnabled) == false)
        #expect(c.listenAddress(Settings.boltListenAddress) == ("127.0.0.1", 7690))
        let error = #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "c", text: "", environment: ["TRELLIS_dbms_nonsense": "1"])
        }
        #expect(error?.message.contains("environment variable TRELLIS_dbms_nonsense") == true)
    }

    @Test("TRELLIS_HOME and TRELLIS_CONF pick the home and the conf folder")
    func loadFromDisk() throws {
        let dir = try TemporaryDirectory()
        let confDir = dir.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: confDir, withIntermediateDirectories: true)
        try "dbms.directories.data=/var/lib/trellis\n".write(toFile: confDir + "/trellis.conf", atomically: true,
                                                            encoding: .utf8)
        let c = try Config.load(environment: ["TRELLIS_HOME": dir.path, "TRELLIS_CONF": confDir],
                                currentDirectory: "/")
        #expect(c.home == dir.path)
        #expect(c.confFile == confDir + "/trellis.conf")
        #expect(c.dataDirectory == "/var/lib/trellis")
        let plain = try Config.load(environment: [:], currentDirectory: dir.path)
        #expect(plain.confFile == nil)
        #expect(plain.dataDirectory == dir.path + "/data")
        #expect(throws: ConfigError.self) {
            try Config.load(environment: ["TRELLIS_CONF": dir.path + "/missing"], currentDirectory: dir.path)
        }
    }

    @Test("a setting given twice in the file warns with both lines; the environment overriding the file does not")
    func duplicateWarns() throws {
        let c = try Config(
            home: "/h", confFile: "c", text: "dbms.transaction.timeout=30s\n# x\ndbms.transaction.timeout=45s",
            environment: ["TRELLIS_dbms_transaction_timeout": "50s"])
        #expect(c.get(Settings.transactionTimeout) == .seconds(50))
        #expect(c.warnings == ["c:3: setting 'dbms.transaction.timeout' is also set on line 1; line 3 wins"])
    }

    @Test("a setting that changes nothing in Trellis is accepted with one warning naming it")
    func noEffectWarns() throws {
        #expect(Settings.withoutEffect.contains("dbms.checkpoint.iops.limit"))
        #expect(Settings.withoutEffect.contains("dbms.directories.tx_log"))
        #expect(Settings.withoutEffect.contains("ha.role_switch_timeout"))
        #expect(!Settings.withoutEffect.contains("dbms.lock.acquisition.timeout"))
        #expect(!Settings.withoutEffect.contains("dbms.tx_log.rotation.size"))
        let c = try Config(
            home: "/h", confFile: "c", text: "dbms.checkpoint.iops.limit=600\ndbms.jvm.additional=-Xa\n"
                + "dbms.jvm.additional=-Xb\ndbms.tx_log.rotation.size=10m", environment: [:])
        #expect(c.warnings.count == 2, "\(c.warnings)")
        #expect(c.warnings.first?.hasPrefix("c:1: setting 'dbms.checkpoint.iops.limit' is accepted for compatibility "
            + "but has no effect") == true)
        #expect(c.warnings.last?.hasPrefix("c:2: setting 'dbms.jvm.additional'") == true)
    }

    @Test("an unknown setting from the environment names the variable that was probably meant")
    func environmentHint() throws {
        let error = #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "c", text: "", environment: ["TRELLIS_dbms_read_only": "true"])
        }
        #expect(error?.message.contains("environment variable TRELLIS_dbms_read_only: unknown setting 'dbms.read.only'")
            == true)
        #expect(error?.message.contains("did you mean TRELLIS_dbms_read__only for setting 'dbms.read_only'?") == true)
        let plain = #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "c", text: "", environment: ["TRELLIS_dbms_nonsense": "1"])
        }
        #expect(plain?.message.contains("did you mean") == false)
    }

    @Test("dbms.record_format accepts only standard (or nothing): high_limit is refused, not ignored")
    func recordFormat() throws {
        let ok = try Config(home: "/h", confFile: "c", text: "dbms.record_format=Standard", environment: [:])
        #expect(ok.get(Settings.recordFormat) == "standard")
        let error = #expect(throws: ConfigError.self) {
            try Config(home: "/h", confFile: "c", text: "dbms.record_format=high_limit", environment: [:])
        }
        #expect(error?.message.hasPrefix("c:1: invalid value 'high_limit' for setting 'dbms.record_format'") == true)
    }

    @Test("dbms.lock.acquisition.timeout reaches the kernel: a second writer of a node gives up after it")
    func lockTimeoutReachesKernel() throws {
        let dir = try TemporaryDirectory()
        #expect(KernelConfiguration(config: try Config(home: dir.path)).lockAcquisitionTimeout == nil)
        let config = try Config(home: dir.path, overrides: ["dbms.lock.acquisition.timeout": "50ms"])
        var kernel = KernelConfiguration(config: config)
        try #require(kernel.lockAcquisitionTimeout == .milliseconds(50))
        kernel.pageCacheSizeBytes = 8 << 20
        kernel.adjacencyCacheSizeBytes = 0
        let db = try GraphDatabase(directory: config.databaseDirectory, configuration: kernel)
        defer { try? db.close() }
        let node = try db.write { (tx) throws in try tx.createNode(labels: []) }
        let holder = try db.beginTransaction()
        try holder.setNodeProperty(node, "v", .integer(1))
        var code: StatusCode?
        do {
            try db.write { (tx) throws in try tx.setNodeProperty(node, "v", .integer(2)) }
        } catch let error as DatabaseError {
            code = error.code
        }
        #expect(code == .lockAcquisitionTimeout)
        try holder.commit()
    }

    @Test("an unset dbms.memory.pagecache.size is half of the RAM left, capped at 20 GiB as documented")
    func pageCacheDefault() throws {
        #expect(KernelConfiguration.defaultPageCacheSizeBytes(kernelDefault: 11 << 30) == 11 << 30)
        #expect(KernelConfiguration.defaultPageCacheSizeBytes(kernelDefault: 60 << 30) == 20 << 30)
        let unset = KernelConfiguration(config: try Config(home: "/h"))
        #expect(unset.pageCacheSizeBytes == min(KernelConfiguration().effectivePageCacheSizeBytes, 20 << 30))
        let set = KernelConfiguration(config: try Config(home: "/h", overrides: ["dbms.memory.pagecache.size": "40g"]))
        #expect(set.pageCacheSizeBytes == 40 << 30)
    }

    @Test("the committed docs/configuration.md is what the registry generates")
    func docsMatch() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        #expect(committed == ConfigDocs.markdown(), "run: trellis admin generate-config-docs --output docs/configuration.md")
    }
}

/// A fresh directory under the system temp folder, removed when the value is deinitialised.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "trellis-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
