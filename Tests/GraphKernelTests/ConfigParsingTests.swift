import GraphValues
import Testing

@testable import GraphKernel

@Suite("Configuration parsing: byte sizes, durations, retention policy")
struct ConfigParsingTests {
    @Test(
        "byte sizes in Neo4j syntax",
        arguments: [
            ("1024", Int64(1024)), ("100k", 102_400), ("512m", 536_870_912), ("4g", 4_294_967_296),
            ("250M", 262_144_000), (" 2 G ", 2_147_483_648), ("1kb", 1024), ("3MiB", 3_145_728), ("0", 0),
            ("1t", 1_099_511_627_776),
        ])
    func byteSizes(text: String, expected: Int64) throws {
        #expect(try ByteSize.parse(text) == expected)
    }

    @Test("malformed byte sizes name the value", arguments: ["", "m", "-1m", "12x", "1.5g", "99999999999999g"])
    func malformedByteSizes(text: String) {
        #expect {
            try ByteSize.parse(text, setting: "dbms.tx_log.rotation.size")
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.value == text && error.description.contains("'\(text)'")
                && error.description.contains("dbms.tx_log.rotation.size")
        }
    }

    @Test(
        "durations with units and a default unit for bare numbers",
        arguments: [
            ("15m", Duration.seconds(900)), ("300s", .seconds(300)), ("1h", .seconds(3600)),
            ("500ms", .milliseconds(500)), ("2d", .seconds(172_800)), ("20", .seconds(20)),
        ])
    func durations(text: String, expected: Duration) throws {
        #expect(try DurationSetting.parse(text, defaultUnit: .seconds) == expected)
    }

    @Test("a bare number takes the setting's unit")
    func bareNumberUnit() throws {
        #expect(try DurationSetting.parse("250", defaultUnit: .milliseconds) == .milliseconds(250))
        #expect(try DurationSetting.parse("3", defaultUnit: .minutes) == .seconds(180))
    }

    @Test("malformed durations are errors", arguments: ["", "s", "15 minutes", "1.5h", "-3s", "10w"])
    func malformedDurations(text: String) {
        #expect(throws: ConfigurationError.self) { try DurationSetting.parse(text) }
    }

    @Test(
        "retention policies in Neo4j syntax",
        arguments: [
            ("true", RetentionPolicy.keepAll), ("keep_all", .keepAll), ("false", .keepNone), ("keep_none", .keepNone),
            ("100M size", .totalSizeBytes(104_857_600)), ("200k txs", .transactions(204_800)),
            ("1000 entries", .transactions(1000)), ("5 files", .files(5)), ("7 days", .age(.seconds(604_800))),
            ("12 hours", .age(.seconds(43_200))), ("  3   files ", .files(3)), ("TRUE", .keepAll),
        ])
    func retentionPolicies(text: String, expected: RetentionPolicy) throws {
        #expect(try RetentionPolicy.parse(text) == expected)
    }

    @Test(
        "malformed retention policies are clear errors naming the value",
        arguments: ["", "yes", "100M", "size 100M", "5 weeks", "x files", "0 files", "-1 days", "1 2 files", "1.5 days"])
    func malformedRetention(text: String) {
        #expect {
            try RetentionPolicy.parse(text)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.value == text && error.setting == "dbms.tx_log.rotation.retention_policy"
                && error.description.contains("'\(text)'")
        }
    }

    @Test("log configuration defaults are Neo4j's")
    func defaults() {
        let config = LogConfiguration()
        #expect(config.rotationSizeBytes == 250 * 1024 * 1024)
        #expect(config.retention == .age(.seconds(7 * 86_400)))
        #expect(config.checkpointIntervalTime == .seconds(900))
        #expect(config.checkpointIntervalTx == 100_000)
    }

    @Test("log configuration reads neo4j.conf settings and rejects bad values")
    func fromSettings() throws {
        let config = try LogConfiguration(settings: [
            "dbms.tx_log.rotation.size": "1M", "dbms.tx_log.rotation.retention_policy": "2 files",
            "dbms.checkpoint.interval.time": "30s", "dbms.checkpoint.interval.tx": "500", "unrelated.setting": "x",
        ])
        #expect(config.rotationSizeBytes == 1 << 20)
        #expect(config.retention == .files(2))
        #expect(config.checkpointIntervalTime == .seconds(30))
        #expect(config.checkpointIntervalTx == 500)
        // A bare number is seconds, as in trellis.conf.
        let bare = try LogConfiguration(settings: ["dbms.checkpoint.interval.time": "90"])
        #expect(bare.checkpointIntervalTime == .seconds(90))
        #expect(throws: ConfigurationError.self) {
            try LogConfiguration(settings: ["dbms.checkpoint.interval.tx": "often"])
        }
        #expect(throws: ConfigurationError.self) {
            try LogConfiguration(settings: ["dbms.tx_log.rotation.retention_policy": "forever"])
        }
    }
}
