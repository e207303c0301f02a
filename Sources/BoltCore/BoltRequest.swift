import GraphValues
import NIOCore
import TrellisService

/// An authentication token from HELLO (≤5.0) or LOGON (5.1+).
public struct AuthToken: Sendable, Hashable {
    public var scheme: String
    public var principal: String?
    public var credentials: String?

    public init(scheme: String, principal: String? = nil, credentials: String? = nil) {
        self.scheme = scheme
        self.principal = principal
        self.credentials = credentials
    }
}

/// A client message, decoded and type-checked (bolt.md §3.3, §4).
public enum BoltRequest: Sendable, Hashable {
    /// `routing` is present only for `neo4j://` clients; `auth` only up to Bolt 5.0.
    case hello(userAgent: String, routing: [String: String]?, patchUTC: Bool, auth: AuthToken?)
    case logon(AuthToken)
    case logoff
    case goodbye
    case reset
    case run(query: String, parameters: [String: Value], options: TransactionOptions)
    case begin(TransactionOptions)
    case commit
    case rollback
    /// `n` = -1 means all; `qid` = -1 means the last statement.
    case pull(n: Int64, qid: Int64)
    case discard(n: Int64, qid: Int64)
    case route(context: [String: String], bookmarks: [String], database: String?, impersonatedUser: String?)
    case telemetry(api: Int64)

    /// The message name, for errors and logs.
    public var name: String {
        switch self {
        case .hello: return "HELLO"
        case .logon: return "LOGON"
        case .logoff: return "LOGOFF"
        case .goodbye: return "GOODBYE"
        case .reset: return "RESET"
        case .run: return "RUN"
        case .begin: return "BEGIN"
        case .commit: return "COMMIT"
        case .rollback: return "ROLLBACK"
        case .pull: return "PULL"
        case .discard: return "DISCARD"
        case .route: return "ROUTE"
        case .telemetry: return "TELEMETRY"
        }
    }
}

/// Why a message could not be decoded.
public struct BoltRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// True when the message's framing or encoding is broken (unknown message, wrong field count, bad
    /// PackStream): the server answers FAILURE and closes. False for a well-formed message with a bad field
    /// value: FAILURE, and the connection stays usable after RESET.
    public var fatal: Bool
    public var error: DatabaseError

    public init(fatal: Bool, _ code: StatusCode, _ message: String) {
        self.fatal = fatal
        self.error = DatabaseError(code, message)
    }

    public var description: String { error.description }
}

/// Decodes one message body (already de-chunked) into a `BoltRequest`.
public struct BoltRequestDecoder: Sendable {
    public var version: BoltVersion
    public var packStream: PackStreamDecoder

    public init(version: BoltVersion, options: PackStreamOptions? = nil, maxDepth: Int = 64) {
        self.version = version
        self.packStream = PackStreamDecoder(options: options ?? PackStreamOptions(version: version),
            maxDepth: maxDepth)
    }

    /// The message tag of a body without decoding it (RESET is looked at early so it can interrupt work).
    public static func peekTag(_ body: ByteBuffer) -> UInt8? {
        body.getInteger(at: body.readerIndex + 1, as: UInt8.self)
    }

    public func decode(_ body: ByteBuffer) throws(BoltRequestError) -> BoltRequest {
        var body = body
        let tag: UInt8
        var fields: [Value] = []
        do {
            let header = try packStream.readStructHeader(from: &body)
            tag = header.tag
            guard header.fieldCount <= body.readableBytes else { throw PackStreamError("truncated message") }
            for _ in 0..<header.fieldCount {
                fields.append(try packStream.readValue(from: &body))
            }
            guard body.readableBytes == 0 else {
                throw PackStreamError("\(body.readableBytes) unexpected bytes after the message")
            }
        } catch let e as PackStreamError {
            throw BoltRequestError(fatal: true, .invalidFormat, "Malformed message: \(e.message)")
        } catch {
            throw BoltRequestError(fatal: true, .invalidFormat, "Malformed message: \(error)")
        }
        return try request(tag: tag, fields: fields)
    }

