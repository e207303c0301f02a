import GraphValues

@testable import Cypher

/// A tiny evaluator for the expressions the temporal TCK scenarios use (function calls, literals, maps,
/// property access and + - * /, comparisons), so that their cases can be checked against TemporalFunctions
/// directly, independent of the parser and runtime.
struct TemporalExpressionEvaluator {
    enum EvalError: Error, CustomStringConvertible {
        case syntax(String)
        var description: String {
            switch self {
            case .syntax(let s): return "syntax: \(s)"
            }
        }
    }

    var context = TemporalContext(statementTimeEpochNanos: 1_500_000_000_123_456_789)
    private var chars: [Character] = []
    private var pos = 0

    init() {}

    mutating func evaluate(_ text: String) throws -> Value {
        chars = Array(text)
        pos = 0
        let value = try comparison()
        skipSpace()
        guard pos == chars.count else { throw EvalError.syntax("trailing input at \(pos) in \(text)") }
        return value
    }

    private mutating func skipSpace() {
        while pos < chars.count, chars[pos].isWhitespace { pos += 1 }
    }

    private mutating func accept(_ s: String) -> Bool {
        skipSpace()
        let end = pos + s.count
        guard end <= chars.count, String(chars[pos..<end]) == s else { return false }
        pos = end
        return true
    }

    private mutating func comparison() throws -> Value {
        let left = try additive()
        for op in ["<=", ">=", "<>", "=", "<", ">"] where accept(op) {
            let right = try additive()
            if op == "=" { return .boolean(left == right) }
            if op == "<>" { return .boolean(left != right) }
            guard let c = TemporalFunctions.compare(left, right) else { return .null }
            switch op {
            case "<": return .boolean(c < 0)
            case ">": return .boolean(c > 0)
            case "<=": return .boolean(c <= 0)
            default: return .boolean(c >= 0)
            }
        }
        return left
    }

    private mutating func additive() throws -> Value {
        var left = try multiplicative()
        while true {
            if accept("+") {
                let right = try multiplicative()
                left = try TemporalFunctions.add(left, right) ?? { throw EvalError.syntax("+ not temporal") }()
            } else if accept("-") {
                let right = try multiplicative()
                left = try TemporalFunctions.subtract(left, right) ?? { throw EvalError.syntax("- not temporal") }()
            } else {
                return left
            }
        }
    }

    private mutating func multiplicative() throws -> Value {
        var left = try postfix()
        while true {
            if accept("*") {
                let right = try postfix()
                left = try TemporalFunctions.multiply(left, right) ?? { throw EvalError.syntax("* not temporal") }()
            } else if accept("/") {
                let right = try postfix()
                left = try TemporalFunctions.divide(left, right) ?? { throw EvalError.syntax("/ not temporal") }()
            } else {
                return left
            }
        }
    }

    private mutating func postfix() throws -> Value {
        var value = try primary()
        while accept(".") {
            let name = identifier()
            value = try TemporalFunctions.property(of: value, name) ?? { throw EvalError.syntax("no property") }()
        }
        return value
    }

    private mutating func identifier() -> String {
        skipSpace()
        var name = ""
        while pos < chars.count, chars[pos].isLetter || chars[pos].isNumber || chars[pos] == "_" {
            name.append(chars[pos])
            pos += 1
        }
        return name
    }

    private mutating func primary() throws -> Value {
        skipSpace()
        guard pos < chars.count else { throw EvalError.syntax("unexpected end") }
        let c = chars[pos]
        if c == "'" {
            pos += 1
            var s = ""
            while pos < chars.count, chars[pos] != "'" {
                s.append(chars[pos])
                pos += 1
            }
            pos += 1
            return .string(s)
        }
        if c == "{" {
            pos += 1
            var map: [String: Value] = [:]
            if accept("}") { return .map(map) }
            repeat {
                let key = identifier()
                guard accept(":") else { throw EvalError.syntax("expected :") }
                map[key] = try comparison()
            } while accept(",")
            guard accept("}") else { throw EvalError.syntax("expected }") }
            return .map(map)
        }
        if c == "[" {
            pos += 1
            var items: [Value] = []
            if accept("]") { return .list(items) }
            repeat { items.append(try comparison()) } while accept(",")
            guard accept("]") else { throw EvalError.syntax("expected ]") }
            return .list(items)
        }
        if c == "(" {
            pos += 1
            let v = try comparison()
            guard accept(")") else { throw EvalError.syntax("expected )") }
            return v
        }
        if c.isNumber || c == "-" {
            var text = String(c)
            pos += 1
            while pos < chars.count, chars[pos].isNumber || chars[pos] == "." || chars[pos] == "e" {
                text.append(chars[pos])
                pos += 1
            }
            if let i = Int64(text) { return .integer(i) }
            if let f = Double(text) { return .float(f) }
            throw EvalError.syntax("bad number \(text)")
        }
        var name = identifier()
        if name == "null" { return .null }
        if name == "true" { return .boolean(true) }
        if name == "false" { return .boolean(false) }
        while accept(".") { name += "." + identifier() }
        guard accept("(") else { throw EvalError.syntax("expected ( after \(name)") }
        var args: [Value] = []
        if !accept(")") {
            repeat { args.append(try comparison()) } while accept(",")
            guard accept(")") else { throw EvalError.syntax("expected )") }
        }
        if name.lowercased() == "tostring" {
            return .string(Self.text(args[0]))
        }
        guard let result = try TemporalFunctions.call(name, args, context: context) else {
            throw EvalError.syntax("unknown function \(name)")
        }
        return result
    }

    /// The value as the TCK writes it: temporal values as their toString text (quoted), lists in brackets.
    static func text(_ value: Value) -> String {
        switch value {
        case .date(let d): return d.cypherString
        case .localTime(let t): return t.cypherString
        case .time(let t): return t.cypherString
        case .localDateTime(let l): return l.cypherString
        case .dateTime(let d): return d.cypherString
        case .duration(let d): return d.cypherString
        case .point(let p): return p.cypherString
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .float(let f): return JavaDouble.format(f)
        case .boolean(let b): return String(b)
        case .null: return "null"
        case .list(let items): return "[" + items.map { tckText($0) }.joined(separator: ", ") + "]"
        default: return "\(value)"
        }
    }

    /// TCK notation: strings and temporal texts quoted.
    static func tckText(_ value: Value) -> String {
        switch value {
        case .date, .localTime, .time, .localDateTime, .dateTime, .duration, .string: return "'\(text(value))'"
        default: return text(value)
        }
    }
}
