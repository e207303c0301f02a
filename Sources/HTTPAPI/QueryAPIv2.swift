import GraphValues
import NIOHTTP1
import TrellisService

/// The Query API v2 (http-api.md §8), which the Python 6.x driver uses for `http://` URIs.
///
/// - `POST /db/{db}/query/v2`: one statement in an implicit (auto-commit) transaction.
/// - `POST …/query/v2/tx` begins, `POST …/tx/{id}` runs one statement, `POST …/tx/{id}/commit` commits (with an
///   optional last statement), `DELETE …/tx/{id}` rolls back. Explicit transactions share the registry (ids, idle
///   expiry, ownership) with the transactional endpoint.
/// - Success is 202 Accepted; errors answer `{"errors":[…]}` with 400 for client errors, 404 for an unknown
///   transaction, 401/403 for auth, 500 otherwise. An error rolls back an explicit transaction.
/// - Values are typed JSON (`{"$type":…, "_value":…}`) when the request's Content-Type or Accept names
///   `application/vnd.neo4j.query`, plain JSON otherwise. Parameters are accepted in either form.
extension APIResponder {
    func queryAPIv2(_ route: Route, _ request: APIRequest) -> APIResponse {
        switch route {
        case .queryV2, .queryV2Begin, .queryV2Commit:
            guard request.method == .POST else { return methodNotAllowed(["POST"]) }
        case .queryV2Transaction:
            guard request.method == .POST || request.method == .DELETE else {
                return methodNotAllowed(["POST", "DELETE"])
            }
        default:
            preconditionFailure("not a Query API route: \(route)")
        }
        let typed = [request.headers.first(name: "Content-Type"), request.headers.first(name: "Accept")]
            .contains { $0?.lowercased().contains("application/vnd.neo4j.query") == true }
        return withUser(request) { user in
            let body: QueryV2Body
            do {
                body = try QueryV2Body(request.body)
            } catch {
                return Self.v2Errors([error], typed: typed)
            }
            switch route {
            case .queryV2(let database):
                return v2Implicit(body, user: user, database: database, typed: typed)
            case .queryV2Begin(let database):
                return v2Begin(body, user: user, database: database, typed: typed)
            case .queryV2Transaction(let database, let id):
                if request.method == .DELETE { return v2Rollback(user: user, database: database, id: id, typed: typed) }
                return v2Run(body, user: user, database: database, id: id, typed: typed, commit: false)
            case .queryV2Commit(let database, let id):
                return v2Run(body, user: user, database: database, id: id, typed: typed, commit: true)
            default:
                preconditionFailure("not a Query API route: \(route)")
            }
        }
    }

    // MARK: - Actions

    private func options(_ body: QueryV2Body, database: String) -> TransactionOptions {
        TransactionOptions(
            mode: body.accessMode, bookmarks: body.bookmarks, database: database, impersonatedUser: body.impersonatedUser)
    }

    private func v2Implicit(_ body: QueryV2Body, user: AuthenticatedUser, database: String, typed: Bool)
        -> APIResponse
    {
        guard let statement = body.statement else {
            return Self.v2Errors([DatabaseError(.invalidFormat, "The request needs a 'statement'.")], typed: typed)
        }
        let session = service.openSession(user: user)
        defer { session.close() }
        var w = JSONWriter()
        do {
            // No explicit transaction is open, so the session runs it as auto-commit; the summary carries
            // the bookmark once the rows are consumed.
            let cursor = try session.run(statement, parameters: body.parameters, options: options(body, database: database))
            w.raw("{")
            let summary = try writeResult(cursor, typed: typed, includeCounters: body.includeCounters, into: &w)
            w.raw(",\"bookmarks\":[")
            if let bookmark = summary.bookmark { w.string(bookmark) }
            w.raw("]}")
        } catch {
            return Self.v2Errors([error], typed: typed)
        }
        return v2Response(w, typed: typed)
    }

    private func v2Begin(_ body: QueryV2Body, user: AuthenticatedUser, database: String, typed: Bool) -> APIResponse {
        let session = service.openSession(user: user)
        do {
            try session.beginTransaction(options(body, database: database))
        } catch {
            session.close()
            return Self.v2Errors([error], typed: typed)
        }
        let transaction = OpenTransaction(session: session, owner: user.username, database: database)
        guard let id = registry.register(transaction, now: .now) else {
            transaction.abandon()
            return Self.v2Errors(
                [DatabaseError("Neo.TransientError.Request.ResourceExhaustion", "Too many open HTTP transactions.")],
                typed: typed)
        }
        var w = JSONWriter()
        w.raw("{")
        if let statement = body.statement {
            do {
                let cursor = try session.run(statement, parameters: body.parameters, options: TransactionOptions())
                _ = try writeResult(cursor, typed: typed, includeCounters: body.includeCounters, into: &w)
                w.comma()
            } catch {
                registry.remove(id: id)
                transaction.abandon()
                return Self.v2Errors([error], typed: typed)
            }
        }
        registry.release(id: id, now: .now)
        writeTransaction(id: id, into: &w)
        w.raw("}")
        return v2Response(w, typed: typed)
    }

