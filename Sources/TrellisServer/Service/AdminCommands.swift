import Foundation
import GraphValues

/// Administration statements the session handles itself because they are about users, not the graph:
/// `ALTER CURRENT USER SET PASSWORD FROM <old> TO <new>` (what Neo4j 4+/5 tools such as cypher-shell and the
/// drivers' examples send), with string literals or `$parameters`, and `SHOW CURRENT USER`. Everything else goes to Cypher, including
/// the 3.x procedures (`CALL dbms.security.changePassword(...)`).
enum AdminCommands {
    enum Command: Equatable {
        case alterCurrentUserPassword(old: String, new: String)
        case showCurrentUser
    }

    nonisolated(unsafe) static let showCurrentUserPattern = #/(?i)^\s*SHOW\s+CURRENT\s+USER\s*;?\s*$/#

    nonisolated(unsafe) static let alterPattern =
        #/(?i)^\s*ALTER\s+CURRENT\s+USER\s+SET\s+PASSWORD\s+FROM\s+(?<old>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$\w+)\s+TO\s+(?<new>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$\w+)\s*;?\s*$/#

    nonisolated(unsafe) static let changePasswordCall =
        #/(?i)^\s*CALL\s+dbms\s*\.\s*(?:security\s*\.\s*)?changePassword\s*\(/#

    static func match(_ query: String, parameters: [String: Value]) throws -> Command? {
        // Every statement comes through here: only run the (comparatively slow) regular expressions on text
        // that can be one of these commands.
        guard mayBeAdmin(query) else { return nil }
        if query.wholeMatch(of: showCurrentUserPattern) != nil { return .showCurrentUser }
        guard let m = query.wholeMatch(of: alterPattern) else { return nil }
        return .alterCurrentUserPassword(
            old: try operand(String(m.output.old), parameters), new: try operand(String(m.output.new), parameters))
    }

    static let restOfShow = Array("how".utf8)
    static let restOfAlter = Array("lter".utf8)

    /// Whether the first word of `query` is SHOW or ALTER (ASCII case-insensitive), looking at UTF-8 bytes only.
    static func mayBeAdmin(_ query: String) -> Bool {
        var utf8 = query.utf8.makeIterator()
        var first: UInt8 = 0x20
        while first == 0x20 || (0x09...0x0D).contains(first) {
            guard let b = utf8.next() else { return false }
            first = b
        }
        let word: [UInt8]
        switch first | 0x20 {
        case UInt8(ascii: "s"): word = restOfShow
        case UInt8(ascii: "a"): word = restOfAlter
        default:
            // Non-ASCII whitespace before the keyword is rare; leave it to the regular expressions.
            return first >= 0x80
        }
        for expected in word {
            guard let b = utf8.next(), b | 0x20 == expected else { return false }
        }
        return true
    }

    /// Whether a statement is allowed while the user's credentials are expired.
    static func isPasswordChange(_ query: String) -> Bool {
        query.firstMatch(of: changePasswordCall) != nil || query.wholeMatch(of: alterPattern) != nil
    }

    static func operand(_ text: String, _ parameters: [String: Value]) throws -> String {
        if text.hasPrefix("$") {
            let name = String(text.dropFirst())
            guard let value = parameters[name] else {
                throw DatabaseError(.parameterMissing, "Expected parameter(s): \(name)")
            }
            guard case .string(let s) = value else {
                throw DatabaseError(.typeError, "Expected a String for parameter \(name)")
            }
            return s
        }
        var out = ""
        var escaped = false
        for c in text.dropFirst().dropLast() {
            if escaped {
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}
