import GraphValues
import TrellisService

// MARK: - Parameters: JSON → Value

extension Value {
    /// A request parameter. JSON has no entity or temporal types, so parameters are scalars, lists and maps.
    init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .boolean(b)
        case .int(let i): self = .integer(i)
        case .double(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(Value.init(json:)))
        case .object(let members): self = .map(members.mapValues(Value.init(json:)))
        }
    }
}

// MARK: - Row format (http-api.md §4)

extension JSONWriter {
    /// The "row" representation: entities become their property maps, a path an alternating list of them,
    /// temporal values ISO strings, points GeoJSON-like objects (as Neo4j 3.4+ renders them).
    mutating func row(_ value: Value) {
        switch value {
        case .null: null()
        case .boolean(let b): bool(b)
        case .integer(let i): int(i)
        case .float(let d): double(d)
        case .string(let s): string(s)
        case .bytes(let b): string(Base64.encode(b))
        case .list(let items):
            raw("[")
            for (i, item) in items.enumerated() {
                if i > 0 { comma() }
                row(item)
            }
            raw("]")
        case .map(let members): propertyMap(members)
        case .node(let node): propertyMap(node.properties)
        case .relationship(let rel): propertyMap(rel.properties)
        case .path(let path):
            raw("[")
            for (i, node) in path.nodes.enumerated() {
                if i > 0 {
                    comma()
                    propertyMap(path.relationships[i - 1].properties)
                    comma()
                }
                propertyMap(node.properties)
            }
            raw("]")
        case .point(let point): self.point(point)
        case .date, .localTime, .time, .localDateTime, .dateTime, .duration:
            string(TemporalText.format(value) ?? "")
        }
    }

    /// Keys sorted so the output is stable from run to run.
    mutating func propertyMap(_ members: [String: Value]) {
        raw("{")
        for (i, k) in members.keys.sorted().enumerated() {
            if i > 0 { comma() }
            key(k)
            row(members[k]!)
        }
        raw("}")
    }

    mutating func point(_ point: CypherPoint) {
        raw("{\"type\":\"Point\",\"coordinates\":[")
        double(point.x)
        comma()
        double(point.y)
        if let z = point.z {
            comma()
            double(z)
        }
        raw("],\"crs\":{\"srid\":")
        int(Int64(point.srid))
        raw(",\"name\":")
        string(CRSName.name(srid: point.srid))
        raw(",\"type\":\"link\",\"properties\":{\"href\":")
        string("http://spatialreference.org/ref/\(point.srid == 4326 || point.srid == 4979 ? "epsg" : "sr-org")/\(point.srid)/ogcwkt/")
        raw(",\"type\":\"ogcwkt\"}}}")
    }

    /// The "meta" entry parallel to a row value: `{id, elementId, type, deleted}` for entities, a list for paths
    /// and lists, a type tag for temporal and spatial values, null for everything else.
    mutating func meta(_ value: Value) {
        switch value {
        case .node(let node): entityMeta(id: node.id, elementId: node.elementId, type: "node")
        case .relationship(let rel): entityMeta(id: rel.id, elementId: rel.elementId, type: "relationship")
        case .path(let path):
            raw("[")
            for (i, node) in path.nodes.enumerated() {
                if i > 0 {
                    comma()
                    let rel = path.relationships[i - 1]
                    entityMeta(id: rel.id, elementId: rel.elementId, type: "relationship")
                    comma()
                }
                entityMeta(id: node.id, elementId: node.elementId, type: "node")
            }
            raw("]")
        case .list(let items):
            raw("[")
            for (i, item) in items.enumerated() {
                if i > 0 { comma() }
                meta(item)
            }
            raw("]")
        case .date: raw("{\"type\":\"date\"}")
        case .localTime: raw("{\"type\":\"localtime\"}")
        case .time: raw("{\"type\":\"time\"}")
        case .localDateTime: raw("{\"type\":\"localdatetime\"}")
        case .dateTime: raw("{\"type\":\"datetime\"}")
        case .duration: raw("{\"type\":\"duration\"}")
        case .point: raw("{\"type\":\"point\"}")
        case .null, .boolean, .integer, .float, .string, .bytes, .map: null()
        }
    }

