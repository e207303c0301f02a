import Foundation
import GraphValues

// The TCK's value notation and the normalised value model both expected and actual values are reduced to, with
// the same equality as tck_runner.py's `canon`: integers and floats differ, lists are ordered unless the step
// ignores list order, maps compare by key, nodes by labels + properties, relationships by type + properties,
// paths by their sequence with direction. Temporal values compare as their Neo4j `toString()` text.

indirect enum TCKValue: Hashable {
    case null
    case boolean(Bool)
    case integer(Int64)
    case float(Double)
    case string(String)
    case list([TCKValue])
    /// Keys in the order written (for messages); equality is via `canonical`.
    case map([(String, TCKValue)])
    case node(labels: Set<String>, properties: [(String, TCKValue)])
    case relationship(type: String, properties: [(String, TCKValue)])
    /// Start node, then (relationship, outgoing?, node) steps.
    case path(start: TCKValue, steps: [(TCKValue, Bool, TCKValue)])
    case opaque(String)

    static func == (a: TCKValue, b: TCKValue) -> Bool { a.canonical(false) == b.canonical(false) }
    func hash(into hasher: inout Hasher) { hasher.combine(canonical(false)) }

    /// A canonical, hashable form: equal forms mean TCK-equal values.
    func canonical(_ unorderedLists: Bool) -> Canonical {
        switch self {
        case .null: return .null
        case .boolean(let b): return .boolean(b)
        case .integer(let i): return .integer(i)
        case .float(let d): return d.isNaN ? .nan : .float(d)
        case .string(let s): return .string(s)
        case .list(let items):
            var c = items.map { $0.canonical(unorderedLists) }
            if unorderedLists { c.sort { "\($0)" < "\($1)" } }
            return .list(c)
        case .map(let entries):
            return .map(TCKValue.canonicalEntries(entries, unorderedLists))
        case .node(let labels, let props):
            return .node(labels.sorted(), TCKValue.canonicalEntries(props, unorderedLists))
        case .relationship(let type, let props):
            return .relationship(type, TCKValue.canonicalEntries(props, unorderedLists))
        case .path(let start, let steps):
            return .path(
                start.canonical(unorderedLists),
                steps.map { [$0.0.canonical(unorderedLists), .boolean($0.1), $0.2.canonical(unorderedLists)] })
        case .opaque(let s): return .opaque(s)
        }
    }

    private static func canonicalEntries(_ entries: [(String, TCKValue)], _ unordered: Bool) -> [String: Canonical] {
        var d: [String: Canonical] = [:]
        for (k, v) in entries { d[k] = v.canonical(unordered) }
        return d
    }

    /// TCK notation, for failure messages.
    var text: String {
        switch self {
        case .null: return "null"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let i): return "\(i)"
        case .float(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d > 0 ? "Inf" : "-Inf" }
            return "\(d)"
        case .string(let s):
            return "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        case .list(let items): return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .map(let entries): return TCKValue.mapText(entries)
        case .node(let labels, let props):
            let l = labels.sorted().map { ":" + $0 }.joined()
            return "(" + l + (props.isEmpty ? "" : (l.isEmpty ? "" : " ") + TCKValue.mapText(props)) + ")"
        case .relationship(let type, let props):
            return "[:" + type + (props.isEmpty ? "" : " " + TCKValue.mapText(props)) + "]"
        case .path(let start, let steps):
            var s = start.text
            for (r, outgoing, n) in steps { s += outgoing ? "-\(r.text)->\(n.text)" : "<-\(r.text)-\(n.text)" }
            return "<" + s + ">"
        case .opaque(let s): return "?" + s
        }
    }

    private static func mapText(_ entries: [(String, TCKValue)]) -> String {
        "{" + entries.map { "\($0.0): \($0.1.text)" }.joined(separator: ", ") + "}"
    }

    /// The value as an engine parameter (entities are not allowed as parameters).
    func parameterValue() throws -> Value {
        switch self {
        case .null: return .null
        case .boolean(let b): return .boolean(b)
        case .integer(let i): return .integer(i)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .list(let items): return .list(try items.map { try $0.parameterValue() })
        case .map(let entries):
            var d: [String: Value] = [:]
            for (k, v) in entries { d[k] = try v.parameterValue() }
            return .map(d)
        default: throw TCKValueParser.ParseError(message: "graph entities cannot be parameters")
        }
    }

    /// Normalises an engine result value the way tck_runner.py normalises driver values.
    init(_ value: Value) {
        switch value {
        case .null: self = .null
        case .boolean(let b): self = .boolean(b)
        case .integer(let i): self = .integer(i)
        case .float(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .bytes(let b): self = .opaque("bytes:" + b.map { String(format: "%02x", $0) }.joined())
        case .list(let items): self = .list(items.map(TCKValue.init))
        case .map(let d): self = .map(d.map { ($0.key, TCKValue($0.value)) })
        case .node(let n): self = TCKValue.node(n)
        case .relationship(let r): self = TCKValue.relationship(r)
        case .path(let p):
            var steps: [(TCKValue, Bool, TCKValue)] = []
            for (i, r) in p.relationships.enumerated() {
                let outgoing = r.startNodeId == p.nodes[i].id
                steps.append((TCKValue.relationship(r), outgoing, TCKValue.node(p.nodes[i + 1])))
            }
            self = .path(start: TCKValue.node(p.nodes[0]), steps: steps)
        case .date(let d): self = .string(d.cypherString)
        case .localTime(let t): self = .string(t.cypherString)
        case .time(let t): self = .string(t.cypherString)
        case .localDateTime(let t): self = .string(t.cypherString)
        case .dateTime(let t): self = .string(t.cypherString)
        case .duration(let d): self = .string(d.cypherString)
        case .point(let p): self = .opaque("point" + p.cypherString)
        }
    }

    static func node(_ n: NodeValue) -> TCKValue {
        .node(labels: Set(n.labels), properties: n.properties.map { ($0.key, TCKValue($0.value)) })
    }

    static func relationship(_ r: RelationshipValue) -> TCKValue {
        .relationship(type: r.type, properties: r.properties.map { ($0.key, TCKValue($0.value)) })
    }
}

