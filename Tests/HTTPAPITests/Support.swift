import GraphValues
import Logging
import Synchronization
import TrellisService

@testable import HTTPAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - A fake database behind the DatabaseService contract

/// An in-memory stand-in for the database. Queries are keywords the fake understands (this is test support,
/// not Cypher): CREATE (a node named $name), COUNT (committed nodes), ECHO (the parameters back), PATH, ROWS ($n
/// integers), VALUES (temporal, spatial and byte values), FAIL (syntax error), FAILLATE (error on the second
/// row), and the password-change procedure.
final class FakeDatabase: DatabaseService, Sendable {
    struct Account {
        var password: String
        var mustChange: Bool
    }

    struct State {
        var committed: [String] = []
        var accounts: [String: Account] = [:]
        var rollbacks = 0
        var commits = 0
        var openSessions = 0
    }

    let state = Mutex(State())
    let authEnabled: Bool
    var serverAgent: String { "Neo4j/4.4.99" }

    init(authEnabled: Bool = false, accounts: [String: Account] = [:]) {
        self.authEnabled = authEnabled
        state.withLock { $0.accounts = accounts }
    }

    func authenticate(scheme: String, principal: String?, credentials: String?) throws -> AuthenticatedUser {
        if scheme == "none" {
            guard !authEnabled else { throw DatabaseError(.unauthorized, "auth required") }
            return AuthenticatedUser(username: "", roles: ["admin"], passwordChangeRequired: false)
        }
        guard scheme == "basic", let principal, let credentials else {
            throw DatabaseError(.unauthorized, "unsupported scheme")
        }
        let account = state.withLock { $0.accounts[principal] }
        guard let account, account.password == credentials else {
            throw DatabaseError(.unauthorized, "The client is unauthorized due to authentication failure.")
        }
        return AuthenticatedUser(username: principal, roles: ["admin"], passwordChangeRequired: account.mustChange)
    }

    func openSession(user: AuthenticatedUser) -> DatabaseSession {
        state.withLock { $0.openSessions += 1 }
        return FakeSession(database: self, user: user)
    }

    func routingTable(context: [String: String], database: String?) throws -> RoutingTable {
        throw DatabaseError(.invalidRequest, "not routed")
    }

    var committed: [String] { state.withLock { $0.committed } }
    var rollbacks: Int { state.withLock { $0.rollbacks } }
    var openSessions: Int { state.withLock { $0.openSessions } }
}

/// Rows come from `row(i)` as they are pulled, so a result of millions of rows costs nothing up front and each
/// `next()` is O(1) (building the rows eagerly and removing from the front made a 2,000,000-row stream take
/// longer than the test client's read timeout on a loaded machine).
final class FakeCursor: ResultCursor {
    let columns: [String]
    private let rowCount: Int
    private let row: (Int) -> [Value]
    private let failAt: Int?
    private var produced = 0
    private let result: ResultSummary

    convenience init(
        columns: [String], rows: [[Value]], statistics: QueryStatistics = QueryStatistics(), failAt: Int? = nil
    ) {
        self.init(columns: columns, count: rows.count, statistics: statistics, failAt: failAt) { rows[$0] }
    }

    init(
        columns: [String], count: Int, statistics: QueryStatistics = QueryStatistics(), failAt: Int? = nil,
        row: @escaping (Int) -> [Value]
    ) {
        self.columns = columns
        self.rowCount = count
        self.row = row
        self.failAt = failAt
        var summary = ResultSummary()
        summary.statistics = statistics
        self.result = summary
    }

    func next() throws -> [Value]? {
        if let failAt, produced == failAt { throw DatabaseError(.arithmeticError, "/ by zero") }
        guard produced < rowCount else { return nil }
        defer { produced += 1 }
        return row(produced)
    }

    func discardRemaining() throws { produced = rowCount }
    func summary() throws -> ResultSummary { result }
}

final class FakeSession: DatabaseSession {
    let database: FakeDatabase
    let user: AuthenticatedUser
    private var pending: [String]?

    init(database: FakeDatabase, user: AuthenticatedUser) {
        self.database = database
        self.user = user
    }

    func beginTransaction(_ options: TransactionOptions) throws {
        guard pending == nil else { throw DatabaseError(.invalidRequest, "already in a transaction") }
        pending = []
    }