    private func v2Run(
        _ body: QueryV2Body, user: AuthenticatedUser, database: String, id: Int64?, typed: Bool, commit: Bool
    ) -> APIResponse {
        guard let id else { return Self.notFoundResponse() }
        let transaction: OpenTransaction
        switch registry.acquire(id: id, user: user.username, database: database, now: .now) {
        case .acquired(let acquired): transaction = acquired
        case .notFound: return Self.notFoundResponse()
        case .busy:
            return Self.v2Errors(
                [
                    DatabaseError(
                        "Neo.ClientError.Transaction.TransactionAccessedConcurrently",
                        "The transaction is being used by another request.")
                ], typed: typed)
        }
        var w = JSONWriter()
        w.raw("{")
        if let statement = body.statement {
            do {
                let cursor = try transaction.session.run(
                    statement, parameters: body.parameters, options: TransactionOptions(database: database))
                _ = try writeResult(cursor, typed: typed, includeCounters: body.includeCounters, into: &w)
                w.comma()
            } catch {
                registry.remove(id: id)
                transaction.abandon()
                return Self.v2Errors([error], typed: typed)
            }
        } else if !commit {
            registry.release(id: id, now: .now)
            return Self.v2Errors([DatabaseError(.invalidFormat, "The request needs a 'statement'.")], typed: typed)
        }
        if !commit {
            registry.release(id: id, now: .now)
            writeTransaction(id: id, into: &w)
            w.raw("}")
            return v2Response(w, typed: typed)
        }
        registry.remove(id: id)
        defer { transaction.session.close() }
        do {
            let bookmark = try transaction.session.commit()
            w.raw("\"bookmarks\":[")
            w.string(bookmark)
            w.raw("]}")
        } catch {
            try? transaction.session.rollback()
            return Self.v2Errors([error], typed: typed)
        }
        return v2Response(w, typed: typed)
    }

    private func v2Rollback(user: AuthenticatedUser, database: String, id: Int64?, typed: Bool) -> APIResponse {
        guard let id else { return Self.notFoundResponse() }
        guard case .acquired(let transaction) = registry.acquire(
            id: id, user: user.username, database: database, now: .now)
        else { return Self.notFoundResponse() }
        registry.remove(id: id)
        defer { transaction.session.close() }
        do {
            try transaction.session.rollback()
        } catch {
            return Self.v2Errors([error], typed: typed)
        }
        var w = JSONWriter()
        w.raw("{}")
        return v2Response(w, typed: typed)
    }

    // MARK: - Encoding

    /// Writes `"data":{"fields":[…],"values":[[…],…]}` and, when asked, `"counters"`; returns the summary.
    private func writeResult(_ cursor: ResultCursor, typed: Bool, includeCounters: Bool, into w: inout JSONWriter)
        throws -> ResultSummary
    {
        var body = JSONWriter()
        body.raw("\"data\":{\"fields\":[")
        for (i, column) in cursor.columns.enumerated() {
            if i > 0 { body.comma() }
            body.string(column)
        }
        body.raw("],\"values\":[")
        var first = true
        while let row = try cursor.next() {
            if !first { body.comma() }
            first = false
            body.raw("[")
            for (i, value) in row.enumerated() {
                if i > 0 { body.comma() }
                if typed { body.typedV2(value) } else { body.plainV2(value) }
            }
            body.raw("]")
        }
        body.raw("]}")
        let summary = try cursor.summary()
        if includeCounters {
            body.raw(",\"counters\":")
            body.countersV2(summary.statistics)
        }
        body.notifications(summary.notifications)
        w.bytes += body.bytes
        return summary
    }

    private func writeTransaction(id: Int64, into w: inout JSONWriter) {
        let expires = wallClockEpochSeconds() + registry.idleTimeout.components.seconds
        w.raw("\"transaction\":{\"id\":")
        w.string(String(id))
        w.raw(",\"expires\":")
        w.string(HTTPDate.iso8601(epochSeconds: expires))
        w.raw("}")
    }

