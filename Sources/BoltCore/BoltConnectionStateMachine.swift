import GraphValues
import TrellisService

/// Work the connection shell must do against the database, then report with `succeeded` or `failed`.
public enum BoltOperation: Sendable, Hashable {
    case hello(userAgent: String, routing: [String: String]?, patchUTC: Bool, auth: AuthToken?)
    case logon(AuthToken)
    case logoff
    case route(context: [String: String], bookmarks: [String], database: String?, impersonatedUser: String?)
    case begin(TransactionOptions)
    /// `qid` is nil for auto-commit, else the id of the new result inside the explicit transaction.
    case run(query: String, parameters: [String: Value], options: TransactionOptions, qid: Int64?)
    /// Streams up to `n` records (-1: all) of the result `qid` (nil: the auto-commit result).
    case pull(qid: Int64?, n: Int64)
    case discard(qid: Int64?, n: Int64)
    case commit
    case rollback
    /// Roll back any transaction, drop open results.
    case reset
}

/// What the shell must do next.
public enum BoltAction: Sendable, Hashable {
    /// Run the operation off the event loop and report its outcome.
    case execute(BoltOperation)
    case sendSuccess([String: Value])
    case sendIgnored
    case sendFailure(DatabaseError)
    /// Send FAILURE, then close the connection (protocol violation, failed authentication, broken message).
    case sendFailureAndClose(DatabaseError)
    /// Close without a reply (GOODBYE).
    case close
}

/// The Bolt server state machine (bolt.md §6), as a value type with no I/O.
///
/// One input at a time: a decoded request (`received`), the outcome of the operation it asked for
/// (`succeeded` / `failed`), a RESET seen ahead in the inbound queue (`interruptRequested`), or a message that
/// could not be decoded (`decodeFailed`). While an operation is executing, no request may be fed
/// (the shell processes messages in order, one at a time).
///
/// Deviations from the spec table: none intended. Messages a state cannot handle are protocol violations:
/// FAILURE `Neo.ClientError.Request.Invalid` and close (DEFUNCT), as the spec says.
public struct BoltConnectionStateMachine: Sendable {
    public enum State: Sendable, Hashable, CustomStringConvertible {
        case negotiation, authentication, ready, streaming, txReady, txStreaming, failed, interrupted, defunct

        public var description: String {
            switch self {
            case .negotiation: return "NEGOTIATION"
            case .authentication: return "AUTHENTICATION"
            case .ready: return "READY"
            case .streaming: return "STREAMING"
            case .txReady: return "TX_READY"
            case .txStreaming: return "TX_STREAMING"
            case .failed: return "FAILED"
            case .interrupted: return "INTERRUPTED"
            case .defunct: return "DEFUNCT"
            }
        }
    }

    public let version: BoltVersion
    public private(set) var state: State = .negotiation
    /// The operation being executed, if any.
    public private(set) var pending: BoltOperation?
    /// Open results of the explicit transaction, oldest first (auto-commit keeps none here).
    public private(set) var openResults: [Int64] = []
    var nextQID: Int64 = 0

    public init(version: BoltVersion) {
        self.version = version
    }

    // MARK: - Inputs

    /// A request arrived (in order).
    public mutating func received(_ request: BoltRequest) -> BoltAction {
        precondition(pending == nil, "request \(request.name) fed while \(String(describing: pending)) executes")
        if case .goodbye = request {
            state = .defunct
            return .close
        }
        switch (state, request) {
        case (.defunct, _):
            return .close

        case (.negotiation, .hello(let agent, let routing, let utc, let auth)):
            return execute(.hello(userAgent: agent, routing: routing, patchUTC: utc, auth: auth))
        case (.authentication, .logon(let token)):
            return execute(.logon(token))

        case (.failed, .reset), (.interrupted, .reset), (.ready, .reset), (.streaming, .reset),
            (.txReady, .reset), (.txStreaming, .reset):
            return execute(.reset)
        case (.failed, .logoff):
            return violation(request)
        case (.failed, _), (.interrupted, _):
            return .sendIgnored

        case (.ready, .run(let query, let parameters, let options)):
            return execute(.run(query: query, parameters: parameters, options: options, qid: nil))
        case (.ready, .begin(let options)):
            return execute(.begin(options))
        case (.ready, .route(let context, let bookmarks, let database, let user)):
            return execute(.route(context: context, bookmarks: bookmarks, database: database, impersonatedUser: user))
        case (.ready, .telemetry):
            // Only recorded by Neo4j; nothing to do but acknowledge.
            return .sendSuccess([:])
        case (.ready, .logoff):
            return execute(.logoff)

        case (.streaming, .pull(let n, let qid)), (.streaming, .discard(let n, let qid)):
            // The auto-commit result has no qid on the wire: -1 (last) is the only valid reference.
            guard qid == -1 else { return failure(.invalidRequest, "No open result with qid \(qid)") }
            if case .pull = request { return execute(.pull(qid: nil, n: n)) }
            return execute(.discard(qid: nil, n: n))

        case (.txReady, .run(let query, let parameters, let options)),
            (.txStreaming, .run(let query, let parameters, let options)):
            let qid = nextQID
            nextQID += 1
            return execute(.run(query: query, parameters: parameters, options: options, qid: qid))
        case (.txStreaming, .pull(let n, let qid)), (.txStreaming, .discard(let n, let qid)):
            let resolved = qid == -1 ? openResults.last! : qid
            guard openResults.contains(resolved) else {
                return failure(.invalidRequest, "No open result with qid \(qid)")
            }
            if case .pull = request { return execute(.pull(qid: resolved, n: n)) }
            return execute(.discard(qid: resolved, n: n))
        case (.txReady, .commit):
            return execute(.commit)
        case (.txReady, .rollback):
            return execute(.rollback)

        default:
            return violation(request)
        }
    }