/// Hashable canonical form of a `TCKValue`.
indirect enum Canonical: Hashable, CustomStringConvertible {
    case null
    case boolean(Bool)
    case integer(Int64)
    case float(Double)
    case nan
    case string(String)
    case list([Canonical])
    case map([String: Canonical])
    case node([String], [String: Canonical])
    case relationship(String, [String: Canonical])
    case path(Canonical, [[Canonical]])
    case opaque(String)

    var description: String {
        switch self {
        case .null: return "null"
        case .boolean(let b): return "b\(b)"
        case .integer(let i): return "i\(i)"
        case .float(let d): return "f\(d)"
        case .nan: return "NaN"
        case .string(let s): return "s\(s)"
        case .list(let l): return "[\(l.map(\.description).joined(separator: ","))]"
        case .map(let m): return "{\(m.keys.sorted().map { "\($0):\(m[$0]!)" }.joined(separator: ","))}"
        case .node(let l, let m): return "(\(l)\(Canonical.map(m)))"
        case .relationship(let t, let m): return "[\(t)\(Canonical.map(m))]"
        case .path(let s, let steps): return "<\(s)\(steps)>"
        case .opaque(let s): return "?\(s)"
        }
    }
}

/// Parser for the TCK value notation (`(:L {k: 1})`, `[:T]`, `<(a)-[:T]->(b)>`, `'s'`, `1.5`, `NaN`, …).
struct TCKValueParser {
    struct ParseError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private let s: [Character]
    private var i = 0

    private init(_ text: String) { s = Array(text) }

    static func parse(_ text: String) throws -> TCKValue {
        var p = TCKValueParser(text)
        let v = try p.value()
        p.skipWhitespace()
        if p.i != p.s.count { throw ParseError(message: "trailing input at \(p.i) in \(text)") }
        return v
    }

    private mutating func skipWhitespace() {
        while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { i += 1 }
    }

    private func peek(_ k: Int = 0) -> Character? { i + k < s.count ? s[i + k] : nil }

    private func startsWith(_ t: String) -> Bool {
        let chars = Array(t)
        guard i + chars.count <= s.count else { return false }
        return Array(s[i..<(i + chars.count)]) == chars
    }

    private mutating func expect(_ t: String) throws {
        skipWhitespace()
        guard startsWith(t) else { throw ParseError(message: "expected \(t) at \(i) in \(String(s))") }
        i += t.count
    }

    private mutating func symbolicName() throws -> String {
        skipWhitespace()
        if peek() == "`" {
            guard let end = s[(i + 1)...].firstIndex(of: "`") else { throw ParseError(message: "unterminated name") }
            let name = String(s[(i + 1)..<end])
            i = end + 1
            return name
        }
        let start = i
        while let c = peek(), c.isLetter || c.isNumber || c == "$" || c == "_" { i += 1 }
        guard i > start else { throw ParseError(message: "expected name at \(i) in \(String(s))") }
        return String(s[start..<i])
    }

