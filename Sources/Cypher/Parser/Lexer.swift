import GraphValues

/// One lexical token of a Cypher query.
struct Token: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// A name; `quoted` when written in backticks (then it is never a keyword).
        case identifier(String, quoted: Bool)
        /// Integer literal text as written (decimal, `0x…`, `0o…`); converted by the parser so that
        /// `-9223372036854775808` can be accepted.
        case integer(String)
        case float(Double)
        case string(String)
        /// Punctuation and operators: `(`, `..`, `<=`, `=~`, `+=`, …
        case symbol(String)
        case end
    }

    var kind: Kind
    var position: SourcePosition
    /// Offset just past the token (in `Lexer.scalars`).
    var endOffset: Int

    /// The upper-cased word when the token is an unquoted identifier (for keyword checks).
    var keyword: String? {
        if case .identifier(let name, false) = kind { return name.uppercased() }
        return nil
    }

    func isSymbol(_ s: String) -> Bool {
        if case .symbol(let t) = kind { return t == s }
        return false
    }

    var isEnd: Bool {
        if case .end = kind { return true }
        return false
    }
}

/// Splits query text into tokens, tracking line/column/offset for error messages.
///
/// Whitespace and `//` / `/* */` comments are skipped. Keywords are not distinguished here: the parser compares
/// unquoted identifiers case-insensitively, which lets keywords double as property keys and labels where the
/// grammar allows (`n.count`, `:Order`).
struct Lexer {
    let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var column = 1

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var lexer = Lexer(text)
        var tokens: [Token] = []
        while true {
            let token = try lexer.nextToken()
            tokens.append(token)
            if token.isEnd { return tokens }
        }
    }

    private var position: SourcePosition { SourcePosition(offset: index, line: line, column: column) }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        let i = index + ahead
        return i < scalars.count ? scalars[i] : nil
    }

    private mutating func advance() {
        if scalars[index] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    func syntaxError(_ message: String, at position: SourcePosition) -> DatabaseError {
        Lexer.syntaxError(message, at: position, in: scalars)
    }

    /// Neo4j's layout: the message with the position, then the offending line quoted and a caret under the column.
    static func syntaxError(_ message: String, at position: SourcePosition, in scalars: [Unicode.Scalar])
        -> DatabaseError
    {
        var lineStart = min(position.offset, scalars.count)
        while lineStart > 0 && scalars[lineStart - 1] != "\n" { lineStart -= 1 }
        var lineEnd = min(position.offset, scalars.count)
        while lineEnd < scalars.count && scalars[lineEnd] != "\n" && scalars[lineEnd] != "\r" { lineEnd += 1 }
        var line = String.UnicodeScalarView()
        line.append(contentsOf: scalars[lineStart..<lineEnd])
        let caret = String(repeating: " ", count: max(1, position.column)) + "^"
        return DatabaseError(.syntaxError, "\(message) (\(position))\n\"\(String(line))\"\n\(caret)")
    }

    private mutating func skipTrivia() throws {
        while let c = peek() {
            if c.properties.isWhitespace {
                advance()
            } else if c == "/" && peek(1) == "/" {
                while let d = peek(), d != "\n" { advance() }
            } else if c == "/" && peek(1) == "*" {
                let start = position
                advance()
                advance()
                while true {
                    guard let d = peek() else {
                        throw syntaxError("Failed to parse comment: unterminated /* comment", at: start)
                    }
                    if d == "*" && peek(1) == "/" {
                        advance()
                        advance()
                        break
                    }
                    advance()
                }
            } else {
                return
            }
        }
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic
    }

    static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
            || c.properties.generalCategory == .connectorPunctuation
    }

    private static let twoCharSymbols: Set<String> = ["..", "<=", ">=", "<>", "!=", "=~", "+="]
    private static let oneCharSymbols: Set<Unicode.Scalar> = [
        "(", ")", "[", "]", "{", "}", ",", ".", ":", ";", "|", "+", "-", "*", "/", "%", "^", "=", "<", ">", "$",
    ]

    mutating func nextToken() throws -> Token {
        try skipTrivia()
        let start = position
        guard let c = peek() else { return Token(kind: .end, position: start, endOffset: index) }

        if Lexer.isIdentifierStart(c) {
            var name = ""
            while let d = peek(), Lexer.isIdentifierPart(d) {
                name.unicodeScalars.append(d)
                advance()
            }
            return Token(kind: .identifier(name, quoted: false), position: start, endOffset: index)
        }
        if c == "`" {
            advance()
            var name = ""
            while true {
                guard let d = peek() else {
                    throw syntaxError("Failed to parse quoted identifier: missing closing backtick", at: start)
                }
                advance()
                if d == "`" {
                    // A doubled backtick inside a quoted name is one literal backtick.
                    if peek() == "`" {
                        advance()
                        name.unicodeScalars.append("`")
                        continue
                    }
                    break
                }
                name.unicodeScalars.append(d)
            }
            return Token(kind: .identifier(name, quoted: true), position: start, endOffset: index)
        }
        if ("0"..."9").contains(c) {
            return try number(start: start)
        }
        if c == ".", let d = peek(1), ("0"..."9").contains(d) {
            return try number(start: start)
        }
        if c == "'" || c == "\"" {
            return try string(quote: c, start: start)
        }
        if let d = peek(1) {
            let two = String(String.UnicodeScalarView([c, d]))
            if Lexer.twoCharSymbols.contains(two) {
                advance()
                advance()
                return Token(kind: .symbol(two == "!=" ? "<>" : two), position: start, endOffset: index)
            }
        }
        if Lexer.oneCharSymbols.contains(c) {
            advance()
            return Token(kind: .symbol(String(c)), position: start, endOffset: index)
        }
        // Look-alike characters such as '—' (em dash) are not operators (openCypher: InvalidUnicodeCharacter).
        throw syntaxError(
            "Invalid input '\(c)': expected an expression, a clause or a symbol"
                + (c.isASCII ? "" : " (InvalidUnicodeCharacter)"), at: start)
    }

    private mutating func number(start: SourcePosition) throws -> Token {
        var text = ""
        // Hex and octal integers.
        if peek() == "0", let x = peek(1), x == "x" || x == "X" || x == "o" || x == "O" {
            text.unicodeScalars.append("0")
            text.unicodeScalars.append(x)
            advance()
            advance()
            while let d = peek(), Lexer.isIdentifierPart(d) {
                text.unicodeScalars.append(d)
                advance()
            }
            return Token(kind: .integer(text), position: start, endOffset: index)
        }
        var isFloat = false
        while let d = peek(), ("0"..."9").contains(d) {
            text.unicodeScalars.append(d)
            advance()
        }
        if peek() == ".", let d = peek(1), ("0"..."9").contains(d) {
            isFloat = true
            text.unicodeScalars.append(".")
            advance()
            while let d = peek(), ("0"..."9").contains(d) {
                text.unicodeScalars.append(d)
                advance()
            }
        }
        if let e = peek(), e == "e" || e == "E" {
            let sign = peek(1)
            let hasSign = sign == "-" || sign == "+"
            if let d = peek(hasSign ? 2 : 1), ("0"..."9").contains(d) {
                isFloat = true
                text.unicodeScalars.append("e")
                advance()
                if hasSign {
                    text.unicodeScalars.append(sign!)
                    advance()
                }
                while let d = peek(), ("0"..."9").contains(d) {
                    text.unicodeScalars.append(d)
                    advance()
                }
            }
        }
        // A number running straight into letters (`9223372h54775808`, `1B2c`) is not a valid literal.
        if let d = peek(), Lexer.isIdentifierStart(d) {
            while let d = peek(), Lexer.isIdentifierPart(d) {
                text.unicodeScalars.append(d)
                advance()
            }
            throw syntaxError("Invalid number literal '\(text)'", at: start)
        }
        if isFloat {
            guard let value = Double(text) else {
                throw syntaxError("Invalid number literal '\(text)'", at: start)
            }
            if !value.isFinite {
                throw syntaxError("Floating point number is too large: '\(text)' (FloatingPointOverflow)",
                    at: start)
            }
            return Token(kind: .float(value), position: start, endOffset: index)
        }
        return Token(kind: .integer(text), position: start, endOffset: index)
    }

    private mutating func string(quote: Unicode.Scalar, start: SourcePosition) throws -> Token {
        advance()
        var value = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                throw syntaxError("Failed to parse string literal: missing closing quote", at: start)
            }
            if c == quote {
                advance()
                break
            }
            if c == "\\" {
                let escapePosition = position
                advance()
                guard let e = peek() else {
                    throw syntaxError("Failed to parse string literal: missing closing quote", at: start)
                }
                advance()
                switch e {
                case "\\": value.append("\\")
                case "'": value.append("'")
                case "\"": value.append("\"")
                case "`": value.append("`")
                case "b": value.append("\u{08}")
                case "f": value.append("\u{0C}")
                case "n": value.append("\n")
                case "r": value.append("\r")
                case "t": value.append("\t")
                case "u", "U":
                    let digits = e == "u" ? 4 : 8
                    var hex = ""
                    for _ in 0..<digits {
                        guard let h = peek(), h.properties.isASCIIHexDigit else {
                            throw syntaxError(
                                "Invalid input: invalid unicode literal '\\\(e)\(hex)' (InvalidUnicodeLiteral)",
                                at: escapePosition)
                        }
                        hex.unicodeScalars.append(h)
                        advance()
                    }
                    guard let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                        throw syntaxError(
                            "Invalid input: invalid unicode character '\\\(e)\(hex)' (InvalidUnicodeCharacter)",
                            at: escapePosition)
                    }
                    value.append(scalar)
                default:
                    // Neo4j keeps unknown escapes as written.
                    value.append("\\")
                    value.append(e)
                }
                continue
            }
            value.append(c)
            advance()
        }
        return Token(kind: .string(String(value)), position: start, endOffset: index)
    }
}