    func run(_ query: String, parameters: [String: Value], options: TransactionOptions) throws -> ResultCursor {
        let a = NodeValue(id: 1, labels: ["Person"], properties: ["name": .string("Ann")])
        let b = NodeValue(id: 2, labels: ["Person", "Admin"], properties: ["name": .string("Bob"), "age": .integer(42)])
        let knows = RelationshipValue(id: 7, startNodeId: 1, endNodeId: 2, type: "KNOWS", properties: ["since": .integer(2001)])
        switch query {
        case "CREATE":
            guard case .string(let name)? = parameters["name"] else { throw DatabaseError(.parameterMissing, "$name") }
            if pending != nil {
                pending!.append(name)
            } else {
                database.state.withLock { $0.committed.append(name) }
            }
            var stats = QueryStatistics()
            stats.nodesCreated = 1
            stats.propertiesSet = 1
            stats.labelsAdded = 1
            let node = NodeValue(id: 100, labels: ["Person"], properties: ["name": .string(name)])
            return FakeCursor(columns: ["n"], rows: [[.node(node)]], statistics: stats)
        case "COUNT":
            return FakeCursor(columns: ["count"], rows: [[.integer(Int64(database.committed.count))]])
        case "ECHO":
            let keys = parameters.keys.sorted()
            return FakeCursor(columns: keys, rows: [keys.map { parameters[$0]! }])
        case "PATH":
            let path = PathValue(nodes: [a, b], relationships: [knows])
            return FakeCursor(columns: ["p", "a"], rows: [[.path(path), .node(a)], [.relationship(knows), .null]])
        case "ROWS":
            guard case .integer(let n)? = parameters["n"] else { throw DatabaseError(.parameterMissing, "$n") }
            return FakeCursor(columns: ["i"], count: Int(n)) { [.integer(Int64($0))] }
        case "VALUES":
            return FakeCursor(
                columns: ["d", "dt", "dur", "p", "b", "f"],
                rows: [[
                    .date(CypherDate(epochDays: 19_000)),
                    .dateTime(CypherDateTime(epochSeconds: 0, nanosecond: 500_000_000, offsetSeconds: 3600, zoneId: nil)),
                    .duration(CypherDuration(months: 14, days: 3, seconds: 3_725, nanoseconds: 0)),
                    .point(CypherPoint(srid: 7203, x: 1.5, y: 2)),
                    .bytes([1, 2, 255]),
                    .float(2.0),
                ]])
        case "FAIL":
            throw DatabaseError(.syntaxError, "Invalid input 'FAIL'")
        case "FAILLATE":
            return FakeCursor(columns: ["x"], rows: [[.integer(1)], [.integer(2)]], failAt: 1)
        case "CALL dbms.security.changePassword($password)":
            guard case .string(let password)? = parameters["password"] else {
                throw DatabaseError(.parameterMissing, "$password")
            }
            database.state.withLock { $0.accounts[user.username] = FakeDatabase.Account(password: password, mustChange: false) }
            return FakeCursor(columns: [], rows: [])
        default:
            throw DatabaseError(.syntaxError, "Unknown fake query '\(query)'")
        }
    }

    func commit() throws -> String {
        guard let names = pending else { throw DatabaseError(.invalidRequest, "no transaction") }
        pending = nil
        return database.state.withLock {
            $0.committed += names
            $0.commits += 1
            return "FB:test:\($0.commits)"
        }
    }

    func rollback() throws {
        guard pending != nil else { throw DatabaseError(.invalidRequest, "no transaction") }
        pending = nil
        database.state.withLock { $0.rollbacks += 1 }
    }

    func reset() { pending = nil }
    func interrupt() {}
    func close() {
        if pending != nil { try? rollback() }
        database.state.withLock { $0.openSessions -= 1 }
    }
}

final class FakeHA: HAStatusProvider {
    let role: Mutex<HARole>
    let available: Mutex<Bool>
    init(_ role: HARole, available: Bool = true) {
        self.role = Mutex(role)
        self.available = Mutex(available)
    }
    var currentRole: HARole { role.withLock { $0 } }
    var isAvailable: Bool { available.withLock { $0 } }
}

// MARK: - A server on a free loopback port

final class LogLines: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    /// The server writes a request's log line after the response has gone out, so a client that has its
    /// response may look before the line exists: wait (bounded) for a matching line.
    func eventuallyContains(timeout: Duration = .seconds(5), _ predicate: (String) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if all.contains(where: predicate) { return true }
            usleep(10_000)
        }
        return all.contains(where: predicate)
    }
}

struct TestServer {
    let server: HTTPServer
    let database: FakeDatabase
    let log: LogLines
    var port: Int { server.localPort! }