    private func v2Response(_ w: JSONWriter, typed: Bool) -> APIResponse {
        APIResponse(
            status: .accepted, contentType: typed ? "application/vnd.neo4j.query" : "application/json",
            body: w.bytes)
    }

    static func v2Errors(_ errors: [any Error], typed: Bool) -> APIResponse {
        let converted = errors.map(databaseError)
        let status: HTTPResponseStatus =
            converted.contains { $0.code.classification != "ClientError" } ? .internalServerError : .badRequest
        var response = APIResponse.errors(status, converted)
        if typed { response.headers.replaceOrAdd(name: "Content-Type", value: "application/vnd.neo4j.query") }
        return response
    }
}

/// A Query API request body.
struct QueryV2Body {
    var statement: String?
    var parameters: [String: Value] = [:]
    var includeCounters = false
    var accessMode: AccessMode = .write
    var bookmarks: [String] = []
    var impersonatedUser: String?

    init(_ bytes: [UInt8]) throws {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return }
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw DatabaseError(.invalidFormat, "Unable to parse the request body: \(error).")
        }
        guard case .object(let fields) = json else {
            throw DatabaseError(.invalidFormat, "The request body must be a JSON object.")
        }
        switch fields["statement"] {
        case nil, .null?: break
        case .string(let text)?: statement = text
        default: throw DatabaseError(.invalidFormat, "'statement' must be a string.")
        }
        switch fields["parameters"] {
        case nil, .null?: break
        case .object(let members)?: parameters = try members.mapValues { try Value(queryJSON: $0) }
        default: throw DatabaseError(.invalidFormat, "'parameters' must be a map.")
        }
        switch fields["includeCounters"] {
        case nil, .null?: break
        case .bool(let flag)?: includeCounters = flag
        default: throw DatabaseError(.invalidFormat, "'includeCounters' must be a boolean.")
        }
        switch fields["accessMode"]?.stringValue?.lowercased() {
        case nil: break
        case "read"?: accessMode = .read
        case "write"?: accessMode = .write
        default: throw DatabaseError(.invalidFormat, "'accessMode' must be \"Read\" or \"Write\".")
        }
        switch fields["bookmarks"] {
        case nil, .null?: break
        case .array(let items)? where items.allSatisfy({ $0.stringValue != nil }):
            bookmarks = items.compactMap(\.stringValue)
        default: throw DatabaseError(.invalidFormat, "'bookmarks' must be a list of strings.")
        }
        impersonatedUser = fields["impersonatedUser"]?.stringValue
    }
}

// MARK: - Query API values

extension Value {
    /// A parameter in plain or typed JSON: `{"$type": T, "_value": v}` objects are decoded by type, other objects
    /// are maps (whose members may again be typed).
    init(queryJSON json: JSONValue) throws {
        switch json {
        case .object(let members):
            if let type = members["$type"]?.stringValue, let value = members["_value"], members.count == 2 {
                self = try Value.typedV2(type: type, value: value)
            } else {
                self = .map(try members.mapValues { try Value(queryJSON: $0) })
            }
        case .array(let items): self = .list(try items.map { try Value(queryJSON: $0) })
        default: self = Value(json: json)
        }
    }

    private static func typedV2(type: String, value: JSONValue) throws -> Value {
        func text() throws(DatabaseError) -> String {
            guard let s = value.stringValue else {
                throw DatabaseError(.invalidFormat, "A \(type) value must be given as a string.")
            }
            return s
        }
        do {
            switch type {
            case "Null": return .null
            case "Boolean":
                guard case .bool(let b) = value else { throw DatabaseError(.invalidFormat, "Boolean needs true/false.") }
                return .boolean(b)
            case "Integer":
                if case .int(let i) = value { return .integer(i) }
                guard let i = Int64(try text()) else { throw DatabaseError(.invalidFormat, "Invalid Integer.") }
                return .integer(i)
            case "Float":
                if case .double(let d) = value { return .float(d) }
                if case .int(let i) = value { return .float(Double(i)) }
                let s = try text()
                switch s {
                case "NaN": return .float(.nan)
                case "Infinity": return .float(.infinity)
                case "-Infinity": return .float(-.infinity)
                default:
                    guard let d = Double(s) else { throw DatabaseError(.invalidFormat, "Invalid Float.") }
                    return .float(d)
                }
            case "String": return .string(try text())
            case "Base64":
                guard let bytes = Base64.decode(try text()) else { throw DatabaseError(.invalidFormat, "Invalid Base64.") }
                return .bytes(bytes)
            case "List":
                guard case .array(let items) = value else { throw DatabaseError(.invalidFormat, "List needs an array.") }
                return .list(try items.map { try Value(queryJSON: $0) })
            case "Map":
                guard case .object(let members) = value else { throw DatabaseError(.invalidFormat, "Map needs an object.") }
                return .map(try members.mapValues { try Value(queryJSON: $0) })
            case "Date": return .date(try TemporalParser.date(try text()))
            case "LocalTime": return .localTime(try TemporalParser.localTime(try text()))
            case "Time": return .time(try TemporalParser.time(try text(), defaultZone: .offset(0), now: wallClockEpochSeconds()))
            case "LocalDateTime": return .localDateTime(try TemporalParser.localDateTime(try text()))
            case "OffsetDateTime", "ZonedDateTime", "DateTime":
                return .dateTime(try TemporalParser.dateTime(try text(), defaultZone: .offset(0)))
            case "Duration": return .duration(try TemporalParser.duration(try text()))
            case "Point": return .point(try parseWKTPoint(try text()))
            default:
                throw DatabaseError(.invalidFormat, "Unsupported parameter type '\(type)'.")
            }
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw DatabaseError(.invalidFormat, "Invalid \(type) value: \(error).")
        }
    }

