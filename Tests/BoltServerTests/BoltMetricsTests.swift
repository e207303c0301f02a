import BoltCore
import BoltServer
import Foundation
import GraphValues
import Testing

/// The connector's counters behind the `neo4j.bolt.*` metrics (neo4j-ops.md §7), over a real loopback connection.
@Suite("Bolt metrics counters", .serialized)
struct BoltMetricsTests {
    @Test("connections opened/closed/idle/running and messages received/started/done/failed are counted")
    func counters() async throws {
        try await withServer { server, port in
            let zero = server.metrics.snapshot
            #expect(zero.connectionsOpened == 0 && zero.messagesReceived == 0)
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            // A reply is written before its message is counted as done: wait until the handshake messages are.
            #expect(await eventually {
                let s = server.metrics.snapshot
                return s.messagesReceived >= 1 && s.messagesDone == s.messagesReceived
            })
            let opened = server.metrics.snapshot
            #expect(opened.connectionsOpened == 1)
            #expect(opened.connectionsClosed == 0)
            #expect(opened.messagesReceived >= 1)  // HELLO (and LOGON on 5.1+)
            #expect(opened.messagesFailed == 0)

            try c.send(run("RETURN 1") + pull())
            _ = try c.readReplies(3)  // SUCCESS, RECORD, SUCCESS
            try c.send(run("FAIL Neo.ClientError.Statement.SyntaxError") + pull())
            _ = try c.readReplies(2)  // FAILURE, IGNORED
            // The replies are written before the message's handling is counted as done: wait for it.
            #expect(await eventually { server.metrics.snapshot.messagesDone == opened.messagesDone + 4 })
            let after = server.metrics.snapshot
            #expect(after.messagesReceived == opened.messagesReceived + 4)
            #expect(after.messagesStarted == opened.messagesStarted + 4)
            #expect(after.messagesFailed == 1)
            #expect(after.connectionsRunning == 0)
            #expect(after.connectionsIdle == 1)
            #expect(after.accumulatedQueueMillis >= 0 && after.accumulatedProcessingMillis >= 0)

            c.shutdownWrite()
            #expect(c.waitForClose())
            #expect(await eventually { server.metrics.snapshot.connectionsClosed == 1 })
            #expect(server.metrics.snapshot.connectionsIdle == 0)
            #expect(server.metrics.snapshot.connectionsOpened == 1)
        }
    }
}
