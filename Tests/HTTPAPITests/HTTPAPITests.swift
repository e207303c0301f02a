import GraphValues
import Testing
import TrellisService

@testable import HTTPAPI

#if canImport(Glibc)
import Glibc
#endif

/// Each test runs a real HTTPServer on a free loopback port over the fake database, and talks to it with a
/// plain-socket client. Shapes and codes follow shared/reference/http-api.md (§ numbers in test names).
@Suite("HTTP API over a loopback socket")
struct HTTPAPIServerTests {
    @Test("discovery at / lists the 3.x and 4.x keys with links built from the Host header (§1)")
    func discovery() throws {
        let t = try TestServer()
        defer { t.stop() }
        let r = try t.request("GET", "/")
        #expect(r.status == 200)
        #expect(r.header("Content-Type")?.hasPrefix("application/json") == true)
        let json = try r.json()
        #expect(json["neo4j_version"] == .string("4.4.99"))
        #expect(json["bolt_direct"] == .string("bolt://localhost:17687"))
        #expect(json["bolt_routing"] == .string("neo4j://localhost:17687"))
        #expect(json["transaction"] == .string("http://localhost:7474/db/{databaseName}/tx"))
        #expect(json["data"] == .string("http://localhost:7474/db/data/"))
        #expect(json["neo4j_edition"] == .string("enterprise"))
    }

