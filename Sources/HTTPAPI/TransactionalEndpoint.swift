import GraphValues
import NIOHTTP1
import TrellisService

/// The transactional Cypher endpoint (http-api.md §2–4), in the 3.x paths and the 4.x+ paths.
///
/// Behaviour, as Neo4j's:
/// - begin answers 201 with `Location`; the other actions 200; an unknown, expired or foreign transaction id 404
///   with TransactionNotFound;
/// - a statement error is reported in `errors` (with 200/201), the results before it are kept, and the
///   transaction is rolled back; `commit`/`transaction` then no longer appear;
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

    /// What running a request's statements produced: the encoded `results` entries, notifications, and the first
    /// error (after which nothing more ran).
    struct Execution {
        var results = JSONWriter()
        var resultCount = 0
        var notifications: [Notification] = []
        var error: DatabaseError?
    }

    /// Runs the statements in order in the session's open transaction, encoding each result as it streams.
    func execute(_ statements: [StatementRequest], in session: DatabaseSession, options: TransactionOptions)
        -> Execution
    {
        var execution = Execution()
        for statement in statements {
            // Each statement is encoded on the side and appended only once complete, so an error halfway
            // leaves `results` holding only whole results.
            var w = JSONWriter()
            do {
                let cursor = try session.run(statement.statement, parameters: statement.parameters, options: options)
                w.raw("{\"columns\":[")
                for (i, column) in cursor.columns.enumerated() {
                    if i > 0 { w.comma() }
                    w.string(column)
                }
                w.raw("],\"data\":[")
                var first = true
                while let row = try cursor.next() {
                    if !first { w.comma() }
                    first = false
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
                w.raw("]")
                let summary = try cursor.summary()
                if statement.includeStats {
                    w.raw(",\"stats\":")
                    w.stats(summary.statistics)
                }
                w.raw("}")
                execution.notifications += summary.notifications
            } catch {
                execution.error = Self.databaseError(error)
                return execution
            }
            if execution.resultCount > 0 { execution.results.comma() }
            execution.results.bytes += w.bytes
            execution.resultCount += 1
        }
        return execution
    }

    /// The response body: `results`, `errors`, `notifications`, then the open transaction's `commit` link and
    /// `transaction.expires`, or the committed transaction's `lastBookmarks`.
    func transactionResponse(
        _ execution: Execution, status: HTTPResponseStatus, openCommitURL: String? = nil, bookmark: String? = nil,
        headers: HTTPHeaders = HTTPHeaders()
    ) -> APIResponse {
        var w = JSONWriter(reservingCapacity: execution.results.bytes.count + 256)
        w.raw("{\"results\":[")
        w.bytes += execution.results.bytes
        w.raw("],\"errors\":[")
        if let error = execution.error { w.error(code: error.code, message: error.message) }
        w.raw("]")
        if !execution.notifications.isEmpty {
            w.raw(",\"notifications\":[")
            for (i, n) in execution.notifications.enumerated() {
                if i > 0 { w.comma() }
                w.raw("{\"code\":")
                w.string(n.code)
                w.raw(",\"severity\":")
                w.string(n.severity)
                w.raw(",\"title\":")
                w.string(n.title)
                w.raw(",\"description\":")
                w.string(n.description)
                w.raw("}")
            }
            w.raw("]")
        }
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
        return .json(status, w, headers: headers)
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

    /// Errors of the body are reported like statement errors: in `errors`, nothing run.
    private func badBody(_ error: DatabaseError) -> APIResponse {
        var execution = Execution()
        execution.error = error
        return transactionResponse(execution, status: .badRequest)
    }

    // MARK: - Actions

    private func begin(_ request: APIRequest, user: AuthenticatedUser, database: String?, options: TransactionOptions)
        -> APIResponse
    {
        let statements: [StatementRequest]
        do {
            statements = try Self.parseStatements(request.body)
        } catch {
            return badBody(error)
        }
        var options = options
        options.database = database
        let session = service.openSession(user: user)
        do {
            try session.beginTransaction(options)
        } catch {
            session.close()
            var execution = Execution()
            execution.error = Self.databaseError(error)
            return transactionResponse(execution, status: .ok)
        }
        let transaction = OpenTransaction(session: session, owner: user.username, database: database)
        guard let id = registry.register(transaction, now: .now) else {
            transaction.abandon()
            var execution = Execution()
            execution.error = DatabaseError(
                "Neo.TransientError.Request.ResourceExhaustion",
                "Too many open HTTP transactions (\(registry.capacity)); commit or roll back some first.")
            return transactionResponse(execution, status: .ok)
        }
        let execution = execute(statements, in: session, options: options)
        let location = "\(transactionBaseURL(request, database: database))/\(id)"
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        if execution.error != nil {
            registry.remove(id: id)
            transaction.abandon()
            return transactionResponse(execution, status: .created, headers: headers)
        }
        registry.release(id: id, now: .now)
        return transactionResponse(execution, status: .created, openCommitURL: location + "/commit", headers: headers)
    }

    private func commitImplicit(
        _ request: APIRequest, user: AuthenticatedUser, database: String?, options: TransactionOptions
    ) -> APIResponse {
        let statements: [StatementRequest]
        do {
            statements = try Self.parseStatements(request.body)
        } catch {
            return badBody(error)
        }
        var options = options
        options.database = database
        let session = service.openSession(user: user)
        defer { session.close() }
        do {
            try session.beginTransaction(options)
        } catch {
            var execution = Execution()
            execution.error = Self.databaseError(error)
            return transactionResponse(execution, status: .ok)
        }
        var execution = execute(statements, in: session, options: options)
        if execution.error != nil {
            try? session.rollback()
            return transactionResponse(execution, status: .ok)
        }
        do {
            let bookmark = try session.commit()
            return transactionResponse(execution, status: .ok, bookmark: bookmark)
        } catch {
            execution.error = Self.databaseError(error)
            return transactionResponse(execution, status: .ok)
        }
    }

    private func acquire(_ id: Int64?, user: AuthenticatedUser, database: String?) -> (OpenTransaction?, APIResponse?) {
        guard let id else { return (nil, Self.notFoundResponse()) }
        switch registry.acquire(id: id, user: user.username, database: database, now: .now) {
        case .acquired(let transaction): return (transaction, nil)
        case .notFound: return (nil, Self.notFoundResponse())
        case .busy:
            var execution = Execution()
            execution.error = DatabaseError(
                "Neo.ClientError.Transaction.TransactionAccessedConcurrently",
                "The transaction is being used by another request; send requests for one transaction one at a time.")
            return (nil, transactionResponse(execution, status: .conflict))
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
            return badBody(error)
        }
        var options = TransactionOptions(database: database)
        if let headerOptions = try? Self.transactionOptions(request.headers) { options.mode = headerOptions.mode }
        var execution = execute(statements, in: transaction.session, options: options)
        if execution.error != nil {
            registry.remove(id: id)
            transaction.abandon()
            return transactionResponse(execution, status: .ok)
        }
        if !commit {
            registry.release(id: id, now: .now)
            let url = "\(transactionBaseURL(request, database: database))/\(id)/commit"
            return transactionResponse(execution, status: .ok, openCommitURL: url)
        }
        registry.remove(id: id)
        defer { transaction.session.close() }
        do {
            let bookmark = try transaction.session.commit()
            return transactionResponse(execution, status: .ok, bookmark: bookmark)
        } catch {
            try? transaction.session.rollback()
            execution.error = Self.databaseError(error)
            return transactionResponse(execution, status: .ok)
        }
    }

    private func rollback(_ request: APIRequest, user: AuthenticatedUser, database: String?, id: Int64?)
        -> APIResponse
    {
        let (acquired, refusal) = acquire(id, user: user, database: database)
        guard let transaction = acquired, let id else { return refusal! }
        registry.remove(id: id)
        defer { transaction.session.close() }
        var execution = Execution()
        do {
            try transaction.session.rollback()
        } catch {
            execution.error = Self.databaseError(error)
        }
        return transactionResponse(execution, status: .ok)
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