    private mutating func entityMeta(id: Int64, elementId: String, type: StaticString) {
        raw("{\"id\":")
        int(id)
        raw(",\"elementId\":")
        string(elementId)
        raw(",\"type\":\"")
        raw(type)
        raw("\",\"deleted\":false}")
    }

    /// The "graph" representation of one row: its nodes and relationships, each once, ids as strings.
    mutating func graph(_ values: [Value]) {
        var collector = GraphCollector()
        for value in values { collector.collect(value) }
        raw("{\"nodes\":[")
        for (i, node) in collector.nodes.enumerated() {
            if i > 0 { comma() }
            raw("{\"id\":")
            string(String(node.id))
            raw(",\"elementId\":")
            string(node.elementId)
            raw(",\"labels\":[")
            for (j, label) in node.labels.enumerated() {
                if j > 0 { comma() }
                string(label)
            }
            raw("],\"properties\":")
            propertyMap(node.properties)
            raw("}")
        }
        raw("],\"relationships\":[")
        for (i, rel) in collector.relationships.enumerated() {
            if i > 0 { comma() }
            raw("{\"id\":")
            string(String(rel.id))
            raw(",\"elementId\":")
            string(rel.elementId)
            raw(",\"type\":")
            string(rel.type)
            raw(",\"startNode\":")
            string(String(rel.startNodeId))
            raw(",\"startNodeElementId\":")
            string(rel.startNodeElementId)
            raw(",\"endNode\":")
            string(String(rel.endNodeId))
            raw(",\"endNodeElementId\":")
            string(rel.endNodeElementId)
            raw(",\"properties\":")
            propertyMap(rel.properties)
            raw("}")
        }
        raw("]}")
    }

    /// Neo4j's `stats` object (http-api.md §4; the key `relationship_deleted` is spelled as Neo4j spells it).
    mutating func stats(_ s: QueryStatistics) {
        raw("{\"contains_updates\":")
        bool(s.containsUpdates)
        let counters: [(StaticString, Int)] = [
            ("nodes_created", s.nodesCreated), ("nodes_deleted", s.nodesDeleted),
            ("properties_set", s.propertiesSet), ("relationships_created", s.relationshipsCreated),
            ("relationship_deleted", s.relationshipsDeleted), ("labels_added", s.labelsAdded),
            ("labels_removed", s.labelsRemoved), ("indexes_added", s.indexesAdded),
            ("indexes_removed", s.indexesRemoved), ("constraints_added", s.constraintsAdded),
            ("constraints_removed", s.constraintsRemoved),
        ]
        for (name, count) in counters {
            raw(",\"")
            raw(name)
            raw("\":")
            int(count)
        }
        raw(",\"contains_system_updates\":")
        bool(s.systemUpdates > 0)
        raw(",\"system_updates\":")
        int(s.systemUpdates)
        raw("}")
    }

    /// `"notifications":[{code, severity, title, description}, …]` after a comma, or nothing when there are none
    /// (the transactional endpoint and Query API v2 report them alike).
    mutating func notifications(_ list: [Notification]) {
        guard !list.isEmpty else { return }
        raw(",\"notifications\":[")
        for (i, n) in list.enumerated() {
            if i > 0 { comma() }
            raw("{\"code\":")
            string(n.code)
            raw(",\"severity\":")
            string(n.severity)
            raw(",\"title\":")
            string(n.title)
            raw(",\"description\":")
            string(n.description)
            raw("}")
        }
        raw("]")
    }

    mutating func error(code: StatusCode, message: String) {
        raw("{\"code\":")
        string(code.rawValue)
        raw(",\"message\":")
        string(message)
        raw("}")
    }
}

/// Walks result values to find every node and relationship, keeping first-seen order and dropping repeats.
struct GraphCollector {
    private(set) var nodes: [NodeValue] = []
    private(set) var relationships: [RelationshipValue] = []
    private var seenNodes: Set<Int64> = []
    private var seenRelationships: Set<Int64> = []

    mutating func collect(_ value: Value) {
        switch value {
        case .node(let node): add(node)
        case .relationship(let rel): add(rel)
        case .path(let path):
            path.nodes.forEach { add($0) }
            path.relationships.forEach { add($0) }
        case .list(let items): items.forEach { collect($0) }
        case .map(let members): members.keys.sorted().forEach { collect(members[$0]!) }
        default: break
        }
    }