    func request(tag: UInt8, fields: [Value]) throws(BoltRequestError) -> BoltRequest {
        func arity(_ name: String, _ n: Int) throws(BoltRequestError) {
            guard fields.count == n else {
                throw BoltRequestError(fatal: true, .invalidFormat,
                    "\(name) message must have \(n) field\(n == 1 ? "" : "s"), found \(fields.count)")
            }
        }
        func map(_ i: Int, _ name: String) throws(BoltRequestError) -> [String: Value] {
            if case .map(let m) = fields[i] { return m }
            if case .null = fields[i] { return [:] }
            throw BoltRequestError(fatal: true, .invalidFormat, "\(name): expected a map")
        }
        switch tag {
        case 0x01:
            try arity("HELLO", 1)
            let extra = try map(0, "HELLO")
            let auth = version.hasLogon ? nil : try authToken(extra, optional: true)
            let routing: [String: String]?
            switch extra["routing"] {
            case nil, .null?: routing = nil
            case .map(let m)?: routing = try stringMap(m, "HELLO routing")
            default: throw invalid("HELLO routing must be a map")
            }
            var patchUTC = false
            if case .list(let patches)? = extra["patch_bolt"] {
                patchUTC = patches.contains(.string("utc"))
            }
            return .hello(userAgent: try optionalString(extra, "user_agent") ?? "", routing: routing,
                patchUTC: patchUTC, auth: auth)
        case 0x6A where version.hasLogon:
            try arity("LOGON", 1)
            return .logon(try authToken(try map(0, "LOGON"), optional: false)!)
        case 0x6B where version.hasLogon:
            try arity("LOGOFF", 0)
            return .logoff
        case 0x02:
            try arity("GOODBYE", 0)
            return .goodbye
        case 0x0F:
            try arity("RESET", 0)
            return .reset
        case 0x10:
            try arity("RUN", 3)
            guard case .string(let query) = fields[0] else { throw invalid("RUN: the query must be a string") }
            let params = try map(1, "RUN parameters")
            return .run(query: query, parameters: params, options: try transactionOptions(try map(2, "RUN")))
        case 0x11:
            try arity("BEGIN", 1)
            return .begin(try transactionOptions(try map(0, "BEGIN")))
        case 0x12:
            try arity("COMMIT", 0)
            return .commit
        case 0x13:
            try arity("ROLLBACK", 0)
            return .rollback
        case 0x3F, 0x2F:
            let name = tag == 0x3F ? "PULL" : "DISCARD"
            try arity(name, 1)
            let extra = try map(0, name)
            guard case .integer(let n)? = extra["n"] else { throw invalid("\(name): 'n' must be an integer") }
            guard n == -1 || n > 0 else { throw invalid("\(name): 'n' must be -1 or positive, got \(n)") }
            var qid: Int64 = -1
            switch extra["qid"] {
            case nil, .null?: break
            case .integer(let q)?: qid = q
            default: throw invalid("\(name): 'qid' must be an integer")
            }
            return tag == 0x3F ? .pull(n: n, qid: qid) : .discard(n: n, qid: qid)
        case 0x66:
            try arity("ROUTE", 3)
            let context = try stringMap(try map(0, "ROUTE routing"), "ROUTE routing")
            var bookmarks: [String] = []
            switch fields[1] {
            case .null: break
            case .list(let l): bookmarks = try strings(l, "ROUTE bookmarks")
            default: throw invalid("ROUTE bookmarks must be a list")
            }
            var database: String?
            var impersonated: String?
            switch fields[2] {
            case .null: break
            case .string(let s): database = s  // Bolt 4.3 form
            case .map(let extra):
                database = try optionalString(extra, "db")
                impersonated = try optionalString(extra, "imp_user")
            default: throw invalid("ROUTE: the third field must be a map")
            }
            if database == "" { database = nil }
            return .route(context: context, bookmarks: bookmarks, database: database, impersonatedUser: impersonated)
        case 0x54 where version.hasTelemetry:
            try arity("TELEMETRY", 1)
            guard case .integer(let api) = fields[0] else { throw invalid("TELEMETRY: api must be an integer") }
            return .telemetry(api: api)
        default:
            throw BoltRequestError(fatal: true, .invalidFormat,
                "Unknown message 0x\(hex(tag)) for Bolt \(version)")
        }
    }

    func invalid(_ message: String) -> BoltRequestError {
        BoltRequestError(fatal: false, .invalidRequest, message)
    }

    func optionalString(_ map: [String: Value], _ key: String) throws(BoltRequestError) -> String? {
        switch map[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw invalid("'\(key)' must be a string")
        }
    }

    func strings(_ list: [Value], _ what: String) throws(BoltRequestError) -> [String] {
        var out: [String] = []
        for v in list {
            guard case .string(let s) = v else { throw invalid("\(what) must be strings") }
            out.append(s)
        }
        return out
    }

    func stringMap(_ map: [String: Value], _ what: String) throws(BoltRequestError) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in map {
            switch v {
            case .string(let s): out[k] = s
            case .null: continue
            case .integer(let i): out[k] = String(i)
            case .boolean(let b): out[k] = String(b)
            default: throw invalid("\(what) values must be strings")
            }
        }
        return out
    }

    func authToken(_ map: [String: Value], optional: Bool) throws(BoltRequestError) -> AuthToken? {
        guard let scheme = try optionalString(map, "scheme") else {
            if optional { return nil }
            // The Python driver with `auth=None` sends LOGON {}: that is the "none" scheme.
            return AuthToken(scheme: "none")
        }
        return AuthToken(scheme: scheme, principal: try optionalString(map, "principal"),
            credentials: try optionalString(map, "credentials"))
    }

    /// RUN/BEGIN extra (bolt.md §4): bookmarks, tx_timeout (ms), tx_metadata, mode, db, imp_user.
    func transactionOptions(_ extra: [String: Value]) throws(BoltRequestError) -> TransactionOptions {
        var options = TransactionOptions()
        switch extra["bookmarks"] {
        case nil, .null?: break
        case .list(let l)?: options.bookmarks = try strings(l, "bookmarks")
        default: throw invalid("'bookmarks' must be a list of strings")
        }
        switch extra["tx_timeout"] {
        case nil, .null?: break
        case .integer(let ms)?:
            guard ms >= 0 else { throw invalid("'tx_timeout' must not be negative") }
            // 0 means "no timeout" for the drivers' configuration: leave it to the server default.
            if ms > 0 { options.timeout = .milliseconds(ms) }
        default: throw invalid("'tx_timeout' must be an integer (milliseconds)")
        }
        switch extra["tx_metadata"] {
        case nil, .null?: break
        case .map(let m)?: options.metadata = m
        default: throw invalid("'tx_metadata' must be a map")
        }
        switch try optionalString(extra, "mode") {
        case nil, "w"?: options.mode = .write
        case "r"?: options.mode = .read
        case let other?: throw invalid("'mode' must be \"r\" or \"w\", got \"\(other)\"")
        }
        let db = try optionalString(extra, "db")
        options.database = db == "" ? nil : db
        options.impersonatedUser = try optionalString(extra, "imp_user")
        return options
    }
}
