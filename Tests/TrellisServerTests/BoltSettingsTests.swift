import Logging
import NIOCore
import Testing

@testable import TrellisServer

@Suite("dbms.connector.bolt.* limits reach the Bolt connector")
struct BoltSettingsTests {
    let log = Logger(label: "test")

    @Test("each limit setting is read into BoltServerConfiguration")
    func limitsAreWired() throws {
        let text = """
            dbms.connector.bolt.tls_level=DISABLED
            dbms.connector.bolt.max_message_size=2M
            dbms.connector.bolt.max_nesting_depth=12
            dbms.connector.bolt.max_connections=7
            dbms.connector.bolt.handshake_timeout=3s
            dbms.connector.bolt.connection_keep_alive=90s
            dbms.connector.bolt.thread_pool_max_size=1
            """
        let config = try Config(home: "/h", confFile: "/h/conf/trellis.conf", text: text, environment: [:])
        let bolt = try ServerInstance.boltConfiguration(config, log: log)
        #expect(bolt.maxMessageBytes == 2 << 20)
        #expect(bolt.maxNestingDepth == 12)
        #expect(bolt.maxConnections == 7)
        #expect(bolt.handshakeTimeout == .seconds(3))
        #expect(bolt.idleTimeout == .seconds(90))
        #expect(bolt.eventLoopThreads == 1)
    }

    @Test("defaults: 64M messages, 1000 connections, 30s handshake, no idle time-out, writes on 2 loops per core")
    func defaults() throws {
        let config = try Config(
            home: "/h", confFile: "/h/conf/trellis.conf", text: "dbms.connector.bolt.tls_level=DISABLED",
            environment: [:])
        let bolt = try ServerInstance.boltConfiguration(config, log: log)
        #expect(bolt.maxMessageBytes == 64 << 20)
        #expect(bolt.maxConnections == 1000)
        #expect(bolt.handshakeTimeout == .seconds(30))
        #expect(bolt.idleTimeout == nil)
        #expect(bolt.eventLoopReads && bolt.eventLoopWrites)
        // Writes on the loop block it for a log sync: two loops per core let commits share syncs.
        #expect(bolt.eventLoopThreads == 2 * System.coreCount)
    }

    @Test("without writes on the event loop (switched off, or an HA member): at most one event loop per core")
    func loopsWithoutEventLoopWrites() throws {
        for extra in ["dbms.connector.bolt.event_loop_writes=false", "dbms.mode=HA"] {
            let config = try Config(
                home: "/h", confFile: "/h/conf/trellis.conf", text: "dbms.connector.bolt.tls_level=DISABLED\n" + extra,
                environment: [:])
            let bolt = try ServerInstance.boltConfiguration(config, log: log)
            #expect(!bolt.eventLoopWrites, "\(extra)")
            #expect(bolt.eventLoopThreads >= 1 && bolt.eventLoopThreads <= System.coreCount, "\(extra)")
        }
    }

    @Test("out-of-range limits are refused at start-up")
    func invalidLimits() {
        for line in ["dbms.connector.bolt.max_connections=0", "dbms.connector.bolt.max_message_size=10",
                     "dbms.connector.bolt.max_nesting_depth=-1"] {
            #expect(throws: (any Error).self, "\(line)") {
                try Config(home: "/h", confFile: "/h/conf/trellis.conf", text: line, environment: [:])
            }
        }
    }
}
