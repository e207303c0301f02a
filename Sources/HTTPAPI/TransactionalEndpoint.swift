import GraphValues
import NIOHTTP1
import TrellisService

/// The transactional Cypher endpoint (http-api.md §2–4), in the 3.x paths and the 4.x+ paths.
///
/// Behaviour, as Neo4j's:
/// - begin answers 201 with `Location`; the other actions 200; an unknown, expired or foreign transaction id 404
///   with TransactionNotFound;
/// - results stream to the client as the cursor produces them (chunked), so the status is decided before any
///   statement runs;
/// - a statement error is reported in `errors` (with 200/201), the results before it are kept (including the
///   rows the failing statement streamed), and the transaction is rolled back; `commit`/`transaction` then no
///   longer appear;
/// - every request to an open transaction restarts its idle timer; the sweep rolls back idle ones.
/// Deviation: a body that is not valid JSON is answered 400 with InvalidFormat (and rolls back an open
/// transaction), instead of Neo4j's 200.
extension APIResponder {
    func transactionalEndpoint(_ route: Route, _ request: APIRequest) -> APIResponse {
        switch route {
        case .beginTransaction, .commitImplicit, .commitTransaction:
            guard request.method == .POST else { return methodNotAllowed(["POST"]) }
        case .transaction:
            guard request.method == .POST || request.method == .DELETE else {
                return methodNotAllowed(["POST", "DELETE"])
            }
        default:
            preconditionFailure("not a transactional route: \(route)")
        }
        if let contentType = request.headers.first(name: "Content-Type"), !request.body.isEmpty,
            !contentType.lowercased().contains("json")
        {
            return .errors(
                .unsupportedMediaType,
                [DatabaseError(.invalidFormat, "Unsupported Content-Type '\(contentType)'; send application/json.")])
        }
        return withUser(request) { user in
            let options: TransactionOptions
            do {
                options = try Self.transactionOptions(request.headers)
            } catch {
                return .errors(.badRequest, [Self.databaseError(error)])
            }
            switch route {
            case .beginTransaction(let database):
                return begin(request, user: user, database: database, options: options)
            case .commitImplicit(let database):
                return commitImplicit(request, user: user, database: database, options: options)
            case .transaction(let database, let id):
                if request.method == .DELETE {
                    return rollback(request, user: user, database: database, id: id)
                }
                return runInOpen(request, user: user, database: database, id: id, commit: false)
            case .commitTransaction(let database, let id):
                return runInOpen(request, user: user, database: database, id: id, commit: true)
            default:
                preconditionFailure("not a transactional route: \(route)")
            }
        }
    }

    /// `Access-Mode: READ|WRITE` (4.4.4+) and `Bookmarks: [...]` (5.x) request headers.
    static func transactionOptions(_ headers: HTTPHeaders) throws(DatabaseError) -> TransactionOptions {
        var options = TransactionOptions()
        if let mode = headers.first(name: "Access-Mode") {
            switch mode.uppercased() {
            case "READ": options.mode = .read
            case "WRITE": options.mode = .write
            default: throw DatabaseError(.invalidFormat, "Access-Mode must be READ or WRITE, not '\(mode)'.")
            }
        }
        if let header = headers.first(name: "Bookmarks") {
            guard case .array(let items)? = try? JSONParser.parse(Array(header.utf8)),
                items.allSatisfy({ $0.stringValue != nil })
            else { throw DatabaseError(.invalidFormat, "Bookmarks must be a JSON array of strings.") }
            options.bookmarks = items.compactMap(\.stringValue)
        }
        return options
    }

    // MARK: - Request body (http-api.md §3)