    @Test("auto-commit runs statements in order, keeps integers integral, and commits (§2, §3)")
    func autoCommit() throws {
        let t = try TestServer()
        defer { t.stop() }
        let body = """
            {"statements":[{"statement":"CREATE","parameters":{"name":"Ann"}},\
            {"statement":"ECHO","parameters":{"i":1,"f":1.5,"s":"x\\u00e9\\n","l":[1,null,true],"m":{"k":-2}}}]}
            """
        let r = try t.request("POST", "/db/neo4j/tx/commit", body: body)
        #expect(r.status == 200)
        let json = try r.json()
        #expect(json["errors"] == .array([]))
        #expect(json["results"]?.array.count == 2)
        #expect(json["results"]?[0]?["data"]?[0]?["row"] == .array([.object(["name": .string("Ann")])]))
        let meta = json["results"]?[0]?["data"]?[0]?["meta"]?[0]
        #expect(meta?["type"] == .string("node"))
        #expect(meta?["id"] == .int(100))
        #expect(meta?["deleted"] == .bool(false))
        let echo = json["results"]?[1]
        #expect(echo?["columns"] == .array([.string("f"), .string("i"), .string("l"), .string("m"), .string("s")]))
        #expect(
            echo?["data"]?[0]?["row"]
                == .array([
                    .double(1.5), .int(1), .array([.int(1), .null, .bool(true)]), .object(["k": .int(-2)]),
                    .string("xé\n"),
                ]))
        #expect(json["commit"] == nil)
        #expect(json["transaction"] == nil)
        #expect(json["lastBookmarks"]?[0]?.stringValue?.hasPrefix("FB:test:") == true)
        #expect(t.database.committed == ["Ann"])
        #expect(t.database.openSessions == 0)
    }

    @Test("begin answers 201 with Location, commit link and expires; commit makes the writes visible (§2, §4)")
    func explicitTransaction() throws {
        let t = try TestServer()
        defer { t.stop() }
        let begin = try t.request(
            "POST", "/db/neo4j/tx", body: #"{"statements":[{"statement":"CREATE","parameters":{"name":"Cy"}}]}"#)
        #expect(begin.status == 201)
        let location = try #require(begin.header("Location"))
        #expect(location.hasPrefix("http://localhost:7474/db/neo4j/tx/"))
        let id = try #require(location.split(separator: "/").last.map(String.init))
        let json = try begin.json()
        #expect(json["commit"] == .string(location + "/commit"))
        let expires = try #require(json["transaction"]?["expires"]?.stringValue)
        // "Mon, 27 Sep 2021 08:28:00 +0000"
        #expect(expires.count == 31 && expires.hasSuffix(" +0000") && expires.dropFirst(3).hasPrefix(", "))
        #expect(t.database.committed.isEmpty)

        let more = try t.request(
            "POST", "/db/neo4j/tx/\(id)", body: #"{"statements":[{"statement":"CREATE","parameters":{"name":"Di"}}]}"#)
        #expect(more.status == 200)
        #expect(try more.json()["commit"] == .string(location + "/commit"))
        #expect(t.database.committed.isEmpty)

        let commit = try t.request("POST", "/db/neo4j/tx/\(id)/commit", body: #"{"statements":[]}"#)
        #expect(commit.status == 200)
        let committed = try commit.json()
        #expect(committed["errors"] == .array([]))
        #expect(committed["commit"] == nil)
        #expect(committed["lastBookmarks"] != nil)
        #expect(t.database.committed == ["Cy", "Di"])
        #expect(t.server.openTransactionCount == 0)

        let again = try t.request("POST", "/db/neo4j/tx/\(id)", body: "")
        #expect(again.status == 404)
        #expect(try again.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Transaction.TransactionNotFound"))
    }

    @Test("the 3.x paths begin, run, commit and roll back the same way")
    func legacyPaths() throws {
        let t = try TestServer()
        defer { t.stop() }
        let begin = try t.request("POST", "/db/data/transaction", body: "")
        #expect(begin.status == 201)
        let location = try #require(begin.header("Location"))
        #expect(location.hasPrefix("http://localhost:7474/db/data/transaction/"))
        let path = String(location.dropFirst("http://localhost:7474".count))
        let run = try t.request("POST", path, body: #"{"statements":[{"statement":"CREATE","parameters":{"name":"E"}}]}"#)
        #expect(run.status == 200)
        let rollback = try t.request("DELETE", path)
        #expect(rollback.status == 200)
        #expect(try rollback.json() == .object(["results": .array([]), "errors": .array([])]))
        #expect(t.database.committed.isEmpty)
        #expect(t.database.rollbacks == 1)
        #expect(try t.request("POST", path + "/commit", body: "").status == 404)

        let auto = try t.request(
            "POST", "/db/data/transaction/commit", body: #"{"statements":[{"statement":"CREATE","parameters":{"name":"F"}}]}"#)
        #expect(auto.status == 200)
        #expect(t.database.committed == ["F"])
        let root = try t.request("GET", "/db/data/")
        #expect(try root.json()["transaction"] == .string("http://localhost:7474/db/data/transaction"))
    }

    @Test("a statement error is reported in errors, keeps earlier results and rolls the transaction back (§4)")
    func statementError() throws {
        let t = try TestServer()
        defer { t.stop() }
        let begin = try t.request("POST", "/db/neo4j/tx", body: "")
        let path = String(try #require(begin.header("Location")).dropFirst("http://localhost:7474".count))
        let body = """
            {"statements":[{"statement":"CREATE","parameters":{"name":"G"}},{"statement":"FAIL"},\
            {"statement":"CREATE","parameters":{"name":"H"}}]}
            """
        let r = try t.request("POST", path, body: body)
        #expect(r.status == 200)
        let json = try r.json()
        #expect(json["results"]?.array.count == 1)
        #expect(json["errors"]?[0]?["code"] == .string("Neo.ClientError.Statement.SyntaxError"))
        #expect(json["errors"]?[0]?["message"] == .string("Invalid input 'FAIL'"))
        #expect(json["commit"] == nil)
        #expect(json["transaction"] == nil)
        #expect(try t.request("POST", path, body: "").status == 404)
        #expect(t.database.committed.isEmpty)
        #expect(t.database.openSessions == 0)

        // An error while streaming rows ends that statement's result where it stopped: the rows already sent
        // stay, the document stays valid JSON, the error follows.
        let late = try t.request("POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"statement":"FAILLATE"}]}"#)
        let lateJSON = try late.json()
        #expect(lateJSON["results"]?[0]?["data"]?.array.count == 1)
        #expect(lateJSON["errors"]?[0]?["code"] == .string("Neo.ClientError.Statement.ArithmeticError"))
    }

    @Test("graph format: nodes and relationships once per row, ids as strings; meta for paths (§4)")
    func graphFormat() throws {
        let t = try TestServer()
        defer { t.stop() }
        let r = try t.request(
            "POST", "/db/neo4j/tx/commit",
            body: #"{"statements":[{"statement":"PATH","resultDataContents":["row","graph"]}]}"#)
        let data = try #require(try r.json()["results"]?[0]?["data"])
        let first = try #require(data[0])
        #expect(
            first["row"]?[0]
                == .array([
                    .object(["name": .string("Ann")]), .object(["since": .int(2001)]),
                    .object(["age": .int(42), "name": .string("Bob")]),
                ]))
        #expect(first["meta"]?[0]?.array.map { $0["type"] } == [.string("node"), .string("relationship"), .string("node")])
        let nodes = try #require(first["graph"]?["nodes"]).array
        #expect(nodes.count == 2)
        #expect(nodes[0]["id"] == .string("1"))
        #expect(nodes[1]["labels"] == .array([.string("Person"), .string("Admin")]))
        let rels = try #require(first["graph"]?["relationships"]).array
        #expect(rels.count == 1)
        #expect(rels[0]["id"] == .string("7"))
        #expect(rels[0]["type"] == .string("KNOWS"))
        #expect(rels[0]["startNode"] == .string("1"))
        #expect(rels[0]["endNode"] == .string("2"))
        #expect(data[1]?["meta"]?[1] == .null)

        let graphOnly = try t.request(
            "POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"statement":"PATH","resultDataContents":["graph"]}]}"#)
        let row = try #require(try graphOnly.json()["results"]?[0]?["data"]?[0])
        #expect(row["row"] == nil)
        #expect(row["graph"] != nil)
    }

    @Test("includeStats adds Neo4j's stats object; temporal, spatial and byte values get text forms (§4)")
    func statsAndValues() throws {
        let t = try TestServer()
        defer { t.stop() }
        let r = try t.request(
            "POST", "/db/neo4j/tx/commit",
            body: #"{"statements":[{"statement":"CREATE","parameters":{"name":"S"},"includeStats":true},{"statement":"VALUES"}]}"#
        )
        let json = try r.json()
        let stats = try #require(json["results"]?[0]?["stats"])
        #expect(stats["contains_updates"] == .bool(true))
        #expect(stats["nodes_created"] == .int(1))
        #expect(stats["properties_set"] == .int(1))
        #expect(stats["labels_added"] == .int(1))
        #expect(stats["relationship_deleted"] == .int(0))
        #expect(stats["contains_system_updates"] == .bool(false))
        #expect(json["results"]?[1]?["stats"] == nil)
        let row = try #require(json["results"]?[1]?["data"]?[0]?["row"])
        #expect(row[0] == .string("2022-01-08"))
        #expect(row[1] == .string("1970-01-01T01:00:00.500+01:00"))
        #expect(row[2] == .string("P1Y2M3DT1H2M5S"))
        #expect(row[3]?["type"] == .string("Point"))
        #expect(row[3]?["coordinates"] == .array([.double(1.5), .double(2.0)]))
        #expect(row[3]?["crs"]?["name"] == .string("cartesian"))
        #expect(row[4] == .string("AQL/"))
        #expect(row[5] == .double(2.0))
        let meta = try #require(json["results"]?[1]?["data"]?[0]?["meta"])
        #expect(meta[0]?["type"] == .string("date"))
        #expect(meta[3]?["type"] == .string("point"))
    }

    @Test("an idle transaction expires and is rolled back; requests keep it alive (§2)")
    func expiry() throws {
        // The kept transaction is touched every ~200 ms, so only a single round slower than the 1.5 s time-out (a
        // badly starved machine) could expire it; the idle one sees no request for more than 2 s.
        let t = try TestServer(idleTimeout: .milliseconds(1500))
        defer { t.stop() }
        let kept = try t.request("POST", "/db/neo4j/tx", body: "")
        let keptPath = String(try #require(kept.header("Location")).dropFirst("http://localhost:7474".count))
        let idle = try t.request("POST", "/db/neo4j/tx", body: #"{"statements":[{"statement":"CREATE","parameters":{"name":"I"}}]}"#)
        let idlePath = String(try #require(idle.header("Location")).dropFirst("http://localhost:7474".count))
        for _ in 0..<11 {
            usleep(200_000)
            #expect(try t.request("POST", keptPath, body: #"{"statements":[]}"#).status == 200)
        }
        let expired = try t.request("POST", idlePath + "/commit", body: "")
        #expect(expired.status == 404)
        #expect(try expired.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Transaction.TransactionNotFound"))
        #expect(t.database.committed.isEmpty)
        #expect(t.database.rollbacks >= 1)
        #expect(try t.request("POST", keptPath + "/commit", body: "").status == 200)
        #expect(t.database.openSessions == 0)
    }

    @Test("a transaction belongs to its user: another user's request sees TransactionNotFound")
    func ownership() throws {
        let database = FakeDatabase(
            authEnabled: true,
            accounts: ["ann": .init(password: "a", mustChange: false), "bob": .init(password: "b", mustChange: false)])
        let t = try TestServer(database: database)
        defer { t.stop() }
        let begin = try t.request("POST", "/db/neo4j/tx", body: "", headers: ["Authorization": basic("ann", "a")])
        #expect(begin.status == 201)
        let path = String(try #require(begin.header("Location")).dropFirst("http://localhost:7474".count))
        #expect(try t.request("POST", path, body: "", headers: ["Authorization": basic("bob", "b")]).status == 404)
        #expect(try t.request("DELETE", path, headers: ["Authorization": basic("ann", "a")]).status == 200)
    }

    @Test("auth: 401 with WWW-Authenticate when missing or wrong, InvalidFormat for a broken header (§4, §5)")
    func authentication() throws {
        let database = FakeDatabase(authEnabled: true, accounts: ["neo4j": .init(password: "secret", mustChange: false)])
        let t = try TestServer(database: database)
        defer { t.stop() }
        let body = #"{"statements":[{"statement":"COUNT"}]}"#
        let missing = try t.request("POST", "/db/neo4j/tx/commit", body: body)
        #expect(missing.status == 401)
        #expect(missing.header("WWW-Authenticate") == "Basic realm=\"Neo4j\"")
        #expect(try missing.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Security.Unauthorized"))
        #expect(try missing.json()["errors"]?[0]?["message"] == .string("No authentication header supplied."))

        let wrong = try t.request("POST", "/db/neo4j/tx/commit", body: body, headers: ["Authorization": basic("neo4j", "nope")])
        #expect(wrong.status == 401)
        #expect(try wrong.json()["errors"]?[0]?["message"] == .string("Invalid username or password."))

        let broken = try t.request("POST", "/db/neo4j/tx/commit", body: body, headers: ["Authorization": "Basic !!!"])
        #expect(broken.status == 401)
        #expect(try broken.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Request.InvalidFormat"))

        let good = try t.request("POST", "/db/neo4j/tx/commit", body: body, headers: ["Authorization": basic("neo4j", "secret")])
        #expect(good.status == 200)
        #expect(try good.json()["results"]?[0]?["data"]?[0]?["row"] == .array([.int(0)]))
        // Discovery needs no credentials.
        #expect(try t.request("GET", "/").status == 200)
        #expect(t.log.eventuallyContains { $0.contains(" - neo4j [") && $0.contains("\"POST /db/neo4j/tx/commit HTTP/1.1\" 200") })
    }

    @Test("password change required: 403 with a password_change link until POST /user/{name}/password (§4)")
    func passwordChange() throws {
        let database = FakeDatabase(authEnabled: true, accounts: ["neo4j": .init(password: "neo4j", mustChange: true)])
        let t = try TestServer(database: database)
        defer { t.stop() }
        let body = #"{"statements":[{"statement":"COUNT"}]}"#
        let refused = try t.request("POST", "/db/data/transaction/commit", body: body, headers: ["Authorization": basic("neo4j", "neo4j")])
        #expect(refused.status == 403)
        let json = try refused.json()
        #expect(json["password_change"] == .string("http://localhost:7474/user/neo4j/password"))
        #expect(json["errors"]?[0]?["code"] == .string("Neo.ClientError.Security.Forbidden"))

        let status = try t.request("GET", "/user/neo4j", headers: ["Authorization": basic("neo4j", "neo4j")])
        #expect(try status.json()["password_change_required"] == .bool(true))
        let change = try t.request(
            "POST", "/user/neo4j/password", body: #"{"password":"s3cret"}"#, headers: ["Authorization": basic("neo4j", "neo4j")])
        #expect(change.status == 200)
        let after = try t.request("POST", "/db/data/transaction/commit", body: body, headers: ["Authorization": basic("neo4j", "s3cret")])
        #expect(after.status == 200)
    }

    @Test("HA endpoints answer Neo4j's codes and plain-text bodies for master, slave and pending (neo4j-ha.md §7)")
    func haEndpoints() throws {
        let ha = FakeHA(.master)
        let t = try TestServer(ha: ha)
        defer { t.stop() }
        func check(_ path: String, _ status: Int, _ body: String) throws {
            let r = try t.request("GET", "/db/manage/server/ha/\(path)")
            #expect(r.status == status, "\(path) as \(ha.currentRole)")
            #expect(r.text == body, "\(path) as \(ha.currentRole)")
            #expect(r.header("Content-Type")?.hasPrefix("text/plain") == true)
        }
        try check("master", 200, "true")
        try check("slave", 404, "false")
        try check("available", 200, "master")
        ha.role.withLock { $0 = .slave }
        try check("master", 404, "false")
        try check("slave", 200, "true")
        try check("available", 200, "slave")
        ha.role.withLock { $0 = .pending }
        try check("master", 404, "UNKNOWN")
        try check("slave", 404, "UNKNOWN")
        try check("available", 404, "UNKNOWN")
        ha.role.withLock { $0 = .master }
        ha.available.withLock { $0 = false }
        try check("master", 404, "UNKNOWN")
        // HAProxy checks with HEAD: same status, no body.
        ha.available.withLock { $0 = true }
        let head = try t.request("HEAD", "/db/manage/server/ha/master")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        let discovery = try t.request("GET", "/db/manage/server/ha")
        #expect(try discovery.json()["master"] == .string("/db/manage/server/ha/master"))
    }

    @Test("HA endpoints: 403 on a non-HA instance; credentials required unless ha_status_auth_enabled is false")
    func haWithoutClusterAndAuth() throws {
        let single = try TestServer()
        defer { single.stop() }
        #expect(try single.request("GET", "/db/manage/server/ha/master").status == 403)
        #expect(try single.request("GET", "/db/manage/server/ha/available").status == 403)

        let database = FakeDatabase(authEnabled: true, accounts: ["neo4j": .init(password: "pw", mustChange: false)])
        let secured = try TestServer(database: database, ha: FakeHA(.slave))
        defer { secured.stop() }
        #expect(try secured.request("GET", "/db/manage/server/ha/slave").status == 401)
        #expect(
            try secured.request("GET", "/db/manage/server/ha/slave", headers: ["Authorization": basic("neo4j", "pw")]).status
                == 200)
        let open = try TestServer(database: database, ha: FakeHA(.slave), haStatusAuth: false)
        defer { open.stop() }
        #expect(try open.request("GET", "/db/manage/server/ha/slave").text == "true")
    }

    @Test("bad requests get clear errors: malformed JSON 400, wrong type 415, too large 413, unknown path 404, 405")
    func badRequests() throws {
        let t = try TestServer(maxBody: 4096)
        defer { t.stop() }
        let malformed = try t.request("POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"statement":"COUNT"}"#)
        #expect(malformed.status == 400)
        #expect(try malformed.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Request.InvalidFormat"))
        let noStatement = try t.request("POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"parameters":{}}]}"#)
        #expect(try noStatement.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Request.InvalidFormat"))
        let badContents = try t.request(
            "POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"statement":"COUNT","resultDataContents":["csv"]}]}"#)
        #expect(try badContents.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Request.InvalidFormat"))
        let form = try t.request(
            "POST", "/db/neo4j/tx/commit", body: "a=b", headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(form.status == 415)
        let big = try t.request("POST", "/db/neo4j/tx/commit", body: String(repeating: " ", count: 5000))
        #expect(big.status == 413)
        #expect(try t.request("GET", "/nothing/here").status == 404)
        let wrongMethod = try t.request("GET", "/db/neo4j/tx/commit")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "POST")
        #expect(try t.request("POST", "/db/neo4j/tx/abc", body: "").status == 404)
        let badMode = try t.request("POST", "/db/neo4j/tx/commit", body: "", headers: ["Access-Mode": "SIDEWAYS"])
        #expect(badMode.status == 400)
        #expect(t.database.committed.isEmpty)
        #expect(t.database.openSessions == 0)
    }

    @Test("keep-alive: several requests on one connection, HTTP/1.0 closes after the response")
    func keepAlive() throws {
        let t = try TestServer()
        defer { t.stop() }
        let connection = try TestConnection(port: t.port)
        defer { connection.close() }
        for i in 0..<3 {
            try connection.send("POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"statement":"ROWS","parameters":{"n":\#(i)}}]}"#)
        }
        for i in 0..<3 {
            let r = try connection.readResponse(method: "POST")
            #expect(r.status == 200)
            #expect(try r.json()["results"]?[0]?["data"]?.array.count == i)
        }
        // Request after request on one connection, each sent as soon as the previous answer arrived: the next
        // request must never be lost while the previous response is being finished.
        for i in 0..<300 {
            if i % 2 == 0 {
                try connection.send("GET", "/")
            } else {
                try connection.send("POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"statement":"COUNT"}]}"#)
            }
            #expect(try connection.readResponse(method: i % 2 == 0 ? "GET" : "POST").status == 200)
        }
        let old = try TestConnection(port: t.port)
        defer { old.close() }
        try old.send("GET", "/", version: "HTTP/1.0")
        #expect(try old.readResponse().status == 200)
        #expect(try old.isClosedByPeer())
    }

    @Test("large results stream in chunks; HTTP/1.0 gets a close-delimited body")
    func streaming() throws {
        let t = try TestServer()
        defer { t.stop() }
        let connection = try TestConnection(port: t.port)
        defer { connection.close() }
        let body = #"{"statements":[{"statement":"ROWS","parameters":{"n":50000}}]}"#
        try connection.send("POST", "/db/neo4j/tx/commit", body: body, headers: ["Content-Type": "application/json"])
        let r = try connection.readResponse(method: "POST")
        #expect(r.status == 200)
        #expect(r.header("Transfer-Encoding") == "chunked")
        #expect(connection.lastChunkCount > 3)
        let json = try r.json()
        #expect(json["results"]?[0]?["data"]?.array.count == 50000)
        #expect(json["results"]?[0]?["data"]?[49999]?["row"] == .array([.int(49999)]))
        // The connection is reusable after a chunked response.
        try connection.send("GET", "/")
        #expect(try connection.readResponse().status == 200)

        let old = try TestConnection(port: t.port)
        defer { old.close() }
        try old.send(
            "POST", "/db/neo4j/tx/commit", body: #"{"statements":[{"statement":"ROWS","parameters":{"n":3}}]}"#,
            headers: ["Content-Type": "application/json"], version: "HTTP/1.0")
        let closed = try old.readResponse(method: "POST")
        #expect(closed.header("Transfer-Encoding") == nil)
        #expect(try closed.json()["results"]?[0]?["data"]?.array.count == 3)
        #expect(t.log.eventuallyContains { $0.contains("\"POST /db/neo4j/tx/commit HTTP/1.0\" 200") })
    }

    @Test("a client that disconnects mid-stream gets nothing committed")
    func disconnectMidStream() throws {
        let t = try TestServer()
        defer { t.stop() }
        let connection = try TestConnection(port: t.port)
        let body = """
            {"statements":[{"statement":"CREATE","parameters":{"name":"lost"}},\
            {"statement":"ROWS","parameters":{"n":2000000}}]}
            """
        try connection.send("POST", "/db/neo4j/tx/commit", body: body, headers: ["Content-Type": "application/json"])
        try connection.readSome()  // the response has started streaming
        #expect(t.database.openSessions == 1)
        connection.close()
        var waited = 0
        while t.database.openSessions > 0 && waited < 200 {
            usleep(50_000)
            waited += 1
        }
        #expect(t.database.openSessions == 0)
        #expect(t.database.committed.isEmpty)
        #expect(t.database.rollbacks == 1)
    }

    @Test("an idle keep-alive connection is closed after the idle timeout")
    func idleConnection() throws {
        let t = try TestServer(idleConnectionTimeout: .milliseconds(300))
        defer { t.stop() }
        let connection = try TestConnection(port: t.port)
        defer { connection.close() }
        // The server's idle timer starts when it has read the request, which is after this instant; measuring
        // from after the response instead made the lower bound fail whenever reading the response was slow.
        let started = ContinuousClock.now
        try connection.send("GET", "/")
        #expect(try connection.readResponse().status == 200)
        #expect(try connection.isClosedByPeer())
        #expect(ContinuousClock.now - started >= .milliseconds(250))
    }

    @Test("the browser page is served as one self-contained HTML document")
    func browserPage() throws {
        let t = try TestServer()
        defer { t.stop() }
        let r = try t.request("GET", "/browser/")
        #expect(r.status == 200)
        #expect(r.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(r.text.contains("<textarea"))
        #expect(r.text.contains("/tx/commit"))
        // Nothing fetched from elsewhere: no external scripts, styles or images.
        #expect(!r.text.contains("src=\"http"))
        #expect(!r.text.contains("href=\"http"))
    }

    @Test("stop rolls back open transactions and frees the port")
    func stopRollsBack() throws {
        let t = try TestServer()
        let begin = try t.request("POST", "/db/neo4j/tx", body: #"{"statements":[{"statement":"CREATE","parameters":{"name":"Z"}}]}"#)
        #expect(begin.status == 201)
        let port = t.port
        t.stop()
        #expect(t.database.rollbacks == 1)
        #expect(t.database.openSessions == 0)
        #expect(throws: (any Error).self) { try TestConnection(port: port) }
    }
}

@Suite("HTTP API pieces")
struct HTTPAPIUnitTests {
    @Test("JSON parser keeps integers, rejects raw line breaks, unpaired surrogates, deep nesting and junk")
    func jsonParser() throws {
        #expect(try JSONParser.parse(Array("[1,-0,1.0,1e2,9223372036854775807,9223372036854775808]".utf8))
            == .array([.int(1), .int(0), .double(1), .double(100), .int(Int64.max), .double(9.223372036854775808e18)]))
        #expect(try JSONParser.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("\"a\nb\"".utf8)) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(#""\ud83d""#.utf8)) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("[1,]".utf8)) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("{} x".utf8)) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("01".utf8)) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(deep.utf8)) }
        var w = JSONWriter()
        w.string("q\"\\\n\u{01}é")
        #expect(String(decoding: w.bytes, as: UTF8.self) == #""q\"\\\n\u0001é""#)
    }

    @Test("notifications: nothing when there are none, else one array in Neo4j's key order for both APIs")
    func notifications() {
        var empty = JSONWriter()
        empty.notifications([])
        #expect(empty.bytes.isEmpty)
        var w = JSONWriter()
        w.notifications([
            Notification(code: "Neo.ClientNotification.Statement.CartesianProduct", title: "Cartesian \"product\"",
                description: "d1"),
            Notification(code: "c2", title: "t2", description: "d2", severity: "INFORMATION"),
        ])
        #expect(
            String(decoding: w.bytes, as: UTF8.self)
                == #","notifications":[{"code":"Neo.ClientNotification.Statement.CartesianProduct","#
                + #""severity":"WARNING","title":"Cartesian \"product\"","description":"d1"},"#
                + #"{"code":"c2","severity":"INFORMATION","title":"t2","description":"d2"}]"#)
    }

    @Test("dates: civil calendar, RFC 1123 expires text, NCSA log time")
    func dates() {
        #expect(TemporalText.civil(epochDays: 0) == (1970, 1, 1))
        #expect(TemporalText.civil(epochDays: -1) == (1969, 12, 31))
        #expect(TemporalText.civil(epochDays: 11_016) == (2000, 2, 29))
        #expect(HTTPDate.rfc1123(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(HTTPDate.rfc1123(epochSeconds: 1_632_731_280) == "Mon, 27 Sep 2021 08:28:00 +0000")
        #expect(HTTPDate.ncsa(epochSeconds: 1_632_731_280) == "27/Sep/2021:08:28:00 +0000")
    }

    @Test("base64 round-trips and rejects malformed input")
    func base64() {
        for text in ["", "f", "fo", "foo", "neo4j:secret"] {
            #expect(Base64.decode(Base64.encode(Array(text.utf8))) == Array(text.utf8))
        }
        #expect(Base64.encode(Array("neo4j:neo4j".utf8)) == "bmVvNGo6bmVvNGo=")
        #expect(Base64.decode("abc") == nil)
        #expect(Base64.decode("a=bc") == nil)
        #expect(Base64.decode("!!!!") == nil)
    }

    @Test("routes: 3.x and 4.x transactional paths, HA paths, v2 paths")
    func routes() {
        #expect(Route(path: "/") == .discovery)
        #expect(Route(path: "/db/data/") == .legacyServiceRoot)
        #expect(Route(path: "/db/data/transaction") == .beginTransaction(database: nil))
        #expect(Route(path: "/db/data/transaction/commit") == .commitImplicit(database: nil))
        #expect(Route(path: "/db/data/transaction/12") == .transaction(database: nil, id: 12))
        #expect(Route(path: "/db/data/transaction/12/commit") == .commitTransaction(database: nil, id: 12))
        #expect(Route(path: "/db/movies/tx/3/commit") == .commitTransaction(database: "movies", id: 3))
        #expect(Route(path: "/db/my%20db/tx") == .beginTransaction(database: "my db"))
        #expect(Route(path: "/db/neo4j/tx/x") == .transaction(database: "neo4j", id: nil))
        #expect(Route(path: "/db/manage/server/ha/available") == .haStatus(.available))
        #expect(Route(path: "/db/neo4j/query/v2/tx/5/commit") == .queryV2Commit(database: "neo4j", id: 5))
        #expect(Route(path: "/db/neo4j/tx/1/2") == .notFound)
    }

    @Test("the registry expires only idle transactions past their deadline (time as input)")
    func registry() {
        let registry = TransactionRegistry(idleTimeout: .seconds(10), capacity: 2)
        let database = FakeDatabase()
        let user = AuthenticatedUser(username: "u", roles: [], passwordChangeRequired: false)
        let t0 = ContinuousClock.now
        let a = OpenTransaction(session: database.openSession(user: user), owner: "u", database: "neo4j")
        let b = OpenTransaction(session: database.openSession(user: user), owner: "u", database: "neo4j")
        let c = OpenTransaction(session: database.openSession(user: user), owner: "u", database: "neo4j")
        let idA = registry.register(a, now: t0)!
        let idB = registry.register(b, now: t0)!
        #expect(registry.register(c, now: t0) == nil)
        registry.release(id: idA, now: t0)
        // B stays held by its request past the deadline: never expired under a running request.
        #expect(registry.expire(now: t0 + .seconds(11)).map(\.id) == [idA])
        if case .busy = registry.acquire(id: idB, user: "u", database: "neo4j", now: t0) {} else { Issue.record("B busy") }
        registry.release(id: idB, now: t0 + .seconds(11))
        if case .notFound = registry.acquire(id: idB, user: "x", database: "neo4j", now: t0) {} else { Issue.record("owner") }
        if case .notFound = registry.acquire(id: idB, user: "u", database: "other", now: t0) {} else { Issue.record("db") }
        #expect(registry.expire(now: t0 + .seconds(20)).isEmpty)
        if case .notFound = registry.acquire(id: idB, user: "u", database: "neo4j", now: t0 + .seconds(22)) {} else {
            Issue.record("deadline passed")
        }
    }
}

@Suite("Query API v2 over a loopback socket (http-api.md §8)")
struct QueryAPIv2Tests {
    static let typedJSON = ["Content-Type": "application/vnd.neo4j.query", "Accept": "application/vnd.neo4j.query"]

    @Test("implicit transaction: typed parameters in, typed values out, 202 with counters")
    func implicitTyped() throws {
        let t = try TestServer()
        defer { t.stop() }
        let body = """
            {"statement":"ECHO","includeCounters":true,"parameters":{\
            "i":{"$type":"Integer","_value":"9007199254740993"},"f":{"$type":"Float","_value":"0.5"},\
            "d":{"$type":"Date","_value":"2024-02-29"},"b":{"$type":"Base64","_value":"AQI="},\
            "l":{"$type":"List","_value":[{"$type":"String","_value":"x"},{"$type":"Null","_value":null}]},\
            "p":{"$type":"Point","_value":"SRID=7203;POINT (1.5 2.0)"},"plain":7}}
            """
        let r = try t.request("POST", "/db/neo4j/query/v2", body: body, headers: Self.typedJSON)
        #expect(r.status == 202)
        #expect(r.header("Content-Type") == "application/vnd.neo4j.query")
        let json = try r.json()
        #expect(json["data"]?["fields"] == .array(["b", "d", "f", "i", "l", "p", "plain"].map { .string($0) }))
        let row = try #require(json["data"]?["values"]?[0])
        #expect(row[0] == .object(["$type": .string("Base64"), "_value": .string("AQI=")]))
        #expect(row[1] == .object(["$type": .string("Date"), "_value": .string("2024-02-29")]))
        #expect(row[2] == .object(["$type": .string("Float"), "_value": .string("0.5")]))
        #expect(row[3] == .object(["$type": .string("Integer"), "_value": .string("9007199254740993")]))
        #expect(row[4]?["_value"]?[1] == .object(["$type": .string("Null"), "_value": .null]))
        #expect(row[5] == .object(["$type": .string("Point"), "_value": .string("SRID=7203;POINT (1.5 2.0)")]))
        #expect(row[6] == .object(["$type": .string("Integer"), "_value": .string("7")]))
        #expect(json["counters"]?["containsUpdates"] == .bool(false))
        #expect(json["bookmarks"] != nil)
    }

    @Test("plain JSON: entities as {elementId, labels, properties}; errors are 400 with the Neo4j code")
    func plainAndErrors() throws {
        let t = try TestServer()
        defer { t.stop() }
        let r = try t.request("POST", "/db/neo4j/query/v2", body: #"{"statement":"PATH"}"#)
        #expect(r.status == 202)
        let path = try #require(try r.json()["data"]?["values"]?[0]?[0])
        #expect(path[0]?["labels"] == .array([.string("Person")]))
        #expect(path[1]?["type"] == .string("KNOWS"))
        #expect(path[1]?["startNodeElementId"] == .string("1"))
        let failed = try t.request("POST", "/db/neo4j/query/v2", body: #"{"statement":"FAIL"}"#)
        #expect(failed.status == 400)
        #expect(try failed.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Statement.SyntaxError"))
        let badType = try t.request(
            "POST", "/db/neo4j/query/v2", body: #"{"statement":"ECHO","parameters":{"x":{"$type":"Integer","_value":"x1"}}}"#)
        #expect(badType.status == 400)
        #expect(try badType.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Request.InvalidFormat"))
    }

    @Test("explicit transaction: begin, run, commit; rollback; unknown id 404")
    func explicit() throws {
        let t = try TestServer()
        defer { t.stop() }
        let begin = try t.request("POST", "/db/neo4j/query/v2/tx", body: #"{"accessMode":"Write"}"#)
        #expect(begin.status == 202)
        let id = try #require(try begin.json()["transaction"]?["id"]?.stringValue)
        let expires = try #require(try begin.json()["transaction"]?["expires"]?.stringValue)
        #expect(expires.count == 20 && expires.hasSuffix("Z"))
        let run = try t.request(
            "POST", "/db/neo4j/query/v2/tx/\(id)", body: #"{"statement":"CREATE","parameters":{"name":"Q"}}"#)
        #expect(run.status == 202)
        #expect(try run.json()["transaction"]?["id"] == .string(id))
        #expect(t.database.committed.isEmpty)
        let commit = try t.request("POST", "/db/neo4j/query/v2/tx/\(id)/commit", body: "")
        #expect(commit.status == 202)
        #expect(try commit.json()["bookmarks"]?[0]?.stringValue?.hasPrefix("FB:test:") == true)
        #expect(t.database.committed == ["Q"])

        let second = try t.request("POST", "/db/neo4j/query/v2/tx", body: "")
        let secondID = try #require(try second.json()["transaction"]?["id"]?.stringValue)
        #expect(try t.request("POST", "/db/neo4j/query/v2/tx/\(secondID)", body: #"{"statement":"CREATE","parameters":{"name":"R"}}"#).status == 202)
        #expect(try t.request("DELETE", "/db/neo4j/query/v2/tx/\(secondID)").status == 202)
        #expect(t.database.committed == ["Q"])
        let gone = try t.request("POST", "/db/neo4j/query/v2/tx/\(secondID)/commit", body: "")
        #expect(gone.status == 404)
        #expect(try gone.json()["errors"]?[0]?["code"] == .string("Neo.ClientError.Transaction.TransactionNotFound"))
        #expect(t.database.openSessions == 0)
    }
}