    private mutating func value() throws -> TCKValue {
        skipWhitespace()
        guard let c = peek() else { throw ParseError(message: "unexpected end in \(String(s))") }
        switch c {
        case "(": return try node()
        case "[": return peek(1) == ":" ? try relationship() : try list()
        case "<": return try path()
        case "{": return .map(try map())
        case "'": return .string(try string())
        default: break
        }
        for (word, v) in [
            ("null", TCKValue.null), ("true", .boolean(true)), ("false", .boolean(false)), ("NaN", .float(.nan)),
            ("-Inf", .float(-.infinity)), ("Inf", .float(.infinity)), ("-Infinity", .float(-.infinity)),
            ("Infinity", .float(.infinity)),
        ] where startsWith(word) {
            let end = i + word.count
            if end == s.count || !(s[end].isLetter || s[end].isNumber || s[end] == "_") {
                i = end
                return v
            }
        }
        return try number()
    }

    /// `-?(\d+\.\d+([eE]-?\d+)?|\.\d+([eE]-?\d+)?|\d+[eE]-?\d+|\d+)`
    private mutating func number() throws -> TCKValue {
        let start = i
        if peek() == "-" { i += 1 }
        let digitsStart = i
        while let c = peek(), c.isASCII, c.isNumber { i += 1 }
        var isFloat = false
        if peek() == ".", let d = peek(1), d.isASCII, d.isNumber {
            isFloat = true
            i += 1
            while let c = peek(), c.isASCII, c.isNumber { i += 1 }
        }
        if i == digitsStart { throw ParseError(message: "cannot parse value at \(start) in \(String(s))") }
        if let e = peek(), e == "e" || e == "E" {
            var j = i + 1
            if j < s.count, s[j] == "-" { j += 1 }
            if j < s.count, s[j].isASCII, s[j].isNumber {
                isFloat = true
                i = j
                while let c = peek(), c.isASCII, c.isNumber { i += 1 }
            }
        }
        let text = String(s[start..<i])
        if isFloat {
            guard let d = Double(text) else { throw ParseError(message: "bad float \(text)") }
            return .float(d)
        }
        guard let v = Int64(text) else { throw ParseError(message: "bad integer \(text)") }
        return .integer(v)
    }

    private mutating func labels() throws -> [String] {
        var out: [String] = []
        while true {
            skipWhitespace()
            guard peek() == ":" else { return out }
            i += 1
            out.append(try symbolicName())
        }
    }

    private mutating func node() throws -> TCKValue {
        try expect("(")
        let l = try labels()
        skipWhitespace()
        let props = peek() == "{" ? try map() : []
        try expect(")")
        return .node(labels: Set(l), properties: props)
    }

    private mutating func relationship() throws -> TCKValue {
        try expect("[")
        try expect(":")
        let t = try symbolicName()
        skipWhitespace()
        let props = peek() == "{" ? try map() : []
        try expect("]")
        return .relationship(type: t, properties: props)
    }

    private mutating func path() throws -> TCKValue {
        try expect("<")
        let start = try node()
        var steps: [(TCKValue, Bool, TCKValue)] = []
        while true {
            skipWhitespace()
            if startsWith("<-") {
                i += 2
                let r = try relationship()
                try expect("-")
                steps.append((r, false, try node()))
            } else if peek() == "-" {
                i += 1
                let r = try relationship()
                try expect("->")
                steps.append((r, true, try node()))
            } else {
                break
            }
        }
        try expect(">")
        return .path(start: start, steps: steps)
    }

    private mutating func list() throws -> TCKValue {
        try expect("[")
        var out: [TCKValue] = []
        skipWhitespace()
        if peek() == "]" {
            i += 1
            return .list(out)
        }
        while true {
            out.append(try value())
            skipWhitespace()
            if peek() == "," {
                i += 1
                continue
            }
            try expect("]")
            return .list(out)
        }
    }

    private mutating func map() throws -> [(String, TCKValue)] {
        try expect("{")
        var out: [(String, TCKValue)] = []
        skipWhitespace()
        if peek() == "}" {
            i += 1
            return out
        }
        while true {
            let k = try symbolicName()
            try expect(":")
            out.append((k, try value()))
            skipWhitespace()
            if peek() == "," {
                i += 1
                continue
            }
            try expect("}")
            return out
        }
    }

    private mutating func string() throws -> String {
        try expect("'")
        var out = ""
        while true {
            guard i < s.count else { throw ParseError(message: "unterminated string in \(String(s))") }
            let c = s[i]
            if c == "\\", i + 1 < s.count, s[i + 1] == "\\" || s[i + 1] == "'" {
                out.append(s[i + 1])
                i += 2
                continue
            }
            if c == "'" {
                i += 1
                return out
            }
            out.append(c)
            i += 1
        }
    }
}