    /// `SRID=7203;POINT (1.5 2.0)` or `SRID=4979;POINT Z (1 2 3)`.
    private static func parseWKTPoint(_ text: String) throws(DatabaseError) -> CypherPoint {
        let invalid = DatabaseError(.invalidFormat, "Invalid Point '\(text)'; expected SRID=n;POINT (x y).")
        let parts = text.split(separator: ";", maxSplits: 1)
        guard parts.count == 2, parts[0].uppercased().hasPrefix("SRID="), let srid = Int32(parts[0].dropFirst(5)),
            let open = parts[1].firstIndex(of: "("), let close = parts[1].lastIndex(of: ")"), open < close
        else { throw invalid }
        let coordinates = parts[1][parts[1].index(after: open)..<close].split(separator: " ").compactMap { Double($0) }
        switch coordinates.count {
        case 2: return CypherPoint(srid: srid, x: coordinates[0], y: coordinates[1])
        case 3: return CypherPoint(srid: srid, x: coordinates[0], y: coordinates[1], z: coordinates[2])
        default: throw invalid
        }
    }
}

extension JSONWriter {
    /// Typed JSON (`application/vnd.neo4j.query`): every value is `{"$type": T, "_value": v}`.
    mutating func typedV2(_ value: Value) {
        func open(_ type: StaticString) {
            raw("{\"$type\":\"")
            raw(type)
            raw("\",\"_value\":")
        }
        switch value {
        case .null: raw("{\"$type\":\"Null\",\"_value\":null}"); return
        case .boolean(let b): open("Boolean"); bool(b)
        case .integer(let i): open("Integer"); string(String(i))
        case .float(let d):
            open("Float")
            if d.isNaN { string("NaN") } else if d.isInfinite { string(d < 0 ? "-Infinity" : "Infinity") } else {
                string(String(d))
            }
        case .string(let s): open("String"); string(s)
        case .bytes(let b): open("Base64"); string(Base64.encode(b))
        case .list(let items):
            open("List")
            raw("[")
            for (i, item) in items.enumerated() {
                if i > 0 { comma() }
                typedV2(item)
            }
            raw("]")
        case .map(let members):
            open("Map")
            typedMapV2(members)
        case .node(let node):
            open("Node")
            typedNodeV2(node)
        case .relationship(let rel):
            open("Relationship")
            typedRelationshipV2(rel)
        case .path(let path):
            open("Path")
            raw("[")
            for (i, node) in path.nodes.enumerated() {
                if i > 0 {
                    comma()
                    raw("{\"$type\":\"Relationship\",\"_value\":")
                    typedRelationshipV2(path.relationships[i - 1])
                    raw("}")
                    comma()
                }
                raw("{\"$type\":\"Node\",\"_value\":")
                typedNodeV2(node)
                raw("}")
            }
            raw("]")
        case .date(let d): open("Date"); string(d.cypherString)
        case .localTime(let t): open("LocalTime"); string(t.cypherString)
        case .time(let t): open("Time"); string(t.cypherString)
        case .localDateTime(let dt): open("LocalDateTime"); string(dt.cypherString)
        case .dateTime(let dt):
            if dt.zoneId != nil { open("ZonedDateTime") } else { open("OffsetDateTime") }
            string(dt.cypherString)
        case .duration(let d): open("Duration"); string(d.cypherString)
        case .point(let p): open("Point"); string(Self.wkt(p))
        }
        raw("}")
    }