    private mutating func add(_ node: NodeValue) {
        if seenNodes.insert(node.id).inserted { nodes.append(node) }
    }

    private mutating func add(_ rel: RelationshipValue) {
        if seenRelationships.insert(rel.id).inserted { relationships.append(rel) }
    }
}

enum CRSName {
    static func name(srid: Int32) -> String {
        switch srid {
        case 7203: return "cartesian"
        case 9157: return "cartesian-3d"
        case 4326: return "wgs-84"
        case 4979: return "wgs-84-3d"
        default: return "srid-\(srid)"
        }
    }
}

// MARK: - Temporal text (ISO 8601, as Cypher's toString() writes it)

/// Temporal text is Cypher's `toString()` (GraphValues' `cypherString`), so HTTP and Cypher agree; the calendar
/// helpers here serve the HTTP dates below.
enum TemporalText {
    static func format(_ value: Value) -> String? {
        switch value {
        case .date(let d): return d.cypherString
        case .localTime(let t): return t.cypherString
        case .time(let t): return t.cypherString
        case .localDateTime(let dt): return dt.cypherString
        case .dateTime(let dt): return dt.cypherString
        case .duration(let d): return d.cypherString
        default: return nil
        }
    }

    /// Year, month, day from days since 1970-01-01 (Howard Hinnant's civil_from_days).
    static func civil(epochDays: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = epochDays + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

// MARK: - HTTP dates

/// Wall-clock text forms used by the API: `expires` (RFC 1123 with a numeric zone, as Neo4j writes it) and the
/// NCSA request-log timestamp.
enum HTTPDate {
    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func split(_ epochSeconds: Int64) -> (days: Int64, h: Int64, m: Int64, s: Int64) {
        let days = epochSeconds >= 0 ? epochSeconds / 86400 : (epochSeconds - 86399) / 86400
        let sod = epochSeconds - days * 86400
        return (days, sod / 3600, sod / 60 % 60, sod % 60)
    }

    /// `Mon, 27 Sep 2021 08:28:00 +0000`
    static func rfc1123(epochSeconds: Int64) -> String {
        let (days, h, m, s) = split(epochSeconds)
        let (year, month, day) = TemporalText.civil(epochDays: days)
        let weekday = weekdays[Int(((days % 7) + 7) % 7)]
        let p = TemporalText.pad
        return "\(weekday), \(p(day, 2)) \(months[Int(month - 1)]) \(year) \(p(h, 2)):\(p(m, 2)):\(p(s, 2)) +0000"
    }

    /// `2026-11-25T16:13:24Z` (the Query API's `expires`)
    static func iso8601(epochSeconds: Int64) -> String {
        let (days, h, m, s) = split(epochSeconds)
        let (year, month, day) = TemporalText.civil(epochDays: days)
        let p = TemporalText.pad
        return "\(p(year, 4))-\(p(month, 2))-\(p(day, 2))T\(p(h, 2)):\(p(m, 2)):\(p(s, 2))Z"
    }

    /// `25/Nov/2026:16:13:24 +0000`
    static func ncsa(epochSeconds: Int64) -> String {
        let (days, h, m, s) = split(epochSeconds)
        let (year, month, day) = TemporalText.civil(epochDays: days)
        let p = TemporalText.pad
        return "\(p(day, 2))/\(months[Int(month - 1)])/\(year):\(p(h, 2)):\(p(m, 2)):\(p(s, 2)) +0000"
    }
}

// MARK: - Base64

enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard alphabet with padding; nil for anything malformed.
    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            var sextets: [UInt32] = []
            var padding = 0
            for j in 0..<4 {
                let c = chars[i + j]
                if c == UInt8(ascii: "=") {
                    // Padding only at the very end, at most two characters.
                    guard i + 4 == chars.count, j >= 2 else { return nil }
                    padding += 1
                    sextets.append(0)
                    continue
                }
                guard padding == 0, let value = alphabet.firstIndex(of: c) else { return nil }
                sextets.append(UInt32(value))
            }
            let triple = sextets[0] << 18 | sextets[1] << 12 | sextets[2] << 6 | sextets[3]
            out.append(UInt8(triple >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(triple >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(triple & 0xFF)) }
            i += 4
        }
        return out
    }
}
