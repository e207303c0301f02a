import BoltCore
import GraphValues
import Testing
import TrellisService

/// Scripts of the server state machine (bolt.md §6), one `#expect` per input.
@Suite("Connection state machine")
struct StateMachineTests {
    typealias SM = BoltConnectionStateMachine
    let hello = BoltRequest.hello(userAgent: "t", routing: nil, patchUTC: false, auth: nil)
    let basic = AuthToken(scheme: "basic", principal: "neo4j", credentials: "pw")
    let run = BoltRequest.run(query: "RETURN 1", parameters: [:], options: TransactionOptions())
    let helloMeta: [String: Value] = ["server": .string("Neo4j/5.26.0")]

    func runOp(qid: Int64?) -> BoltOperation {
        .run(query: "RETURN 1", parameters: [:], options: TransactionOptions(), qid: qid)
    }

    func ready(_ version: BoltVersion = .v5_8) -> SM {
        var sm = SM(version: version)
        _ = sm.received(hello)
        _ = sm.succeeded(helloMeta)
        if version.hasLogon {
            _ = sm.received(.logon(basic))
            _ = sm.succeeded([:])
        }
        precondition(sm.state == .ready)
        return sm
    }

    @Test("5.1+: HELLO, LOGON, auto-commit RUN + PULL with has_more paging, LOGOFF, GOODBYE")
    func autoCommit() {
        var sm = SM(version: .v5_8)
        #expect(sm.state == .negotiation)
        #expect(sm.received(hello) == .execute(.hello(userAgent: "t", routing: nil, patchUTC: false, auth: nil)))
        #expect(sm.succeeded(helloMeta) == .sendSuccess(helloMeta))
        #expect(sm.state == .authentication)
        #expect(sm.received(.logon(basic)) == .execute(.logon(basic)))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .ready)
        #expect(sm.received(run) == .execute(runOp(qid: nil)))
        #expect(sm.succeeded(["fields": .list([])]) == .sendSuccess(["fields": .list([])]))
        #expect(sm.state == .streaming)
        #expect(sm.received(.pull(n: 2, qid: -1)) == .execute(.pull(qid: nil, n: 2)))
        #expect(sm.succeeded([:], hasMore: true) == .sendSuccess(["has_more": .boolean(true)]))
        #expect(sm.state == .streaming)
        #expect(sm.received(.discard(n: -1, qid: -1)) == .execute(.discard(qid: nil, n: -1)))
        #expect(sm.succeeded(["type": .string("r")]) == .sendSuccess(["type": .string("r")]))
        #expect(sm.state == .ready)
        #expect(sm.received(.telemetry(api: 2)) == .sendSuccess([:]))
        #expect(sm.received(.logoff) == .execute(.logoff))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .authentication)
        #expect(sm.received(.goodbye) == .close)
        #expect(sm.state == .defunct)
    }