    static func wkt(_ p: CypherPoint) -> String {
        if let z = p.z { return "SRID=\(p.srid);POINT Z (\(p.x) \(p.y) \(z))" }
        return "SRID=\(p.srid);POINT (\(p.x) \(p.y))"
    }

    private mutating func typedMapV2(_ members: [String: Value]) {
        raw("{")
        for (i, k) in members.keys.sorted().enumerated() {
            if i > 0 { comma() }
            key(k)
            typedV2(members[k]!)
        }
        raw("}")
    }

    private mutating func typedNodeV2(_ node: NodeValue) {
        raw("{\"_element_id\":")
        string(node.elementId)
        raw(",\"_labels\":[")
        for (i, label) in node.labels.enumerated() {
            if i > 0 { comma() }
            string(label)
        }
        raw("],\"_properties\":")
        typedMapV2(node.properties)
        raw("}")
    }

    private mutating func typedRelationshipV2(_ rel: RelationshipValue) {
        raw("{\"_element_id\":")
        string(rel.elementId)
        raw(",\"_start_node_element_id\":")
        string(rel.startNodeElementId)
        raw(",\"_end_node_element_id\":")
        string(rel.endNodeElementId)
        raw(",\"_type\":")
        string(rel.type)
        raw(",\"_properties\":")
        typedMapV2(rel.properties)
        raw("}")
    }

    /// Plain JSON for the Query API: entities as `{elementId, labels, properties}` objects, paths as lists of
    /// them, other values as in the row format.
    mutating func plainV2(_ value: Value) {
        switch value {
        case .list(let items):
            raw("[")
            for (i, item) in items.enumerated() {
                if i > 0 { comma() }
                plainV2(item)
            }
            raw("]")
        case .map(let members):
            raw("{")
            for (i, k) in members.keys.sorted().enumerated() {
                if i > 0 { comma() }
                key(k)
                plainV2(members[k]!)
            }
            raw("}")
        case .node(let node):
            plainNodeV2(node)
        case .relationship(let rel):
            plainRelationshipV2(rel)
        case .path(let path):
            raw("[")
            for (i, node) in path.nodes.enumerated() {
                if i > 0 {
                    comma()
                    plainRelationshipV2(path.relationships[i - 1])
                    comma()
                }
                plainNodeV2(node)
            }
            raw("]")
        case .point(let p): string(Self.wkt(p))
        default: row(value)
        }
    }

    private mutating func plainNodeV2(_ node: NodeValue) {
        raw("{\"elementId\":")
        string(node.elementId)
        raw(",\"labels\":[")
        for (i, label) in node.labels.enumerated() {
            if i > 0 { comma() }
            string(label)
        }
        raw("],\"properties\":")
        plainV2(.map(node.properties))
        raw("}")
    }

    private mutating func plainRelationshipV2(_ rel: RelationshipValue) {
        raw("{\"elementId\":")
        string(rel.elementId)
        raw(",\"startNodeElementId\":")
        string(rel.startNodeElementId)
        raw(",\"endNodeElementId\":")
        string(rel.endNodeElementId)
        raw(",\"type\":")
        string(rel.type)
        raw(",\"properties\":")
        plainV2(.map(rel.properties))
        raw("}")
    }

    /// Query API counters, camelCase as the v2 responses spell them.
    mutating func countersV2(_ s: QueryStatistics) {
        raw("{\"containsUpdates\":")
        bool(s.containsUpdates)
        let counters: [(StaticString, Int)] = [
            ("nodesCreated", s.nodesCreated), ("nodesDeleted", s.nodesDeleted), ("propertiesSet", s.propertiesSet),
            ("relationshipsCreated", s.relationshipsCreated), ("relationshipsDeleted", s.relationshipsDeleted),
            ("labelsAdded", s.labelsAdded), ("labelsRemoved", s.labelsRemoved), ("indexesAdded", s.indexesAdded),
            ("indexesRemoved", s.indexesRemoved), ("constraintsAdded", s.constraintsAdded),
            ("constraintsRemoved", s.constraintsRemoved),
        ]
        for (name, count) in counters {
            raw(",\"")
            raw(name)
            raw("\":")
            int(count)
        }
        raw(",\"containsSystemUpdates\":")
        bool(s.systemUpdates > 0)
        raw(",\"systemUpdates\":")
        int(s.systemUpdates)
        raw("}")
    }
}
