import GraphValues
import Logging
import NIOHTTP1
import TrellisService

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One complete HTTP request as the API sees it (the NIO handler aggregates the body first).
struct APIRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var headers: HTTPHeaders
    var body: [UInt8]

    var path: Substring { uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }
}

/// One complete response.
struct APIResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: [UInt8]
    /// The user name for the request log (the Basic principal, verified or not, as NCSA's `%u`).
    var logUser: String?
    /// When set, the body is produced by this closure after the head is sent, in chunks as it is encoded
    /// (`body` is ignored). It runs on the worker thread; it throws only when the client went away, after
    /// cleaning up whatever it held.
    var stream: (@Sendable (StreamOutput) throws -> Void)?

    init(status: HTTPResponseStatus, contentType: String, body: [UInt8], headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.headers = headers
        self.headers.replaceOrAdd(name: "Content-Type", value: contentType)
        self.body = body
    }

    static func json(_ status: HTTPResponseStatus, _ writer: JSONWriter, headers: HTTPHeaders = HTTPHeaders())
        -> APIResponse
    {
        APIResponse(status: status, contentType: "application/json;charset=utf-8", body: writer.bytes, headers: headers)
    }

    static func text(_ status: HTTPResponseStatus, _ text: String) -> APIResponse {
        APIResponse(status: status, contentType: "text/plain;charset=utf-8", body: Array(text.utf8))
    }

    /// `{"errors":[{code, message}]}` with extra top-level members written by `extra`.
    static func errors(
        _ status: HTTPResponseStatus, _ errors: [DatabaseError], headers: HTTPHeaders = HTTPHeaders(),
        extra: (inout JSONWriter) -> Void = { _ in }
    ) -> APIResponse {
        var w = JSONWriter()
        w.raw("{")
        extra(&w)
        w.raw("\"errors\":[")
        for (i, e) in errors.enumerated() {
            if i > 0 { w.comma() }
            w.error(code: e.code, message: e.message)
        }
        w.raw("]}")
        return json(status, w, headers: headers)
    }
}

/// Where a response goes. The server's implementation writes to the connection and blocks the calling worker
/// until each piece is flushed, which bounds what a large result holds in memory to one chunk.
protocol ResponseSink: AnyObject, Sendable {
    /// A whole response (head and body with Content-Length).
    func send(_ response: APIResponse) throws
    /// The head of a streamed response (chunked on HTTP/1.1; HTTP/1.0 closes after the body).
    func startStream(status: HTTPResponseStatus, headers: HTTPHeaders) throws
    func writeChunk(_ bytes: [UInt8]) throws
    func finishStream() throws
}

/// The writer a streamed response encodes into; it hands the bytes to the sink in chunks of about
/// `chunkBytes`.
final class StreamOutput {
    static let chunkBytes = 64 * 1024
    var writer = JSONWriter(reservingCapacity: StreamOutput.chunkBytes + 4096)
    private let sink: ResponseSink
    private var head: (status: HTTPResponseStatus, headers: HTTPHeaders)?

    init(sink: ResponseSink, status: HTTPResponseStatus, headers: HTTPHeaders) {
        self.sink = sink
        self.head = (status, headers)
    }

    /// Sends the buffered bytes once there are enough of them; throws when the client is gone.
    func flushIfFull() throws {
        if writer.bytes.count >= Self.chunkBytes { try flush() }
    }

    func flush() throws {
        if let head {
            self.head = nil
            try sink.startStream(status: head.status, headers: head.headers)
        }
        guard !writer.bytes.isEmpty else { return }
        try sink.writeChunk(writer.bytes)
        writer.bytes.removeAll(keepingCapacity: true)
    }
}

/// Collects a response in memory.
final class CollectingSink: ResponseSink, @unchecked Sendable {
    private(set) var response: APIResponse?

    func send(_ response: APIResponse) throws { self.response = response }
    func startStream(status: HTTPResponseStatus, headers: HTTPHeaders) throws {
        response = APIResponse(status: status, contentType: headers.first(name: "Content-Type") ?? "", body: [],
                               headers: headers)
    }
    func writeChunk(_ bytes: [UInt8]) throws { response?.body += bytes }
    func finishStream() throws {}
}

/// Seconds since the Unix epoch, for the wall-clock texts (`expires`, log lines). Deadlines use ContinuousClock.
func wallClockEpochSeconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec)
}

