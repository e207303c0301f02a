import Foundation
import GraphValues

/// Text forms of values: Cypher literals (signatures, plan details) and `toString()`.
enum CypherText {
    /// A Cypher literal for `v` (strings quoted), used in signatures and plan descriptions.
    static func literal(_ v: Value) -> String {
        switch v {
        case .null: return "null"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .float(let d): return formatFloat(d)
        case .string(let s): return "'" + s.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "'", with: "\\'") + "'"
        case .bytes(let b): return "bytes(\(b.count))"
        case .list(let items): return "[" + items.map(literal).joined(separator: ", ") + "]"
        case .map(let m):
            return "{" + m.keys.sorted().map { "\($0): \(literal(m[$0]!))" }.joined(separator: ", ") + "}"
        case .node(let n):
            return "(" + n.labels.map { ":" + $0 }.joined() + (n.properties.isEmpty ? "" : " " + literal(.map(n.properties))) + ")"
        case .relationship(let r):
            return "[:\(r.type)" + (r.properties.isEmpty ? "" : " " + literal(.map(r.properties))) + "]"
        case .path(let p):
            return "<" + p.nodes.map { literal(.node($0)) }.joined(separator: "-") + ">"
        default: return String(describing: v)
        }
    }

    /// Java-style float text as Neo4j prints it: `1.0`, `0.1`, `1.0E10`, `NaN`, `Infinity`.
    static func formatFloat(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
        if d == d.rounded(), abs(d) < 1e7 {
            return String(format: "%.1f", d)
        }
        let a = abs(d)
        if a >= 1e-3 && a < 1e7 {
            return "\(d)"
        }
        // Java's Double.toString switches to computerized scientific notation outside [1e-3, 1e7).
        var s = "\(d)"  // Swift gives e.g. "1e+20" or "1.5e-05"
        if let eIdx = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var mant = String(s[s.startIndex..<eIdx])
            var exp = String(s[s.index(after: eIdx)...])
            if exp.hasPrefix("+") { exp.removeFirst() }
            if let e = Int(exp) { exp = String(e) }
            if !mant.contains(".") { mant += ".0" }
            s = mant + "E" + exp
        }
        return s
    }
}
