import Foundation
import GraphKernel
import Logging
import NIOPosix
import Testing
@testable import TrellisServer

/// The metrics subsystem (docs/monitoring.md): group switches, the sources' names and values, and the three
/// reporters' formats (neo4j-ops.md §1 "Metrics settings", §7 "Metrics names").
@Suite("Metrics")
struct MetricsTests {
    // MARK: - Switches

    @Test("group switches inherit metrics.neo4j.enabled, which inherits metrics.enabled")
    func switchInheritance() throws {
        let all = Set(MetricGroup.allCases)
        #expect(MetricSwitches(config: try Config(home: "/tmp")).enabled == all)
        #expect(MetricSwitches(config: try Config(home: "/tmp", overrides: ["metrics.enabled": "false"])).enabled
            == [])
        // The master switch wins even over a group switched on explicitly.
        #expect(MetricSwitches(config: try Config(home: "/tmp", overrides: [
            "metrics.enabled": "false", "metrics.neo4j.tx.enabled": "true",
        ])).enabled == [])
        #expect(MetricSwitches(config: try Config(home: "/tmp", overrides: ["metrics.neo4j.enabled": "false"]))
            .enabled == [])
        #expect(MetricSwitches(config: try Config(home: "/tmp", overrides: [
            "metrics.neo4j.enabled": "false", "metrics.neo4j.tx.enabled": "true", "metrics.bolt.messages.enabled": "true",
        ])).enabled == [.transactions, .boltMessages])
        #expect(MetricSwitches(config: try Config(home: "/tmp", overrides: ["metrics.neo4j.pagecache.enabled": "false"]))
            .enabled == all.subtracting([.pageCache]))
        #expect(throws: ConfigError.self) {
            try Config(home: "/tmp", overrides: ["metrics.neo4j.tx.enabled": "maybe"])
        }
    }

    @Test("a switched-off group contributes no samples")
    func registryFiltersGroups() {
        let registry = MetricsRegistry(switches: MetricSwitches(enabled: [.transactions]))
        registry.register(.transactions) { [.counter("neo4j.transaction.started", 3)] }
        registry.register(.pageCache) { [.counter("neo4j.page_cache.hits", 9)] }
        #expect(registry.collect() == [.counter("neo4j.transaction.started", 3)])
    }

    // MARK: - Sources

    @Test("kernel sources count transactions, checkpoints and ids in use with Neo4j's names")
    func kernelSources() throws {
        let dir = try TemporaryDirectory()
        let db = try GraphDatabase(directory: dir.path + "/db")
        defer { try? db.close() }
        let registry = MetricsRegistry(switches: MetricSwitches(enabled: Set(MetricGroup.allCases)))
        MetricSources.registerDatabase(registry, database: { db })
        func value(_ name: String) -> Double? { registry.collect().first { $0.name == name }?.value }
        let before = try #require(value("neo4j.transaction.committed"))
        for i in 0..<5 {
            try db.write { (tx: KernelTransaction) -> Void in
                _ = try tx.createNode(labels: ["M"], properties: ["i": .integer(Int64(i))])
            }
        }
        let seen = try db.read { (tx: KernelTransaction) -> Int in Array(try tx.allNodes()).count }
        #expect(seen == 5)
        let rolledBack = try db.beginTransaction(mode: .write)
        _ = try rolledBack.createNode(labels: ["Gone"], properties: [:])
        rolledBack.rollback()
        let terminated = try db.beginTransaction(mode: .write)
        terminated.terminate()
        terminated.rollback()
        try db.checkpoint()

        // `db.read` commits a read that returns: it counts as a committed read, not a rollback.
        #expect(value("neo4j.transaction.committed") == before + 6)
        #expect(value("neo4j.transaction.committed_write") == 5)
        #expect(value("neo4j.transaction.committed_read") == 1)
        #expect(value("neo4j.transaction.rollbacks") == 2)
        #expect(value("neo4j.transaction.rollbacks_write") == 1)
        #expect(value("neo4j.transaction.rollbacks_read") == 1)
        #expect(value("neo4j.transaction.terminated") == 1)
        #expect(value("neo4j.transaction.terminated_read") == 1)
        #expect(value("neo4j.transaction.active") == 0)
        #expect(try #require(value("neo4j.transaction.started")) >= before + 8)
        #expect(try #require(value("neo4j.transaction.peak_concurrent")) >= 1)
        #expect(value("neo4j.transaction.last_committed_tx_id") == Double(db.lastCommittedTxID.rawValue))
        #expect(value("neo4j.ids_in_use.node") == 5)
        #expect(try #require(value("neo4j.check_point.events")) >= 1)
        #expect(try #require(value("neo4j.page_cache.hits")) > 0)
        let ratio = try #require(value("neo4j.page_cache.hit_ratio"))
        #expect(ratio > 0 && ratio <= 1)
        let kinds = Dictionary(registry.collect().map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(kinds["neo4j.transaction.committed"] == .counter)
        #expect(kinds["neo4j.transaction.active"] == .gauge)
        #expect(kinds["neo4j.ids_in_use.relationship_type"] == .gauge)
        #expect(kinds["neo4j.log_rotation.events"] == .counter)
        // Five committed writes (plus token transactions), each appended to the log and made durable by a sync.
        #expect(try #require(value("trellis.transaction_log.appended_transactions")) >= 5)
        #expect(try #require(value("trellis.transaction_log.syncs")) >= 1)
        #expect(try #require(value("trellis.transaction_log.bytes_written")) > 0)
    }

    @Test("process statistics are read from /proc's stat and statm formats")
    func processStatistics() throws {
        // A command name with spaces and parentheses must not shift the fields.
        let stat = "4242 (trel (lis) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1234 5000000 300"
        let stats = try #require(ProcessStatistics.parse(
            stat: stat, statm: "1000 300 50 10 0 200 0\n", pageSize: 4096, ticksPerSecond: 100, openFiles: 12))
        #expect(stats == ProcessStatistics(
            residentBytes: 300 * 4096, virtualBytes: 1000 * 4096, threads: 7, cpuMillis: 3000, openFiles: 12))
        #expect(ProcessStatistics.parse(stat: "garbage", statm: "", pageSize: 4096, ticksPerSecond: 100, openFiles: 0)
            == nil)
        #if os(Linux)
        let live = try #require(ProcessStatistics.read())
        #expect(live.residentBytes > 0 && live.threads >= 1)
        #endif
    }

    // MARK: - CSV

    @Test("CSV: one file per metric, t,count for counters and t,value for gauges, epoch seconds")
    func csvFormat() throws {
        let dir = try TemporaryDirectory()
        let reporter = CSVReporter(directory: dir.path + "/metrics", rotationSizeBytes: 1 << 20, keepNumber: 3)
        try reporter.report(
            [.counter("neo4j.transaction.committed", 7), .gauge("neo4j.page_cache.hit_ratio", 0.5)],
            epochSeconds: 1_700_000_000)
        try reporter.report(
            [.counter("neo4j.transaction.committed", 9), .gauge("neo4j.page_cache.hit_ratio", 1.0)],
            epochSeconds: 1_700_000_003)
        #expect(try String(contentsOfFile: reporter.path(of: "neo4j.transaction.committed"), encoding: .utf8)
            == "t,count\n1700000000,7\n1700000003,9\n")
        #expect(try String(contentsOfFile: dir.path + "/metrics/neo4j.page_cache.hit_ratio.csv", encoding: .utf8)
            == "t,value\n1700000000,0.5\n1700000003,1\n")
        // A new reporter (server restart) appends without a second header.
        let again = CSVReporter(directory: dir.path + "/metrics", rotationSizeBytes: 1 << 20, keepNumber: 3)
        try again.report([.counter("neo4j.transaction.committed", 1)], epochSeconds: 1_700_000_010)
        #expect(try String(contentsOfFile: reporter.path(of: "neo4j.transaction.committed"), encoding: .utf8)
            == "t,count\n1700000000,7\n1700000003,9\n1700000010,1\n")
    }

    @Test("CSV: a file rotates at rotation.size and keeps keep_number old files")
    func csvRotation() throws {
        let dir = try TemporaryDirectory()
        // Header (8 bytes) + one line (13 bytes) fits in 30; a second line would not.
        let reporter = CSVReporter(directory: dir.path, rotationSizeBytes: 30, keepNumber: 2)
        for t in 0..<5 {
            try reporter.report([.counter("c", 100 + t)], epochSeconds: 1_000_000_000 + Int64(t))
        }
        let base = reporter.path(of: "c")
        #expect(try String(contentsOfFile: base, encoding: .utf8) == "t,count\n1000000004,104\n")
        #expect(try String(contentsOfFile: base + ".1", encoding: .utf8) == "t,count\n1000000003,103\n")
        #expect(try String(contentsOfFile: base + ".2", encoding: .utf8) == "t,count\n1000000002,102\n")
        #expect(!FileManager.default.fileExists(atPath: base + ".3"))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["c.csv", "c.csv.1", "c.csv.2"])
    }

    @Test("CSV: an unwritable folder is an error the caller can log, not a crash")
    func csvUnwritable() throws {
        let dir = try TemporaryDirectory()
        let blocker = dir.path + "/file"
        FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8))
        let reporter = CSVReporter(directory: blocker + "/metrics", rotationSizeBytes: 100, keepNumber: 1)
        #expect(throws: (any Error).self) { try reporter.report([.counter("c", 1)], epochSeconds: 1) }
    }

    @Test("CSV: a folder or file deleted while the server runs comes back, with its header, on the next report")
    func csvFolderDeletedWhileRunning() throws {
        let dir = try TemporaryDirectory()
        let folder = dir.path + "/metrics"
        let reporter = CSVReporter(directory: folder, rotationSizeBytes: 30, keepNumber: 2)
        try reporter.report([.counter("c", 1), .gauge("g", 2)], epochSeconds: 1_000_000_000)
        try FileManager.default.removeItem(atPath: folder)
        try reporter.report([.counter("c", 3), .gauge("g", 4)], epochSeconds: 1_000_000_001)
        #expect(try String(contentsOfFile: reporter.path(of: "c"), encoding: .utf8) == "t,count\n1000000001,3\n")
        #expect(try String(contentsOfFile: reporter.path(of: "g"), encoding: .utf8) == "t,value\n1000000001,4\n")
        // One file deleted: it starts again with a header, and rotation does not look for the missing file.
        try FileManager.default.removeItem(atPath: reporter.path(of: "c"))
        try reporter.report([.counter("c", 5)], epochSeconds: 1_000_000_002)
        #expect(try String(contentsOfFile: reporter.path(of: "c"), encoding: .utf8) == "t,count\n1000000002,5\n")
        try reporter.report([.counter("c", 6)], epochSeconds: 1_000_000_003)
        #expect(try String(contentsOfFile: reporter.path(of: "c"), encoding: .utf8) == "t,count\n1000000003,6\n")
        #expect(try String(contentsOfFile: reporter.path(of: "c") + ".1", encoding: .utf8) == "t,count\n1000000002,5\n")
    }

    // MARK: - Prometheus

    @Test("Prometheus text: dots become underscores, families are typed, integral values have no fraction")
    func prometheusText() {
        let text = PrometheusText.render([
            .counter("neo4j.bolt.messages_received", 12), .gauge("neo4j.page_cache.usage_ratio", 0.25),
            .gauge("9lives.x-y", 1),
        ])
        #expect(text == """
            # HELP neo4j_bolt_messages_received neo4j.bolt.messages_received
            # TYPE neo4j_bolt_messages_received counter
            neo4j_bolt_messages_received 12
            # HELP neo4j_page_cache_usage_ratio neo4j.page_cache.usage_ratio
            # TYPE neo4j_page_cache_usage_ratio gauge
            neo4j_page_cache_usage_ratio 0.25
            # HELP _9lives_x_y 9lives.x-y
            # TYPE _9lives_x_y gauge
            _9lives_x_y 1

            """)
    }

    @Test("Prometheus endpoint serves /metrics over HTTP, 404 elsewhere, 405 for other methods")
    func prometheusEndpoint() throws {
        let registry = MetricsRegistry(switches: MetricSwitches(enabled: [.transactions]))
        let counter = LockedCounter()
        registry.register(.transactions) { [.counter("neo4j.transaction.committed", counter.next())] }
        let endpoint = PrometheusEndpoint(registry: registry, logger: Logger(label: "test"))
        try endpoint.start(host: "127.0.0.1", port: 0)
        defer { endpoint.stop() }
        let port = try #require(endpoint.port)
        let first = try LoopbackClient.request(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(first.hasPrefix("HTTP/1.1 200 OK"))
        #expect(first.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(first.contains("# TYPE neo4j_transaction_committed counter\nneo4j_transaction_committed 1\n"))
        // Sampled per scrape.
        let second = try LoopbackClient.request(port: port, "GET / HTTP/1.0\r\n\r\n")
        #expect(second.contains("neo4j_transaction_committed 2\n"))
        #expect(try LoopbackClient.request(port: port, "GET /other HTTP/1.0\r\n\r\n").hasPrefix("HTTP/1.0 404"))
        #expect(try LoopbackClient.request(port: port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
            .hasPrefix("HTTP/1.0 405"))
    }

    @Test("a Prometheus endpoint whose port is taken does not stop start-up")
    func prometheusPortTaken() throws {
        let listener = try LoopbackListener()
        let config = try Config(home: try TemporaryDirectory().path, overrides: [
            "metrics.prometheus.enabled": "true", "metrics.prometheus.endpoint": "127.0.0.1:\(listener.port)",
            "metrics.csv.enabled": "false",
        ])
        let system = MetricsSystem.start(
            config: config, logger: Logger(label: "test"), database: { nil }, bolt: nil, ha: nil)
        defer { system.stop() }
        #expect(system.prometheus == nil)
        #expect(!system.registry.collect().isEmpty)  // process metrics still there for the other reporters
    }

    // MARK: - Graphite

    @Test("Graphite: plaintext lines with the prefix, sent to a loopback listener")
    func graphiteLines() throws {
        #expect(GraphiteReporter.lines([.counter("neo4j.transaction.committed", 5)], prefix: "neo4j", epochSeconds: 17)
            == "neo4j.neo4j.transaction.committed 5 17\n")
        let listener = try LoopbackListener()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let reporter = GraphiteReporter(
            host: "127.0.0.1", port: listener.port, prefix: "neo4j.cl.2", loop: group.next(),
            logger: Logger(label: "test"))
        defer { reporter.stop() }
        reporter.report([.counter("neo4j.a", 1), .gauge("neo4j.b", 0.5)], epochSeconds: 100)
        let connection = try #require(try listener.accept())
        #expect(try connection.readLines(2) == ["neo4j.cl.2.neo4j.a 1 100", "neo4j.cl.2.neo4j.b 0.5 100"])
        reporter.report([.counter("neo4j.a", 2)], epochSeconds: 103)
        #expect(try connection.readLines(1) == ["neo4j.cl.2.neo4j.a 2 103"])
    }

    @Test("Graphite: down at first, the reporter does not block and connects once Graphite listens")
    func graphiteReconnects() throws {
        // Bound but not listening: connects are refused until `listen`.
        let listener = try LoopbackListener(listening: false)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let reporter = GraphiteReporter(
            host: "127.0.0.1", port: listener.port, prefix: "p", loop: group.next(), logger: Logger(label: "test"))
        defer { reporter.stop() }
        let start = ContinuousClock.now
        for t in 0..<3 { reporter.report([.counter("m", t)], epochSeconds: Int64(t)) }
        #expect(ContinuousClock.now - start < .seconds(1))
        try listener.listen()
        // Reports keep coming (every interval in the server); one of them gets through once Graphite is up.
        var connection: LoopbackListener.Connection?
        for t in 3..<200 where connection == nil {
            reporter.report([.counter("m", t)], epochSeconds: Int64(t))
            connection = try listener.accept(timeoutMillis: 50)
        }
        do {
            let up = try #require(connection)
            #expect(try up.readLines(1).first?.hasPrefix("p.m ") == true)
        }
        // Graphite restarts: the connection drops (the last reference goes), and a later report reconnects.
        connection = nil
        var reconnected: LoopbackListener.Connection?
        for t in 200..<400 where reconnected == nil {
            reporter.report([.counter("m", t)], epochSeconds: Int64(t))
            reconnected = try listener.accept(timeoutMillis: 50)
        }
        let again = try #require(reconnected)
        #expect(try again.readLines(1).first?.hasPrefix("p.m ") == true)
    }

    @Test("the HA Graphite prefix is neo4j.<cluster_name>.<server_id> unless metrics.prefix is set")
    func graphitePrefix() throws {
        let ha = try HAConfiguration(config: try Config(home: "/tmp", overrides: [
            "dbms.mode": "HA", "ha.server_id": "3", "ha.initial_hosts": "127.0.0.1:5001",
            "ha.cluster_name": "prod",
        ]))
        #expect(MetricsSystem.graphitePrefix(config: try Config(home: "/tmp"), ha: nil) == "neo4j")
        #expect(MetricsSystem.graphitePrefix(config: try Config(home: "/tmp"), ha: ha) == "neo4j.prod.3")
        #expect(MetricsSystem.graphitePrefix(
            config: try Config(home: "/tmp", overrides: ["metrics.prefix": "db7"]), ha: ha) == "db7")
    }
}

// MARK: - Helpers

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

/// Blocking loopback sockets with receive time-outs, so a broken server fails a test instead of hanging it.
enum LoopbackClient {
    static func request(port: Int, _ text: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        LoopbackListener.setTimeout(fd, millis: 5000)
        var address = LoopbackListener.address(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw LifecycleError("connect to \(port) failed: errno \(errno)") }
        let bytes = Array(text.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw LifecycleError("send failed") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }
}

final class LoopbackListener {
    let fd: Int32
    let port: Int

    init(listening: Bool = true) throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, length) == 0 && getsockname(socketFD, $0, &length) == 0
            }
        }
        fd = socketFD
        guard bound else {
            close(fd)
            throw LifecycleError("cannot bind a loopback port")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        if listening { try listen() }
    }

    deinit { close(fd) }

    func listen() throws {
        guard Glibc.listen(fd, 16) == 0 else { throw LifecycleError("listen failed: errno \(errno)") }
    }

    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    static func setTimeout(_ fd: Int32, millis: Int) {
        var tv = timeval(tv_sec: millis / 1000, tv_usec: (millis % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next connection, waiting at most `timeoutMillis` (nil when none came).
    func accept(timeoutMillis: Int32 = 5000) throws -> Connection? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMillis) == 1 else { return nil }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw LifecycleError("accept failed: errno \(errno)") }
        Self.setTimeout(client, millis: 5000)
        return Connection(fd: client)
    }

    final class Connection {
        let fd: Int32
        var pending: [UInt8] = []
        init(fd: Int32) { self.fd = fd }
        deinit { close(fd) }

        /// The next `count` lines (without newlines); throws if they do not come within the receive time-out.
        func readLines(_ count: Int) throws -> [String] {
            var lines: [String] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while lines.count < count {
                if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                    continue
                }
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { throw LifecycleError("connection ended after \(lines.count) lines") }
                pending += buffer[0..<n]
            }
            return lines
        }
    }
}