/// One statement of a transactional request (http-api.md §3).
struct StatementRequest: Sendable {
    var statement: String
    var parameters: [String: Value]
    var row = true
    var graph = false
    var includeStats = false
}

/// The HTTP API's behaviour, independent of sockets: takes a complete request, makes the blocking database
/// calls, and returns a complete response. Runs on the server's thread pool, never on an event loop.
final class APIResponder: Sendable {
    let configuration: HTTPServer.Configuration
    let service: DatabaseService
    let haStatus: HAStatusProvider?
    let registry: TransactionRegistry
    let logger: Logger

    init(
        configuration: HTTPServer.Configuration, service: DatabaseService, haStatus: HAStatusProvider?,
        logger: Logger
    ) {
        self.configuration = configuration
        self.service = service
        self.haStatus = haStatus
        self.registry = TransactionRegistry(
            idleTimeout: configuration.transactionIdleTimeout, capacity: configuration.maxOpenTransactions)
        self.logger = logger
    }

    /// The server's version as Neo4j reports it (`neo4j_version`): the part of the agent after "Neo4j/".
    var neo4jVersion: String {
        let agent = service.serverAgent
        if let slash = agent.firstIndex(of: "/") { return String(agent[agent.index(after: slash)...]) }
        return agent
    }

    // MARK: - Dispatch

    /// Answers one request: decides the response, then sends it through `sink` (blocking until written).
    /// Returns the user to log; the sink knows the status and byte count.
    func respond(to request: APIRequest, sink: ResponseSink) -> String? {
        let response = dispatch(request)
        var user = response.logUser
        if user == nil, let credentials = Self.basicCredentials(request.headers) { user = credentials.principal }
        do {
            if let stream = response.stream {
                // The head goes out with the first chunk, from inside the stream closure, so that a client that
                // is already gone makes the closure fail where it can release its transaction.
                let output = StreamOutput(sink: sink, status: response.status, headers: response.headers)
                try stream(output)
                try output.flush()
                try sink.finishStream()
            } else {
                try sink.send(response)
            }
        } catch {
            logger.debug("HTTP response not delivered", metadata: ["error": "\(error)"])
        }
        return user
    }

    /// The complete response as one value, for callers without a connection (the body of a streamed
    /// response is collected).
    func respond(to request: APIRequest) -> APIResponse {
        let sink = CollectingSink()
        let user = respond(to: request, sink: sink)
        var response = sink.response ?? APIResponse.text(.internalServerError, "")
        response.logUser = user
        return response
    }

    private func dispatch(_ request: APIRequest) -> APIResponse {
        let route = Route(path: String(request.path))
        let method = request.method
        let isGet = method == .GET || method == .HEAD
        switch route {
        case .discovery:
            guard isGet else { return methodNotAllowed(["GET", "HEAD"]) }
            return discovery(request)
        case .browser:
            guard isGet else { return methodNotAllowed(["GET", "HEAD"]) }
            return APIResponse(status: .ok, contentType: "text/html;charset=utf-8", body: Array(BrowserPage.html.utf8))
        case .legacyServiceRoot:
            guard isGet else { return methodNotAllowed(["GET", "HEAD"]) }
            return withUser(request) { _ in legacyServiceRoot(request) }
        case .haDiscovery, .haStatus:
            guard isGet else { return methodNotAllowed(["GET", "HEAD"]) }
            return haEndpoint(route, request)
        case .user(let name):
            guard isGet else { return methodNotAllowed(["GET", "HEAD"]) }
            return withUser(request, allowExpiredPassword: true) { user in userStatus(name: name, user: user, request) }
        case .userPassword(let name):
            guard method == .POST else { return methodNotAllowed(["POST"]) }
            return withUser(request, allowExpiredPassword: true) { user in
                changePassword(name: name, user: user, request)
            }
        case .beginTransaction, .commitImplicit, .commitTransaction, .transaction:
            return transactionalEndpoint(route, request)
        case .queryV2, .queryV2Begin, .queryV2Transaction, .queryV2Commit:
            return queryAPIv2(route, request)
        case .notFound:
            return .errors(.notFound, [DatabaseError(.invalidRequest, "No resource at \(request.path).")])
        }
    }

