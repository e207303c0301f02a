import BoltCore
import BoltServer
import Foundation
import GraphValues
import NIOCore
import Testing

/// Raw Bolt over a loopback socket against a fake DatabaseService, following the captured Python sessions
/// (bolt-captures.txt).
@Suite("Bolt server end to end", .serialized)
struct EndToEndTests {
    @Test("Python-style 5.8 session via the manifest: auto-commit, explicit tx, bookmarks, ROUTE, GOODBYE")
    func pythonSession() async throws {
        let service = FakeDatabaseService()
        try await withServer(service: service) { server, port in
            let c = try RawBoltClient(port: port)
            let hello = try c.open()
            #expect(hello.metadata["server"] == .string("Neo4j/5.26.0"))
            #expect(hello.metadata["protocol_version"] == .string("5.8"))
            guard case .string(let id)? = hello.metadata["connection_id"] else {
                Issue.record("no connection id")
                return
            }
            #expect(id.hasPrefix("bolt-"))

            // Auto-commit RUN + PULL pipelined, exactly as captured.
            try c.send(hexBytes("001eb3108d52455455524e20312041532078a1817001a1826462856e656f346a0000"
                + "0008b13fa1816ec903e80000"))
            let replies = try c.readReplies(3)
            #expect(replies[0].metadata["fields"] == .list([.string("x")]))
            #expect(replies[0].metadata["t_first"] != nil)
            #expect(replies[0].metadata["qid"] == nil)
            #expect(replies[1] == .record([.integer(1)]))
            let summary = replies[2].metadata
            #expect(summary["type"] == .string("r"))
            #expect(summary["db"] == .string("neo4j"))
            #expect(summary["t_last"] != nil)
            guard case .string(let bookmark)? = summary["bookmark"] else {
                Issue.record("auto-commit without a bookmark: \(summary)")
                return
            }

            // Explicit transaction with metadata and timeout; two results; PULL by qid.
            try c.send(begin(["bookmarks": .list([.string(bookmark)]), "tx_timeout": .integer(5000),
                "tx_metadata": .map(["app": .string("probe")]), "mode": .string("r")]))
            try c.send(run("RETURN 1 AS x") + run("ROWS 3") + pull(-1, qid: 0) + pull(2))
            let tx = try c.readReplies(1 + 2 + 2 + 3)
            #expect(tx[0] == .success([:]))
            #expect(tx[1].metadata["qid"] == .integer(0))
            #expect(tx[2].metadata["qid"] == .integer(1))
            #expect(tx[3] == .record([.integer(1)]))
            #expect(tx[4].metadata["bookmark"] == nil)  // not auto-commit
            #expect(tx[5] == .record([.integer(1), .string("")]))
            #expect(tx[6] == .record([.integer(2), .string("")]))
            #expect(tx[7] == .success(["has_more": .boolean(true)]))
            try c.send(discard() + commitMessage)
            let end = try c.readReplies(2)
            #expect(end[0].metadata["type"] == .string("r"))
            #expect(end[1].metadata["bookmark"] != nil)
            #expect(service.log.contains("BEGIN read [\"\(bookmark)\"] - 5.0 seconds"))

            // ROUTE names the address the client used, in all three roles.
            try c.send(hexBytes("001db366a187616464726573738f3132372e302e302e313a313736383890a00000"))
            let route = try c.readReply()
            guard case .map(let rt)? = route.metadata["rt"] else {
                Issue.record("no rt: \(route)")
                return
            }
            #expect(rt["ttl"] == .integer(300))
            #expect(rt["db"] == .string("neo4j"))
            guard case .list(let servers)? = rt["servers"] else {
                Issue.record("no servers")
                return
            }
            #expect(Set(servers.compactMap { s -> String? in
                if case .map(let m) = s, case .string(let role)? = m["role"] { return role }
                return nil
            }) == ["ROUTE", "READ", "WRITE"])

            try c.send(goodbyeMessage)
            #expect(c.waitForClose())
            #expect(await eventually { service.openSessions.load(ordering: .relaxed) == 0 })
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test("a pipelined auto-commit RUN + PULL the session can bound is answered on the event loop; others are not")
    func boundedReadsOnTheEventLoop() async throws {
        let service = FakeDatabaseService()
        try await withServer(service: service) { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            // Answered by runBoundedRead: the rows, then a summary with a bookmark; `run` is never called.
            try c.send(run("QUICK 3") + pull(-1))
            let quick = try c.readReplies(5)
            #expect(quick[0].metadata["fields"] == .list([.string("i")]))
            #expect(quick[1] == .record([.integer(0)]))
            #expect(quick[3] == .record([.integer(2)]))
            #expect(quick[4].metadata["type"] == .string("r"))
            #expect(quick[4].metadata["bookmark"] != nil)
            #expect(quick[4].metadata["has_more"] == nil)
            // PULL n bounds the rows: more than n goes the ordinary way (the fake's `run` gives its default row).
            try c.send(run("QUICK 5") + pull(2))
            let paged = try c.readReplies(3)
            #expect(paged[1] == .record([.integer(1)]))
            #expect(paged[2].metadata["bookmark"] != nil)
            // Unsuitable: the ordinary way, and the connection's next 8 executions of it skip the loop; the one
            // after those tries again.
            for _ in 0..<10 {
                try c.send(run("SLOWQUICK") + pull(-1))
                let slow = try c.readReplies(3)
                #expect(slow[1] == .record([.integer(1)]))
            }
            // A RUN whose PULL comes later, and a RUN inside an explicit transaction, take the ordinary way.
            try c.send(run("QUICK 1"))
            #expect(try c.readReply().metadata["fields"] == .list([.string("x")]))
            try c.send(pull(-1))
            #expect(try c.readReplies(2)[0] == .record([.integer(1)]))
            try c.send(begin([:]) + run("QUICK 1") + pull(-1) + commitMessage)
            let tx = try c.readReplies(5)
            #expect(tx[2] == .record([.integer(1)]))
            #expect(tx[4].metadata["bookmark"] != nil)
            #expect(service.log.filter { $0.hasPrefix("BOUNDED") } == [
                "BOUNDED QUICK 3 1000", "BOUNDED QUICK 5 2", "BOUNDED SLOWQUICK 1000", "BOUNDED SLOWQUICK 1000",
            ])
            #expect(service.log.filter { $0.hasPrefix("RUN") }
                == ["RUN QUICK 5"] + Array(repeating: "RUN SLOWQUICK", count: 10) + ["RUN QUICK 1", "RUN QUICK 1"])
        }
    }

    @Test("with eventLoopReads off every statement goes to the connection's queue")
    func eventLoopReadsOff() async throws {
        let service = FakeDatabaseService()
        var configuration = BoltServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopReads = false
        try await withServer(configuration, service: service) { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            try c.send(run("QUICK 3") + pull(-1))
            let replies = try c.readReplies(3)
            #expect(replies[1] == .record([.integer(1)]))
            #expect(!service.log.contains { $0.hasPrefix("BOUNDED") })
        }
    }

    @Test("a failed RUN: FAILURE in the GQL form on 5.8, IGNORED for the pipelined PULL, RESET recovers")
    func failureFlow() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            // Python sends RESET only after reading the FAILURE (a RESET pipelined behind the RUN would
            // interrupt it: everything queued before a RESET is IGNORED).
            try c.send(run("FAIL Neo.ClientError.Statement.SyntaxError") + pull())
            var r = try c.readReplies(2)
            try c.send(resetMessage + run("RETURN 1") + pull())
            r += try c.readReplies(4)
            guard case .failure(let f) = r[0] else {
                Issue.record("expected FAILURE: \(r[0])")
                return
            }
            #expect(f["neo4j_code"] == .string("Neo.ClientError.Statement.SyntaxError"))
            #expect(f["gql_status"] == .string("42001"))
            #expect(r[1] == .ignored)
            #expect(r[2] == .success([:]))
            #expect(r[4] == .record([.integer(1)]))
            #expect(r[5].isSuccess)
        }
    }

    @Test("5.6 failures use code/message; a failure while streaming records comes after the records")
    func failureOldFormat() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open(version: BoltVersion(5, 6))
            try c.send(run("FAILPULL") + pull())
            let r = try c.readReplies(2)
            #expect(r[0].isSuccess)
            #expect(r[1] == .failure(["code": .string("Neo.ClientError.Statement.ArithmeticError"),
                "message": .string("/ by zero")]))
        }
    }

    @Test("wrong credentials: FAILURE Unauthorized and the connection is closed")
    func badPassword() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            let r = try c.open(password: "wrong")
            #expect(r.metadata["neo4j_code"] == .string("Neo.ClientError.Security.Unauthorized"))
            #expect(c.waitForClose())
        }
    }

    @Test("Bolt 4.4 via the legacy reply: auth in HELLO, the utc patch echoed, DateTime as 'I'")
    func bolt44() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            try c.send(hexBytes("6060b017 00020404 00000003 00000000 00000000"))
            #expect(try c.readExactly(4) == [0, 0, 4, 4])
            c.options = PackStreamOptions(elementIds: false, utcDateTime: true)
            try c.send(message(0x01, [.map(["user_agent": .string("t"), "patch_bolt": .list([.string("utc")]),
                "scheme": .string("basic"), "principal": .string("neo4j"), "credentials": .string("secret")])]))
            let hello = try c.readReply()
            #expect(hello.metadata["patch_bolt"] == .list([.string("utc")]))
            #expect(hello.metadata["protocol_version"] == nil)
            try c.send(run("VALUES") + pull())
            let r = try c.readReplies(3)
            #expect(r[1] == .record(FakeData.values))
            // Without the patch, 4.4 gets the legacy 'F' structure (checked on the bytes).
            let legacy = try RawBoltClient(port: port)
            try legacy.send(hexBytes("6060b017 00020404 00000003 00000000 00000000"))
            _ = try legacy.readExactly(4)
            legacy.options = PackStreamOptions(version: .v4_4)
            try legacy.send(message(0x01, [.map(["scheme": .string("basic"), "principal": .string("neo4j"),
                "credentials": .string("secret")])]))
            #expect(try legacy.readReply().metadata["patch_bolt"] == nil)
            try legacy.send(run("VALUES") + pull())
            let lr = try legacy.readReplies(3)
            #expect(lr[1] == .record(FakeData.values))
        }
    }

    @Test("every value kind survives the trip with 5.x element ids")
    func values() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            try c.send(run("VALUES") + pull())
            #expect(try c.readReplies(3)[1] == .record(FakeData.values))
            // Parameters come back as sent.
            let p: Value = .map(["d": .date(CypherDate(epochDays: 19023)), "l": .list([.integer(1), .null])])
            try c.send(run("ECHO", ["v": p]) + pull())
            #expect(try c.readReplies(3)[1] == .record([p]))
        }
    }

    @Test("PULL n pages with has_more; a result consumed exactly ends without another PULL")
    func paging() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            try c.send(run("ROWS 5") + pull(2))
            var r = try c.readReplies(4)
            #expect(r[3] == .success(["has_more": .boolean(true)]))
            try c.send(pull(2))
            r = try c.readReplies(3)
            #expect(r[2] == .success(["has_more": .boolean(true)]))
            try c.send(pull(2))
            r = try c.readReplies(2)
            #expect(r[0] == .record([.integer(5), .string("")]))
            #expect(r[1].metadata["type"] == .string("r"))
            // Exactly 2 rows with n=2: the summary comes at once.
            try c.send(run("ROWS 2") + pull(2))
            r = try c.readReplies(4)
            #expect(r[3].metadata["has_more"] == nil)
            #expect(r[3].metadata["bookmark"] != nil)
            // Write statistics.
            try c.send(run("CREATE") + pull())
            r = try c.readReplies(2)
            #expect(r[1].metadata["type"] == .string("w"))
            #expect(r[1].metadata["stats"] == .map(["nodes-created": .integer(1), "properties-set": .integer(2),
                "contains-updates": .boolean(true)]))
        }
    }

    @Test("PULL -1 of a huge result streams: the server produces rows only as the client reads them")
    func streamingBackPressure() async throws {
        let service = FakeDatabaseService()
        try await withServer(service: service) { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            let total = 16_000
            try c.send(run("ROWS \(total) 1000") + pull(-1))
            _ = try c.readReply()
            // Let the server run ahead as far as it will; socket buffers and the in-flight cap bound it.
            try await Task.sleep(for: .milliseconds(500))
            let ahead = service.rowsProduced.load(ordering: .relaxed)
            #expect(ahead < total * 3 / 4, "server produced \(ahead) of \(total) rows before the client read")
            var records = 0
            while case .record = try c.readReply() { records += 1 }
            #expect(records == total)
        }
    }

    @Test("RESET interrupts a running query: FAILURE for it, SUCCESS for the RESET, then READY")
    func resetInterrupts() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            // Replies of a batch are flushed together, so RUN's SUCCESS comes with the PULL's outcome; a client
            // that gives up waiting sends RESET without waiting for either.
            try c.send(run("SLEEP") + pull())
            try await Task.sleep(for: .milliseconds(100))
            let start = Date()
            try c.send(resetMessage)
            let r = try c.readReplies(3)
            #expect(Date().timeIntervalSince(start) < 5)
            #expect(r[0].isSuccess)
            #expect(r[1].metadata["neo4j_code"] == .string("Neo.ClientError.Transaction.Terminated"))
            #expect(r[2] == .success([:]))
            try c.send(run("RETURN 1") + pull())
            #expect(try c.readReplies(3)[1] == .record([.integer(1)]))
        }
    }

    @Test("RESET stops a huge PULL -1 stream that is paused on back-pressure")
    func resetStopsStream() async throws {
        let service = FakeDatabaseService()
        try await withServer(service: service) { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            try c.send(run("ROWS 1000000 1000") + pull(-1))
            try await Task.sleep(for: .milliseconds(300))
            try c.send(resetMessage)
            var sawFailure = false
            while true {
                let r = try c.readReply()
                if case .failure = r { sawFailure = true }
                if r == .success([:]) && sawFailure { break }
            }
            #expect(service.rowsProduced.load(ordering: .relaxed) < 100_000)
            try c.send(run("RETURN 1") + pull())
            #expect(try c.readReplies(3)[1] == .record([.integer(1)]))
        }
    }

    @Test("an idle connection is closed after the idle timeout; a busy one is not")
    func idleTimeout() async throws {
        var config = BoltServerConfiguration()
        config.idleTimeout = .milliseconds(300)
        try await withServer(config) { _, port in
            let busy = try RawBoltClient(port: port)
            _ = try busy.open()
            try busy.send(run("SLEEP") + pull())
            let idle = try RawBoltClient(port: port)
            _ = try idle.open()
            #expect(idle.waitForClose())
            // The SLEEP query outlived the idle timeout; RESET still reaches it.
            try busy.send(resetMessage)
            let r = try busy.readReplies(3)
            #expect(r[2] == .success([:]))
        }
    }

    @Test("oversized message: FAILURE and close")
    func oversized() async throws {
        var config = BoltServerConfiguration()
        config.maxMessageBytes = 1024
        try await withServer(config) { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            try c.send(run("ECHO", ["v": .string(String(repeating: "x", count: 5000))]))
            let r = try c.readReply()
            #expect(r.metadata["neo4j_code"] == .string("Neo.ClientError.Request.Invalid"))
            #expect(c.waitForClose())
        }
    }

    @Test("HTTP on the Bolt port, an unknown version, and a silent client are all disconnected")
    func rejections() async throws {
        var config = BoltServerConfiguration()
        config.handshakeTimeout = .milliseconds(300)
        try await withServer(config) { server, port in
            let http = try RawBoltClient(port: port)
            try http.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
            #expect(http.waitForClose())
            let old = try RawBoltClient(port: port)
            try old.send(hexBytes("6060b017 00000003 00000002 00000001 00000000"))
            #expect(try old.readExactly(4) == [0, 0, 0, 0])
            #expect(old.waitForClose())
            let silent = try RawBoltClient(port: port)
            #expect(silent.waitForClose())
            // Handshake done but never authenticated: also dropped.
            let lazy = try RawBoltClient(port: port)
            try lazy.send(hexBytes("6060b017 00080805 00000000 00000000 00000000"))
            _ = try lazy.readExactly(4)
            #expect(lazy.waitForClose())
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test("connections beyond the limit are closed at once")
    func connectionLimit() async throws {
        var config = BoltServerConfiguration()
        config.maxConnections = 2
        try await withServer(config) { server, port in
            let a = try RawBoltClient(port: port)
            let b = try RawBoltClient(port: port)
            _ = try a.open()
            _ = try b.open()
            let third = try RawBoltClient(port: port)
            #expect(third.waitForClose())
            #expect(server.connectionCount == 2)
        }
    }

    @Test("protocol violation (PULL in READY): FAILURE Request.Invalid and close")
    func violation() async throws {
        try await withServer { _, port in
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            try c.send(pull())
            #expect(try c.readReply().metadata["neo4j_code"] == .string("Neo.ClientError.Request.Invalid"))
            #expect(c.waitForClose())
        }
    }

    @Test("closing mid-transaction releases the session")
    func disconnectCleansUp() async throws {
        let service = FakeDatabaseService()
        try await withServer(service: service) { server, port in
            do {
                let c = try RawBoltClient(port: port)
                _ = try c.open()
                try c.send(begin() + run("ROWS 100000") + pull(1))
                _ = try c.readReplies(4)
            }
            #expect(await eventually { service.openSessions.load(ordering: .relaxed) == 0 })
            #expect(await eventually { server.connectionCount == 0 })
        }
    }
}
