/// Where a request goes, decided from its path alone (the method is checked by the handler of each route).
///
/// `database` is nil on the Neo4j 3.x paths (`/db/data/transaction…`), which always address the default database,
/// and the name from the path on the 4.x+ paths (`/db/{name}/tx…`).
enum Route: Equatable, Sendable {
    case discovery
    case legacyServiceRoot
    case browser
    /// `…/transaction` or `…/tx`: begin (POST).
    case beginTransaction(database: String?)
    /// `…/commit` without an id: begin, run and commit in one request (POST).
    case commitImplicit(database: String?)
    /// `…/{id}`: run more statements (POST) or roll back (DELETE). `id` is nil when not a number.
    case transaction(database: String?, id: Int64?)
    /// `…/{id}/commit` (POST).
    case commitTransaction(database: String?, id: Int64?)
    case haDiscovery
    case haStatus(HAStatusEndpoint)
    case user(name: String)
    case userPassword(name: String)
    case queryV2(database: String)
    case queryV2Begin(database: String)
    case queryV2Transaction(database: String, id: Int64?)
    case queryV2Commit(database: String, id: Int64?)
    case notFound

    /// Parses the path part of a request URI (without the query string). Empty segments are ignored, so
    /// `/db/data/` and `/db/data` are the same resource, as in Neo4j.
    init(path: String) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map { Self.percentDecoded($0) }
        self = Self.route(segments)
    }

    private static func route(_ s: [String]) -> Route {
        switch s.count {
        case 0: return .discovery
        case 1 where s[0] == "browser": return .browser
        case 2 where s[0] == "user": return .user(name: s[1])
        case 3 where s[0] == "user" && s[2] == "password": return .userPassword(name: s[1])
        default: break
        }
        guard s.count >= 2, s[0] == "db" else { return .notFound }
        if s[1] == "data" {
            if s.count == 2 { return .legacyServiceRoot }
            if s[2] == "transaction" { return transactionRoute(Array(s[3...]), database: nil) }
            return .notFound
        }
        if s[1] == "manage" {
            guard s.count >= 4, s[2] == "server", s[3] == "ha" else { return .notFound }
            if s.count == 4 { return .haDiscovery }
            if s.count == 5, let endpoint = HAStatusEndpoint(rawValue: s[4]) { return .haStatus(endpoint) }
            return .notFound
        }
        guard s.count >= 3 else { return .notFound }
        let database = s[1]
        if s[2] == "tx" { return transactionRoute(Array(s[3...]), database: database) }
        if s[2] == "query", s.count >= 4, s[3] == "v2" {
            let rest = Array(s[4...])
            switch rest.count {
            case 0: return .queryV2(database: database)
            case 1 where rest[0] == "tx": return .queryV2Begin(database: database)
            case 2 where rest[0] == "tx": return .queryV2Transaction(database: database, id: Int64(rest[1]))
            case 3 where rest[0] == "tx" && rest[2] == "commit":
                return .queryV2Commit(database: database, id: Int64(rest[1]))
            default: return .notFound
            }
        }
        return .notFound
    }

    private static func transactionRoute(_ rest: [String], database: String?) -> Route {
        switch rest.count {
        case 0: return .beginTransaction(database: database)
        case 1 where rest[0] == "commit": return .commitImplicit(database: database)
        case 1: return .transaction(database: database, id: Self.transactionID(rest[0]))
        case 2 where rest[1] == "commit": return .commitTransaction(database: database, id: Self.transactionID(rest[0]))
        default: return .notFound
        }
    }

    private static func transactionID(_ text: String) -> Int64? {
        guard let id = Int64(text), id > 0 else { return nil }
        return id
    }

    /// Decodes `%XX` escapes (database and user names may hold characters that need them).
    static func percentDecoded(_ segment: Substring) -> String {
        guard segment.contains("%") else { return String(segment) }
        var bytes: [UInt8] = []
        var utf8 = Array(segment.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