    init(
        database: FakeDatabase = FakeDatabase(), ha: HAStatusProvider? = nil, idleTimeout: Duration = .seconds(60),
        maxBody: Int = 1 << 20, haStatusAuth: Bool = true, idleConnectionTimeout: Duration = .seconds(300)
    ) throws {
        let log = LogLines()
        let configuration = HTTPServer.Configuration(
            host: "127.0.0.1", port: 0, boltAdvertisedAddress: "localhost:17687", transactionIdleTimeout: idleTimeout,
            idleConnectionTimeout: idleConnectionTimeout, maxRequestBodyBytes: maxBody, workerThreads: 2, haStatusAuthEnabled: haStatusAuth,
            requestLog: { log.append($0) })
        server = HTTPServer(
            configuration: configuration, service: database, haStatus: ha, logger: Logger(label: "http-test"))
        self.database = database
        self.log = log
        try server.start()
    }

    func stop() { server.stop() }

    func request(
        _ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]
    ) throws -> TestResponse {
        var allHeaders = headers
        if body != nil, allHeaders["Content-Type"] == nil { allHeaders["Content-Type"] = "application/json" }
        let connection = try TestConnection(port: port)
        defer { connection.close() }
        try connection.send(method, path, body: body, headers: allHeaders, close: true)
        return try connection.readResponse(method: method)
    }
}

struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func json() throws -> JSONValue { try JSONParser.parse(body) }
}

struct TestError: Error, CustomStringConvertible {
    var description: String
}

/// A blocking HTTP/1.1 client over a plain socket: enough to send requests and parse Content-Length responses.
final class TestConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError(description: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw TestError(description: "connect to \(port) failed")
        }
    }

    func close() { Glibc.close(fd) }

    func sendRaw(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw TestError(description: "write failed") }
            offset += n
        }
    }

    func send(
        _ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:], close: Bool = false,
        version: String = "HTTP/1.1"
    ) throws {
        var text = "\(method) \(path) \(version)\r\nHost: localhost:7474\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        if close { text += "Connection: close\r\n" }
        text += "\r\n"
        try sendRaw(Array(text.utf8) + Array((body ?? "").utf8))
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw TestError(description: "read failed or timed out") }
        if n == 0 { return false }
        buffer += chunk[0..<n]
        return true
    }

    func readResponse(method: String = "GET") throws -> TestResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let end = findSeparator(separator) {
                let headText = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                    throw TestError(description: "bad status line in \(headText)")
                }
                let headers = lines.compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: " "))
                }
                buffer.removeFirst(end + 4)
                if status == 100 { continue }
                let lengthHeader = headers.first { $0.0.lowercased() == "content-length" }?.1
                let chunked = headers.contains {
                    $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked")
                }
                if method == "HEAD" { return TestResponse(status: status, headers: headers, body: []) }
                if chunked { return TestResponse(status: status, headers: headers, body: try readChunkedBody()) }
                guard let lengthHeader, let length = Int(lengthHeader) else {
                    while try fill() {}  // close-delimited (HTTP/1.0 streamed body)
                    defer { buffer.removeAll() }
                    return TestResponse(status: status, headers: headers, body: buffer)
                }
                while buffer.count < length {
                    guard try fill() else { throw TestError(description: "connection closed mid-body") }
                }
                let body = Array(buffer[0..<length])
                buffer.removeFirst(length)
                return TestResponse(status: status, headers: headers, body: body)
            }
            guard try fill() else { throw TestError(description: "connection closed before a response") }
        }
    }

    /// Number of chunks in the last chunked body read (to check that large results really stream).
    private(set) var lastChunkCount = 0

    private func readLine() throws -> String {
        while true {
            if let end = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let line = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 2)
                return line
            }
            guard try fill() else { throw TestError(description: "connection closed in a chunked body") }
        }
    }

    private func readChunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        lastChunkCount = 0
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                throw TestError(description: "bad chunk size '\(sizeLine)'")
            }
            if size == 0 {
                _ = try readLine()
                return body
            }
            lastChunkCount += 1
            while buffer.count < size + 2 {
                guard try fill() else { throw TestError(description: "connection closed mid-chunk") }
            }
            body += buffer[0..<size]
            buffer.removeFirst(size + 2)
        }
    }

    /// Reads whatever has arrived (at least one byte), e.g. to know a response has started.
    func readSome() throws { _ = try fill() }

    /// True when the server closed the connection (read returns 0).
    func isClosedByPeer() throws -> Bool { try !fill() }

    private func findSeparator(_ separator: [UInt8]) -> Int? {
        guard buffer.count >= separator.count else { return nil }
        for i in 0...(buffer.count - separator.count) where Array(buffer[i..<(i + 4)]) == separator { return i }
        return nil
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(self.drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}

func basic(_ user: String, _ password: String) -> String {
    "Basic " + Base64.encode(Array("\(user):\(password)".utf8))
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, index < items.count { return items[index] }
        return nil
    }

    var array: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}