    static func parseStatements(_ body: [UInt8]) throws(DatabaseError) -> [StatementRequest] {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [] }
        let json: JSONValue
        do {
            json = try JSONParser.parse(body)
        } catch {
            throw DatabaseError(.invalidFormat, "Unable to deserialize request: \(error).")
        }
        guard case .object(let members) = json else {
            throw DatabaseError(.invalidFormat, "The request body must be a JSON object with a 'statements' list.")
        }
        guard let statementsValue = members["statements"], statementsValue != .null else { return [] }
        guard case .array(let items) = statementsValue else {
            throw DatabaseError(.invalidFormat, "'statements' must be a list.")
        }
        return try items.enumerated().map { (index, item) throws(DatabaseError) -> StatementRequest in
            guard case .object(let fields) = item, let text = fields["statement"]?.stringValue else {
                throw DatabaseError(.invalidFormat, "Statement \(index + 1) has no 'statement' string.")
            }
            var statement = StatementRequest(statement: text, parameters: [:])
            switch fields["parameters"] {
            case nil, .null?: break
            case .object(let params)?: statement.parameters = params.mapValues(Value.init(json:))
            default: throw DatabaseError(.invalidFormat, "Statement \(index + 1): 'parameters' must be a map.")
            }
            switch fields["resultDataContents"] {
            case nil, .null?: break
            case .array(let contents)?:
                statement.row = false
                for content in contents {
                    switch content.stringValue?.lowercased() {
                    case "row"?: statement.row = true
                    case "graph"?: statement.graph = true
                    default:
                        throw DatabaseError(
                            .invalidFormat,
                            "Statement \(index + 1): resultDataContents supports \"row\" and \"graph\", "
                                + "not \(content).")
                    }
                }
            default:
                throw DatabaseError(.invalidFormat, "Statement \(index + 1): 'resultDataContents' must be a list.")
            }
            switch fields["includeStats"] {
            case nil, .null?: break
            case .bool(let flag)?: statement.includeStats = flag
            default: throw DatabaseError(.invalidFormat, "Statement \(index + 1): 'includeStats' must be a boolean.")
            }
            return statement
        }
    }

    // MARK: - Running statements

    /// What running a request's statements produced besides the encoded results: notifications, and the first
    /// error (after which nothing more ran).
    struct Execution {
        var notifications: [Notification] = []
        var error: DatabaseError?
    }

    /// Runs the statements in order in the session's open transaction, encoding each result into `out` row by
    /// row as the cursor produces it (handing full chunks to the connection), so a large result is never held
    /// whole. A database error ends the statement's entry where it stopped (its rows so far are kept, as in
    /// Neo4j's streamed responses) and is returned; only a lost client throws.
    func execute(
        _ statements: [StatementRequest], in session: DatabaseSession, options: TransactionOptions,
        out: StreamOutput
    ) throws -> Execution {
        var execution = Execution()
        for (index, statement) in statements.enumerated() {
            let cursor: ResultCursor
            do {
                cursor = try session.run(statement.statement, parameters: statement.parameters, options: options)
            } catch {
                execution.error = Self.databaseError(error)
                return execution
            }
            if index > 0 { out.writer.comma() }
            out.writer.raw("{\"columns\":[")
            for (i, column) in cursor.columns.enumerated() {
                if i > 0 { out.writer.comma() }
                out.writer.string(column)
            }
            out.writer.raw("],\"data\":[")
            var first = true
            do {
                while let row = try cursor.next() {
                    if !first { out.writer.comma() }
                    first = false
                    encode(row: row, statement: statement, into: &out.writer)
                    try out.flushIfFull()
                }
            } catch let error as DatabaseError {
                out.writer.raw("]}")
                execution.error = error
                return execution
            } catch let error as ResponseSinkError {
                throw error
            } catch {
                out.writer.raw("]}")
                execution.error = Self.databaseError(error)
                return execution
            }
            out.writer.raw("]")
            do {
                let summary = try cursor.summary()
                if statement.includeStats {
                    out.writer.raw(",\"stats\":")
                    out.writer.stats(summary.statistics)
                }
                execution.notifications += summary.notifications
            } catch {
                out.writer.raw("}")
                execution.error = Self.databaseError(error)
                return execution
            }
            out.writer.raw("}")
        }
        return execution
    }

    private func encode(row: [Value], statement: StatementRequest, into w: inout JSONWriter) {
        w.raw("{")
        if statement.row {
            w.raw("\"row\":[")
            for (i, value) in row.enumerated() {
                if i > 0 { w.comma() }
                w.row(value)
            }
            w.raw("],\"meta\":[")
            for (i, value) in row.enumerated() {
                if i > 0 { w.comma() }
                w.meta(value)
            }
            w.raw("]")
        }
        if statement.graph {
            if statement.row { w.comma() }
            w.raw("\"graph\":")
            w.graph(row)
        }
        w.raw("}")
    }

    /// The part of the body after `results`: `errors`, `notifications`, then the open transaction's `commit`
    /// link and `transaction.expires`, or the committed transaction's `lastBookmarks`.
    func writeTail(
        _ execution: Execution, into w: inout JSONWriter, openCommitURL: String? = nil, bookmark: String? = nil
    ) {
        w.raw("],\"errors\":[")
        if let error = execution.error { w.error(code: error.code, message: error.message) }
        w.raw("]")
        w.notifications(execution.notifications)
        if let openCommitURL {
            w.raw(",\"commit\":")
            w.string(openCommitURL)
            let expires = wallClockEpochSeconds() + registry.idleTimeout.components.seconds
            w.raw(",\"transaction\":{\"expires\":")
            w.string(HTTPDate.rfc1123(epochSeconds: expires))
            w.raw("}")
        }
        if let bookmark {
            w.raw(",\"lastBookmarks\":[")
            w.string(bookmark)
            w.raw("]")
        }
        w.raw("}")
    }

    /// A complete response for failures known before anything ran.
    func transactionResponse(_ error: DatabaseError, status: HTTPResponseStatus) -> APIResponse {
        var w = JSONWriter()
        w.raw("{\"results\":[")
        writeTail(Execution(error: error), into: &w)
        return .json(status, w)
    }

    /// A streamed response whose body is `{"results":[` + what `body` writes (results, then the tail).
    func streamed(
        _ status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(),
        _ body: @escaping @Sendable (StreamOutput) throws -> Void
    ) -> APIResponse {
        var response = APIResponse(
            status: status, contentType: "application/json;charset=utf-8", body: [], headers: headers)
        response.stream = { out in
            out.writer.raw("{\"results\":[")
            try body(out)
        }
        return response
    }

    func transactionBaseURL(_ request: APIRequest, database: String?) -> String {
        if let database { return "\(baseURL(request))/db/\(database)/tx" }
        return "\(baseURL(request))/db/data/transaction"
    }

    static func notFoundResponse() -> APIResponse {
        .errors(
            .notFound,
            [
                DatabaseError(
                    .transactionNotFound,
                    "Unrecognized transaction id. Transaction may have timed out and been rolled back.")
            ])
    }

    // MARK: - Actions

    /// What `begin` and `commitImplicit` share: parse the statements, open a session and begin its transaction.
    /// On failure the response to send instead (nothing is left open).
    private func openTransaction(
        _ request: APIRequest, user: AuthenticatedUser, database: String?, options: TransactionOptions
    ) -> Result<([StatementRequest], OpenTransaction, TransactionOptions), ResponseFailure> {
        let statements: [StatementRequest]
        do {
            statements = try Self.parseStatements(request.body)
        } catch {
            return .failure(ResponseFailure(transactionResponse(error, status: .badRequest)))
        }
        var options = options
        options.database = database
        let session = service.openSession(user: user)
        do {
            try session.beginTransaction(options)
        } catch {
            session.close()
            return .failure(ResponseFailure(transactionResponse(Self.databaseError(error), status: .ok)))
        }
        let transaction = OpenTransaction(session: session, owner: user.username, database: database)
        return .success((statements, transaction, options))
    }

    private func begin(_ request: APIRequest, user: AuthenticatedUser, database: String?, options: TransactionOptions)
        -> APIResponse
    {
        let statements: [StatementRequest]
        let transaction: OpenTransaction
        let runOptions: TransactionOptions
        switch openTransaction(request, user: user, database: database, options: options) {
        case .failure(let failure): return failure.response
        case .success(let opened): (statements, transaction, runOptions) = opened
        }
        guard let id = registry.register(transaction, now: .now) else {
            transaction.abandon()
            let error = DatabaseError(
                "Neo.TransientError.Request.ResourceExhaustion",
                "Too many open HTTP transactions (\(registry.capacity)); commit or roll back some first.")
            return transactionResponse(error, status: .ok)
        }
        let location = "\(transactionBaseURL(request, database: database))/\(id)"
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        let registry = self.registry
        return streamed(.created, headers: headers) { out in
            guard
                let execution = try self.executeInOpen(
                    statements, transaction: transaction, id: id, options: runOptions, out: out)
            else { return }
            registry.release(id: id, now: .now)
            self.writeTail(execution, into: &out.writer, openCommitURL: location + "/commit")
        }
    }

    /// Runs statements in registered open transaction `id`. A failure ends the transaction, as in Neo4j: it is
    /// unregistered and rolled back, and the error tail is written (nil is returned); a lost client rethrows.
    /// On success the caller decides between releasing the transaction and committing it.
    private func executeInOpen(
        _ statements: [StatementRequest], transaction: OpenTransaction, id: Int64, options: TransactionOptions,
        out: StreamOutput
    ) throws -> Execution? {
        let execution: Execution
        do {
            execution = try execute(statements, in: transaction.session, options: options, out: out)
        } catch {
            registry.remove(id: id)
            transaction.abandon()
            throw error
        }
        guard execution.error == nil else {
            registry.remove(id: id)
            transaction.abandon()
            writeTail(execution, into: &out.writer)
            return nil
        }
        return execution
    }

    private func commitImplicit(
        _ request: APIRequest, user: AuthenticatedUser, database: String?, options: TransactionOptions
    ) -> APIResponse {
        let statements: [StatementRequest]
        let transaction: OpenTransaction
        let runOptions: TransactionOptions
        switch openTransaction(request, user: user, database: database, options: options) {
        case .failure(let failure): return failure.response
        case .success(let opened): (statements, transaction, runOptions) = opened
        }
        return streamed(.ok) { out in
            var execution: Execution
            do {
                execution = try self.execute(statements, in: transaction.session, options: runOptions, out: out)
            } catch {
                // The client is gone before seeing the results: do not commit what it cannot know about.
                transaction.abandon()
                throw error
            }
            defer { transaction.session.close() }
            if execution.error != nil {
                try? transaction.session.rollback()
                self.writeTail(execution, into: &out.writer)
                return
            }
            do {
                let bookmark = try transaction.session.commit()
                self.writeTail(execution, into: &out.writer, bookmark: bookmark)
            } catch {
                try? transaction.session.rollback()
                execution.error = Self.databaseError(error)
                self.writeTail(execution, into: &out.writer)
            }
        }
    }

    private func acquire(_ id: Int64?, user: AuthenticatedUser, database: String?) -> (OpenTransaction?, APIResponse?) {
        guard let id else { return (nil, Self.notFoundResponse()) }
        switch registry.acquire(id: id, user: user.username, database: database, now: .now) {
        case .acquired(let transaction): return (transaction, nil)
        case .notFound: return (nil, Self.notFoundResponse())
        case .busy:
            let error = DatabaseError(
                "Neo.ClientError.Transaction.TransactionAccessedConcurrently",
                "The transaction is being used by another request; send requests for one transaction one at a time.")
            return (nil, transactionResponse(error, status: .conflict))
        }
    }

    private func runInOpen(
        _ request: APIRequest, user: AuthenticatedUser, database: String?, id: Int64?, commit: Bool
    ) -> APIResponse {
        let (acquired, refusal) = acquire(id, user: user, database: database)
        guard let transaction = acquired, let id else { return refusal! }
        let statements: [StatementRequest]
        do {
            statements = try Self.parseStatements(request.body)
        } catch {
            registry.remove(id: id)
            transaction.abandon()
            return transactionResponse(error, status: .badRequest)
        }
        var options = TransactionOptions(database: database)
        if let headerOptions = try? Self.transactionOptions(request.headers) { options.mode = headerOptions.mode }
        let registry = self.registry
        let commitURL = "\(transactionBaseURL(request, database: database))/\(id)/commit"
        let runOptions = options
        return streamed(.ok) { out in
            guard
                var execution = try self.executeInOpen(
                    statements, transaction: transaction, id: id, options: runOptions, out: out)
            else { return }
            if !commit {
                registry.release(id: id, now: .now)
                self.writeTail(execution, into: &out.writer, openCommitURL: commitURL)
                return
            }
            registry.remove(id: id)
            defer { transaction.session.close() }
            do {
                let bookmark = try transaction.session.commit()
                self.writeTail(execution, into: &out.writer, bookmark: bookmark)
            } catch {
                try? transaction.session.rollback()
                execution.error = Self.databaseError(error)
                self.writeTail(execution, into: &out.writer)
            }
        }
    }

    private func rollback(_ request: APIRequest, user: AuthenticatedUser, database: String?, id: Int64?)
        -> APIResponse
    {
        let (acquired, refusal) = acquire(id, user: user, database: database)
        guard let transaction = acquired, let id else { return refusal! }
        registry.remove(id: id)
        defer { transaction.session.close() }
        do {
            try transaction.session.rollback()
        } catch {
            return transactionResponse(Self.databaseError(error), status: .ok)
        }
        var w = JSONWriter()
        w.raw("{\"results\":[],\"errors\":[]}")
        return .json(.ok, w)
    }

    // MARK: - Expiry

    /// Rolls back the transactions idle past the timeout. Called from the server's timer on the thread pool.
    func expireIdleTransactions(now: ContinuousClock.Instant = .now) {
        for (id, transaction) in registry.expire(now: now) {
            logger.debug("rolling back idle HTTP transaction", metadata: ["txID": "\(id)", "user": "\(transaction.owner)"])
            transaction.abandon()
        }
    }
}

/// An error response carried through `Result` (which needs an `Error` payload).
private struct ResponseFailure: Error {
    let response: APIResponse
    init(_ response: APIResponse) { self.response = response }
}