    /// The pending operation succeeded. `metadata` is the SUCCESS metadata the shell built; for a PULL or
    /// DISCARD, `hasMore` tells whether records remain.
    public mutating func succeeded(_ metadata: [String: Value], hasMore: Bool = false) -> BoltAction {
        guard let op = pending else { preconditionFailure("success reported with nothing pending in \(state)") }
        pending = nil
        var metadata = metadata
        let interrupted = state == .interrupted
        switch op {
        case .hello:
            state = version.hasLogon ? .authentication : .ready
        case .logon:
            state = .ready
        case .logoff:
            state = .authentication
        case .route:
            break
        case .begin:
            state = .txReady
            nextQID = 0
        case .run(_, _, _, let qid):
            if let qid {
                openResults.append(qid)
                metadata["qid"] = .integer(qid)
                state = .txStreaming
            } else {
                state = .streaming
            }
        case .pull(let qid, _), .discard(let qid, _):
            if hasMore {
                metadata["has_more"] = .boolean(true)
            } else if let qid {
                openResults.removeAll { $0 == qid }
                state = openResults.isEmpty ? .txReady : .txStreaming
            } else {
                state = .ready
            }
        case .commit, .rollback:
            state = .ready
            openResults = []
        case .reset:
            state = .ready
            openResults = []
            return .sendSuccess(metadata)
        }
        if interrupted { state = .interrupted }
        return .sendSuccess(metadata)
    }

    /// The pending operation failed with `error`.
    public mutating func failed(_ error: DatabaseError) -> BoltAction {
        guard let op = pending else { preconditionFailure("failure reported with nothing pending in \(state)") }
        pending = nil
        switch op {
        case .hello, .logon, .reset:
            state = .defunct
            return .sendFailureAndClose(error)
        default:
            openResults = []
            if state != .interrupted { state = .failed }
            return .sendFailure(error)
        }
    }

    /// A RESET is waiting in the inbound queue: until it is processed, every other request is IGNORED.
    /// Before authentication a RESET is not allowed, so this changes nothing there.
    public mutating func interruptRequested() {
        switch state {
        case .ready, .streaming, .txReady, .txStreaming, .failed:
            state = .interrupted
        case .negotiation, .authentication, .interrupted, .defunct:
            break
        }
    }

    /// A message could not be decoded.
    public mutating func decodeFailed(_ error: BoltRequestError) -> BoltAction {
        precondition(pending == nil, "decode failure fed while \(String(describing: pending)) executes")
        switch state {
        case .defunct:
            return .close
        case .negotiation, .authentication:
            state = .defunct
            return .sendFailureAndClose(error.error)
        case .failed, .interrupted:
            if error.fatal {
                state = .defunct
                return .sendFailureAndClose(error.error)
            }
            return .sendIgnored
        case .ready, .streaming, .txReady, .txStreaming:
            if error.fatal {
                state = .defunct
                return .sendFailureAndClose(error.error)
            }
            openResults = []
            state = .failed
            return .sendFailure(error.error)
        }
    }

    /// The connection is gone (closed by either side).
    public mutating func connectionClosed() {
        state = .defunct
        pending = nil
        openResults = []
    }

    // MARK: - Helpers

    mutating func execute(_ op: BoltOperation) -> BoltAction {
        pending = op
        return .execute(op)
    }

    mutating func failure(_ code: StatusCode, _ message: String) -> BoltAction {
        openResults = []
        state = .failed
        return .sendFailure(DatabaseError(code, message))
    }

    mutating func violation(_ request: BoltRequest) -> BoltAction {
        let message = "Message '\(request.name)' cannot be handled by a session in the \(state) state."
        state = .defunct
        return .sendFailureAndClose(DatabaseError(.invalidRequest, message))
    }
}