    func methodNotAllowed(_ allowed: [String]) -> APIResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Allow", value: allowed.joined(separator: ", "))
        return .errors(
            .methodNotAllowed,
            [DatabaseError(.invalidRequest, "Method not allowed here; use \(allowed.joined(separator: " or ")).")],
            headers: headers)
    }

    // MARK: - URLs

    var scheme: String { configuration.tlsEnabled ? "https" : "http" }

    /// Links point back at the address the client used (its Host header), as Neo4j builds them from the request
    /// URI; HTTP/1.0 clients without Host get the advertised address.
    func baseURL(_ request: APIRequest) -> String {
        let host = request.headers.first(name: "Host").flatMap { $0.isEmpty ? nil : $0 }
            ?? configuration.advertisedAddress
        return "\(scheme)://\(host)"
    }

    /// The bolt host: the HTTP host name the client used with the advertised Bolt port, unless a Bolt address
    /// is configured with a host of its own.
    func boltAddress(_ request: APIRequest) -> String {
        configuration.boltAdvertisedAddress
    }

    // MARK: - Discovery (http-api.md §1)

    private func discovery(_ request: APIRequest) -> APIResponse {
        let base = baseURL(request)
        let bolt = boltAddress(request)
        var w = JSONWriter()
        // 3.x keys, then the 4.x/5.x keys; clients of each line read only their own.
        let members: [(String, String)] = [
            ("data", "\(base)/db/data/"),
            ("management", "\(base)/db/manage/"),
            ("bolt", "bolt://\(bolt)"),
            ("bolt_direct", "bolt://\(bolt)"),
            ("bolt_routing", "neo4j://\(bolt)"),
            ("transaction", "\(base)/db/{databaseName}/tx"),
            ("query", "\(base)/db/{databaseName}/query/v2"),
            ("neo4j_version", neo4jVersion),
            ("neo4j_edition", configuration.edition),
        ]
        w.raw("{")
        for (i, (key, value)) in members.enumerated() {
            if i > 0 { w.comma() }
            w.key(key)
            w.string(value)
        }
        w.raw("}")
        return .json(.ok, w)
    }

    private func legacyServiceRoot(_ request: APIRequest) -> APIResponse {
        let base = baseURL(request) + "/db/data"
        var w = JSONWriter()
        w.raw("{")
        w.key("transaction")
        w.string("\(base)/transaction")
        w.comma()
        w.key("neo4j_version")
        w.string(neo4jVersion)
        w.raw("}")
        return .json(.ok, w)
    }

    // MARK: - Auth (http-api.md §5)

    static func basicCredentials(_ headers: HTTPHeaders) -> (principal: String, credentials: String)? {
        guard let header = headers.first(name: "Authorization") else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Base64.decode(parts[1].trimmingSpaces),
            let text = String(validating: decoded, as: UTF8.self),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    enum AuthOutcome {
        case user(AuthenticatedUser)
        case refused(APIResponse)
    }

    /// Authenticates through `DatabaseService.authenticate`. With auth disabled the header is ignored and the
    /// service is asked for its anonymous user (scheme "none"), as Bolt does for HELLO without credentials.
    func authenticate(_ request: APIRequest, allowExpiredPassword: Bool = false) -> AuthOutcome {
        let user: AuthenticatedUser
        do {
            if !service.authEnabled {
                user = try service.authenticate(scheme: "none", principal: nil, credentials: nil)
            } else {
                guard let header = request.headers.first(name: "Authorization") else {
                    return .refused(unauthorized(DatabaseError(.unauthorized, "No authentication header supplied.")))
                }
                let parts = header.split(separator: " ", maxSplits: 1)
                let scheme = parts.first.map { $0.lowercased() } ?? ""
                if scheme == "basic" {
                    guard let credentials = Self.basicCredentials(request.headers) else {
                        return .refused(unauthorized(DatabaseError(.invalidFormat, "Invalid authentication header.")))
                    }
                    user = try service.authenticate(
                        scheme: "basic", principal: credentials.principal, credentials: credentials.credentials)
                } else if scheme == "bearer", parts.count == 2 {
                    user = try service.authenticate(
                        scheme: "bearer", principal: nil, credentials: String(parts[1].trimmingSpaces))
                } else {
                    return .refused(unauthorized(DatabaseError(.invalidFormat, "Invalid authentication header.")))
                }
            }
        } catch let error as DatabaseError {
            if error.code == .authenticationRateLimit {
                return .refused(.errors(.tooManyRequests, [error]))
            }
            if error.code == .unauthorized {
                return .refused(unauthorized(DatabaseError(.unauthorized, "Invalid username or password.")))
            }
            return .refused(unauthorized(error))
        } catch {
            return .refused(unauthorized(DatabaseError(.unauthorized, "Authentication failed: \(error)")))
        }
        if user.passwordChangeRequired && !allowExpiredPassword {
            // Neo4j 3.x: 403 with a link to the password-change resource (http-api.md §4).
            let link = "\(baseURL(request))/user/\(user.username)/password"
            return .refused(
                .errors(.forbidden, [DatabaseError(.forbidden, "User is required to change their password.")]) { w in
                    w.key("password_change")
                    w.string(link)
                    w.comma()
                })
        }
        return .user(user)
    }

    private func unauthorized(_ error: DatabaseError) -> APIResponse {
        var headers = HTTPHeaders()
        headers.add(name: "WWW-Authenticate", value: "Basic realm=\"Neo4j\"")
        return .errors(.unauthorized, [error], headers: headers)
    }

    func withUser(
        _ request: APIRequest, allowExpiredPassword: Bool = false, _ body: (AuthenticatedUser) -> APIResponse
    ) -> APIResponse {
        switch authenticate(request, allowExpiredPassword: allowExpiredPassword) {
        case .refused(let response): return response
        case .user(let user):
            var response = body(user)
            response.logUser = user.username
            return response
        }
    }

    // MARK: - Users (Neo4j 3.x user resource)

    private func userStatus(name: String, user: AuthenticatedUser, _ request: APIRequest) -> APIResponse {
        guard name == user.username else {
            return .errors(.forbidden, [DatabaseError(.forbidden, "Users can only inspect their own status.")])
        }
        var w = JSONWriter()
        w.raw("{")
        w.key("username")
        w.string(user.username)
        w.comma()
        w.key("password_change_required")
        w.bool(user.passwordChangeRequired)
        w.comma()
        w.key("password_change")
        w.string("\(baseURL(request))/user/\(user.username)/password")
        w.raw("}")
        return .json(.ok, w)
    }

    /// `POST /user/{name}/password` with `{"password": "…"}`: runs `dbms.security.changePassword` as that user.
    private func changePassword(name: String, user: AuthenticatedUser, _ request: APIRequest) -> APIResponse {
        guard name == user.username else {
            return .errors(.forbidden, [DatabaseError(.forbidden, "Users can only change their own password.")])
        }
        let body: JSONValue
        do {
            body = try JSONParser.parse(request.body)
        } catch {
            return .errors(.badRequest, [DatabaseError(.invalidFormat, "Unable to parse request body: \(error).")])
        }
        guard let password = body["password"]?.stringValue else {
            return .errors(
                .unprocessableEntity, [DatabaseError(.invalidFormat, "Required parameter 'password' is missing.")])
        }
        let session = service.openSession(user: user)
        defer { session.close() }
        do {
            let cursor = try session.run(
                "CALL dbms.security.changePassword($password)", parameters: ["password": .string(password)],
                options: TransactionOptions())
            try cursor.discardRemaining()
            _ = try cursor.summary()
        } catch {
            return .errors(.unprocessableEntity, [Self.databaseError(error)])
        }
        return APIResponse(status: .ok, contentType: "application/json;charset=utf-8", body: [])
    }

    // MARK: - HA status (neo4j-ha.md §7)

    private func haEndpoint(_ route: Route, _ request: APIRequest) -> APIResponse {
        if configuration.haStatusAuthEnabled, service.authEnabled {
            if case .refused(let response) = authenticate(request, allowExpiredPassword: true) { return response }
        }
        guard let haStatus else {
            // A non-HA Neo4j server answers 403 on these paths (neo4j-ha.md §7).
            return .text(.forbidden, "")
        }
        switch route {
        case .haStatus(let endpoint):
            let answer = endpoint.answer(role: haStatus.currentRole, available: haStatus.isAvailable)
            return .text(HTTPResponseStatus(statusCode: answer.status), answer.body)
        default:
            let base = "/db/manage/server/ha"
            var w = JSONWriter()
            w.raw("{\"master\":")
            w.string("\(base)/master")
            w.raw(",\"slave\":")
            w.string("\(base)/slave")
            w.raw(",\"available\":")
            w.string("\(base)/available")
            w.raw("}")
            return .json(.ok, w)
        }
    }

    // MARK: - Errors

    /// Every failure a client sees carries a Neo4j status code; anything else is reported as UnknownError.
    static func databaseError(_ error: any Error) -> DatabaseError {
        if let error = error as? DatabaseError { return error }
        return DatabaseError(.unknownError, "\(error)")
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
