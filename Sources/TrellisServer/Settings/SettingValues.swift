import Foundation
import GraphKernel

// Parsing of neo4j.conf value syntax (neo4j-ops.md §1): durations, byte sizes, socket addresses, lists,
// retention policies. Each parser throws a `SettingValueError` whose message says what was expected, so
// configuration errors can name the file, the line, the setting and the expected form together.

/// Why a setting's text could not be read as its type.
public struct SettingValueError: Error, Sendable, Hashable, CustomStringConvertible {
    public var expected: String
    public init(expected: String) { self.expected = expected }

    /// From the kernel's parsers, whose reason already says what was expected.
    init(kernel error: any Error) {
        if let e = error as? ConfigurationError {
            self.expected = e.reason.hasPrefix("expected ") ? String(e.reason.dropFirst(9)) : e.reason
            self.isReason = !e.reason.hasPrefix("expected ")
        } else {
            self.expected = "\(error)"
            self.isReason = true
        }
    }

    /// When true, `expected` holds a full reason rather than "what was expected".
    var isReason = false
    public var description: String { isReason ? expected : "expected \(expected)" }
}

/// A host and port as written in `listen_address` / `advertised_address` settings. Either part may be
/// missing (`:7687`, `localhost`); the settings layer fills it from `dbms.connectors.default_*_address`.
public struct SocketAddressSetting: Sendable, Hashable, CustomStringConvertible {
    public var host: String?
    public var port: Int?
    public init(host: String?, port: Int?) {
        self.host = host
        self.port = port
    }

    /// `host:port`, bracketing IPv6 literals.
    public var description: String {
        let h = host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""
        return port.map { "\(h):\($0)" } ?? h
    }
}

/// An inclusive port range such as `5001-5099` (HA ports accept ranges) with an optional host.
public struct PortRangeAddress: Sendable, Hashable {
    public var host: String?
    public var ports: ClosedRange<Int>
}

public enum SettingParsers {
    /// `<n>` (seconds) or `<n>ms|s|m|h|d` (neo4j-ops.md §1), parsed by the kernel's `DurationSetting`.
    public static func duration(_ text: String) throws(SettingValueError) -> Duration {
        do { return try DurationSetting.parse(text) } catch { throw SettingValueError(kernel: error) }
    }

    /// `<n>` bytes or `<n>k|m|g|t` (binary multiples), parsed by the kernel's `ByteSize`.
    public static func byteSize(_ text: String) throws(SettingValueError) -> Int64 {
        // "1.5g" would otherwise be reported as the unknown unit ".5g"; the number is what is wrong.
        if let first = text.first(where: { !$0.isWhitespace }), first.isNumber, text.contains(".") {
            throw SettingValueError(expected: "a whole number with k, m, g or t (1536m, not 1.5g)")
        }
        do { return try ByteSize.parse(text) } catch { throw SettingValueError(kernel: error) }
    }

    public static func boolean(_ text: String) throws(SettingValueError) -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true": return true
        case "false": return false
        default: throw SettingValueError(expected: "true or false")
        }
    }

    public static func integer(_ text: String, in range: ClosedRange<Int64>) throws(SettingValueError) -> Int64 {
        guard let n = Int64(text.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
            throw SettingValueError(expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// `host:port`, `:port`, `host`, `[v6]:port`; port 0…65535.
    public static func socketAddress(_ text: String) throws(SettingValueError) -> SocketAddressSetting {
        let expected = SettingValueError(expected: "an address such as 127.0.0.1:7687, :7687 or localhost")
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { throw expected }
        var host: Substring
        var portText: Substring?
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw expected }
            host = t[t.index(after: t.startIndex)..<close]
            let rest = t[t.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw expected }
                portText = rest.dropFirst()
            }
        } else if t.filter({ $0 == ":" }).count > 1 {
            host = Substring(t)  // bare IPv6 literal without port
        } else if let colon = t.firstIndex(of: ":") {
            host = t[..<colon]
            portText = t[t.index(after: colon)...]
        } else {
            host = Substring(t)
        }
        guard !host.contains(where: { $0 == " " || $0 == "/" }) else { throw expected }
        var port: Int?
        if let p = portText {
            guard let n = Int(p), (0...65535).contains(n) else { throw expected }
            port = n
        }
        return SocketAddressSetting(host: host.isEmpty ? nil : String(host), port: port)
    }

    /// `host:5001-5099` or `:5001` (HA coordination and data ports).
    public static func portRangeAddress(_ text: String) throws(SettingValueError) -> PortRangeAddress {
        let expected = SettingValueError(expected: "an address such as 0.0.0.0:5001-5099 or :6001")
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let colon = t.lastIndex(of: ":") else { throw expected }
        let host = t[..<colon]
        let ports = t[t.index(after: colon)...].split(separator: "-", omittingEmptySubsequences: false)
        guard ports.count == 1 || ports.count == 2, let lo = Int(ports[0]), let hi = Int(ports.last!),
            (0...65535).contains(lo), (lo...65535).contains(hi)
        else { throw expected }
        return PortRangeAddress(host: host.isEmpty ? nil : String(host), ports: lo...hi)
    }

    /// Comma separated, items trimmed, empty items dropped.
    public static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `true`/`keep_all`, `false`/`keep_none`, or `<n>[k|M|G] files|size|txs|entries|hours|days`, parsed by the
    /// kernel's `RetentionPolicy` (the kernel is what prunes by it).
    public static func retentionPolicy(_ text: String) throws(SettingValueError) -> RetentionPolicy {
        do { return try RetentionPolicy.parse(text) } catch { throw SettingValueError(kernel: error) }
    }

    public static func oneOf(_ text: String, _ options: [String]) throws(SettingValueError) -> String {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let match = options.first(where: { $0.caseInsensitiveCompare(t) == .orderedSame }) else {
            throw SettingValueError(expected: "one of " + options.joined(separator: ", "))
        }
        return match
    }
}
