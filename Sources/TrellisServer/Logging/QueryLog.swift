import Foundation
import GraphValues

/// `logs/query.log`: queries that took at least `dbms.logs.query.threshold`, in Neo4j's layout
/// (`<ts> INFO  <elapsed> ms: <connection> - <query> - <parameters> - <tx metadata>`, failed queries at ERROR
/// with the error). Passwords given to the security procedures are masked.
public final class QueryLog: Sendable {
    let file: RotatingLogFile
    public let threshold: Duration
    public let logParameters: Bool
    let utc: Bool

    public init(file: RotatingLogFile, threshold: Duration, logParameters: Bool, utc: Bool = true) {
        self.file = file
        self.threshold = threshold
        self.logParameters = logParameters
        self.utc = utc
    }

    public func record(
        elapsed: Duration, connection: String, query: String, parameters: [String: Value],
        metadata: [String: Value], error: DatabaseError?
    ) {
        guard elapsed >= threshold || error != nil else { return }
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let level = error == nil ? "INFO " : "ERROR"
        var line = "\(LogTimestamp.format(utc: utc)) \(level) \(ms) ms: \(connection) - \(QueryLog.maskPasswords(query))"
        if logParameters {
            line += " - " + QueryLog.render(.map(QueryLog.maskParameters(query, parameters)))
        }
        line += " - " + QueryLog.render(.map(metadata))
        if let error { line += " - \(error.code): \(error.message)" }
        file.append(line)
    }

    static let passwordProcedures = ["changepassword", "createuser", "changeuserpassword"]

    /// Replaces string literal arguments of password-taking procedure calls with `******`.
    static func maskPasswords(_ query: String) -> String {
        let lower = query.lowercased()
        guard passwordProcedures.contains(where: { lower.contains($0) }) else { return query }
        var out = ""
        var inString: Character?
        for c in query {
            if let q = inString {
                if c == q {
                    inString = nil
                    out += "******"
                    out.append(c)
                }
            } else {
                out.append(c)
                if c == "'" || c == "\"" { inString = c }
            }
        }
        return out
    }

    static func maskParameters(_ query: String, _ parameters: [String: Value]) -> [String: Value] {
        let lower = query.lowercased()
        guard passwordProcedures.contains(where: { lower.contains($0) }) else { return parameters }
        return parameters.mapValues { v in if case .string = v { return .string("******") } else { return v } }
    }

    /// A compact Cypher-literal rendering for log lines.
    static func render(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .float(let d): return String(d)
        case .string(let s): return "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'"
        case .bytes(let b): return "<\(b.count) bytes>"
        case .list(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
        case .map(let m):
            return "{" + m.keys.sorted().map { "\($0): \(render(m[$0]!))" }.joined(separator: ", ") + "}"
        case .node(let n): return "(\(n.id))"
        case .relationship(let r): return "[\(r.id)]"
        case .path(let p): return "<path of \(p.relationships.count)>"
        default: return "\(value)"
        }
    }
}