    @Test("4.4 and 5.0 authenticate inside HELLO and go straight to READY")
    func helloAuth() {
        var sm = SM(version: .v4_4)
        let h = BoltRequest.hello(userAgent: "t", routing: ["address": "a:1"], patchUTC: true, auth: basic)
        #expect(sm.received(h) == .execute(.hello(userAgent: "t", routing: ["address": "a:1"], patchUTC: true,
            auth: basic)))
        #expect(sm.succeeded(helloMeta) == .sendSuccess(helloMeta))
        #expect(sm.state == .ready)
        #expect(sm.received(.logon(basic)) == .sendFailureAndClose(DatabaseError(.invalidRequest,
            "Message 'LOGON' cannot be handled by a session in the READY state.")))
        #expect(sm.state == .defunct)
    }

    @Test("failed authentication sends FAILURE and closes")
    func authFailure() {
        var sm = SM(version: .v5_8)
        _ = sm.received(hello)
        _ = sm.succeeded(helloMeta)
        #expect(sm.received(.logon(basic)) == .execute(.logon(basic)))
        let e = DatabaseError(.unauthorized, "bad credentials")
        #expect(sm.failed(e) == .sendFailureAndClose(e))
        #expect(sm.state == .defunct)
    }

    @Test("explicit transaction: BEGIN, two results with qids, PULL by qid and -1, COMMIT")
    func explicitTransaction() {
        var sm = ready()
        #expect(sm.received(.begin(TransactionOptions(mode: .read))) == .execute(.begin(TransactionOptions(
            mode: .read))))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .txReady)
        #expect(sm.received(run) == .execute(runOp(qid: 0)))
        #expect(sm.succeeded(["fields": .list([])]) == .sendSuccess(["fields": .list([]), "qid": .integer(0)]))
        #expect(sm.state == .txStreaming)
        #expect(sm.received(run) == .execute(runOp(qid: 1)))
        #expect(sm.succeeded([:]) == .sendSuccess(["qid": .integer(1)]))
        #expect(sm.openResults == [0, 1])
        #expect(sm.received(.pull(n: -1, qid: -1)) == .execute(.pull(qid: 1, n: -1)))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .txStreaming)
        #expect(sm.received(.commit) == .sendFailureAndClose(DatabaseError(.invalidRequest,
            "Message 'COMMIT' cannot be handled by a session in the TX_STREAMING state.")))
    }

    @Test("results are consumed by qid; COMMIT returns to READY; a new BEGIN restarts qids")
    func qids() {
        var sm = ready()
        _ = sm.received(.begin(TransactionOptions()))
        _ = sm.succeeded([:])
        _ = sm.received(run)
        _ = sm.succeeded([:])
        _ = sm.received(run)
        _ = sm.succeeded([:])
        #expect(sm.received(.discard(n: -1, qid: 0)) == .execute(.discard(qid: 0, n: -1)))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .txStreaming)
        #expect(sm.received(.pull(n: 1000, qid: -1)) == .execute(.pull(qid: 1, n: 1000)))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .txReady)
        #expect(sm.received(.commit) == .execute(.commit))
        #expect(sm.succeeded(["bookmark": .string("b")]) == .sendSuccess(["bookmark": .string("b")]))
        #expect(sm.state == .ready)
        _ = sm.received(.begin(TransactionOptions()))
        _ = sm.succeeded([:])
        #expect(sm.received(run) == .execute(runOp(qid: 0)))
    }

    @Test("a PULL for a qid that is not open fails and leaves FAILED until RESET")
    func unknownQid() {
        var sm = ready()
        _ = sm.received(.begin(TransactionOptions()))
        _ = sm.succeeded([:])
        _ = sm.received(run)
        _ = sm.succeeded([:])
        #expect(sm.received(.pull(n: 1, qid: 9))
            == .sendFailure(DatabaseError(.invalidRequest, "No open result with qid 9")))
        #expect(sm.state == .failed)
        #expect(sm.received(.pull(n: 1, qid: 0)) == .sendIgnored)
        #expect(sm.received(.reset) == .execute(.reset))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .ready)
        #expect(sm.openResults == [])
    }

    @Test("a failed RUN: FAILURE, then IGNORED for the pipelined PULL, RESET recovers (probe 7b)")
    func failureThenIgnored() {
        var sm = ready()
        let e = DatabaseError(.syntaxError, "Invalid input")
        #expect(sm.received(run) == .execute(runOp(qid: nil)))
        #expect(sm.failed(e) == .sendFailure(e))
        #expect(sm.state == .failed)
        #expect(sm.received(.pull(n: 1000, qid: -1)) == .sendIgnored)
        #expect(sm.received(run) == .sendIgnored)
        #expect(sm.received(.begin(TransactionOptions())) == .sendIgnored)
        #expect(sm.received(.reset) == .execute(.reset))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .ready)
    }

    @Test("a failure inside a transaction goes to FAILED; LOGOFF there is a violation")
    func failureInTransaction() {
        var sm = ready()
        _ = sm.received(.begin(TransactionOptions()))
        _ = sm.succeeded([:])
        let e = DatabaseError(.deadlockDetected, "deadlock")
        _ = sm.received(run)
        #expect(sm.failed(e) == .sendFailure(e))
        #expect(sm.state == .failed)
        #expect(sm.received(.commit) == .sendIgnored)
        #expect(sm.received(.logoff) == .sendFailureAndClose(DatabaseError(.invalidRequest,
            "Message 'LOGOFF' cannot be handled by a session in the FAILED state.")))
    }

    @Test("RESET seen ahead interrupts: queued messages are IGNORED until the RESET")
    func interrupt() {
        var sm = ready()
        _ = sm.received(run)
        _ = sm.succeeded([:])
        #expect(sm.received(.pull(n: -1, qid: -1)) == .execute(.pull(qid: nil, n: -1)))
        sm.interruptRequested()
        // The interrupted PULL reports its failure; the state stays INTERRUPTED.
        let terminated = DatabaseError(.transactionTerminated, "terminated")
        #expect(sm.failed(terminated) == .sendFailure(terminated))
        #expect(sm.state == .interrupted)
        #expect(sm.received(run) == .sendIgnored)
        #expect(sm.received(.reset) == .execute(.reset))
        #expect(sm.succeeded([:]) == .sendSuccess([:]))
        #expect(sm.state == .ready)
    }

    @Test("RESET in every post-authentication state returns to READY")
    func resetEverywhere() {
        var streaming = ready()
        _ = streaming.received(run)
        _ = streaming.succeeded([:])
        var txReady = ready()
        _ = txReady.received(.begin(TransactionOptions()))
        _ = txReady.succeeded([:])
        var txStreaming = txReady
        _ = txStreaming.received(run)
        _ = txStreaming.succeeded([:])
        for var sm in [ready(), streaming, txReady, txStreaming] {
            #expect(sm.received(.reset) == .execute(.reset))
            #expect(sm.succeeded([:]) == .sendSuccess([:]))
            #expect(sm.state == .ready)
        }
    }

    @Test("protocol violations send Request.Invalid and close")
    func violations() {
        func violation(_ name: String, _ state: String) -> BoltAction {
            .sendFailureAndClose(DatabaseError(.invalidRequest,
                "Message '\(name)' cannot be handled by a session in the \(state) state."))
        }
        var fresh = SM(version: .v5_8)
        #expect(fresh.received(run) == violation("RUN", "NEGOTIATION"))
        var negotiation = SM(version: .v5_8)
        #expect(negotiation.received(.reset) == violation("RESET", "NEGOTIATION"))
        var auth = SM(version: .v5_8)
        _ = auth.received(hello)
        _ = auth.succeeded([:])
        #expect(auth.received(run) == violation("RUN", "AUTHENTICATION"))
        var r1 = ready()
        #expect(r1.received(.pull(n: 1, qid: -1)) == violation("PULL", "READY"))
        var r2 = ready()
        #expect(r2.received(.commit) == violation("COMMIT", "READY"))
        var r3 = ready()
        #expect(r3.received(hello) == violation("HELLO", "READY"))
        var s = ready()
        _ = s.received(run)
        _ = s.succeeded([:])
        #expect(s.received(run) == violation("RUN", "STREAMING"))
        #expect(s.state == .defunct)
        #expect(s.received(run) == .close)
    }

    @Test("undecodable messages: fatal ones close, bad fields fail and recover with RESET")
    func decodeFailures() {
        var sm = ready()
        let soft = BoltRequestError(fatal: false, .invalidRequest, "bad field")
        #expect(sm.decodeFailed(soft) == .sendFailure(soft.error))
        #expect(sm.state == .failed)
        #expect(sm.decodeFailed(soft) == .sendIgnored)
        let hard = BoltRequestError(fatal: true, .invalidFormat, "garbage")
        #expect(sm.decodeFailed(hard) == .sendFailureAndClose(hard.error))
        #expect(sm.state == .defunct)
        var early = SM(version: .v5_8)
        #expect(early.decodeFailed(soft) == .sendFailureAndClose(soft.error))
    }

    @Test("ROUTE in READY stays READY")
    func route() {
        var sm = ready()
        let route = BoltRequest.route(context: ["address": "a:1"], bookmarks: [], database: "neo4j",
            impersonatedUser: nil)
        #expect(sm.received(route) == .execute(.route(context: ["address": "a:1"], bookmarks: [], database: "neo4j",
            impersonatedUser: nil)))
        #expect(sm.succeeded(["rt": .map([:])]) == .sendSuccess(["rt": .map([:])]))
        #expect(sm.state == .ready)
    }
}
