import Foundation
import GraphValues

/// The built-in roles (neo4j-ops.md §6), each including the powers of the ones before it.
public enum Role: String, Sendable, CaseIterable, Comparable {
    case reader, editor, publisher, architect, admin

    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public var permissions: Permissions {
        switch self {
        case .reader: return [.read]
        case .editor: return [.read, .write]
        case .publisher: return [.read, .write, .createToken]
        case .architect: return [.read, .write, .createToken, .schema]
        case .admin: return [.read, .write, .createToken, .schema, .manageSecurity]
        }
    }
}

/// What a user may do, from the union of their roles.
public struct Permissions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// MATCH and read procedures.
    public static let read = Permissions(rawValue: 1)
    /// Create/update/delete data using existing labels, types and property keys.
    public static let write = Permissions(rawValue: 2)
    /// Create new labels, relationship types and property keys.
    public static let createToken = Permissions(rawValue: 4)
    /// Create and drop indexes and constraints.
    public static let schema = Permissions(rawValue: 8)
    /// User and role management, other users' queries.
    public static let manageSecurity = Permissions(rawValue: 16)
    public static let all: Permissions = [.read, .write, .createToken, .schema, .manageSecurity]

    public static func of(roles: [String]) -> Permissions {
        roles.reduce(into: Permissions()) { acc, name in acc.formUnion(Role(rawValue: name)?.permissions ?? []) }
    }
}

/// A user as stored in `data/dbms/auth`.
public struct UserRecord: Sendable, Hashable {
    public var name: String
    public var credential: Credential
    public var passwordChangeRequired: Bool
    public var suspended: Bool

    public var flags: [String] {
        (passwordChangeRequired ? ["password_change_required"] : []) + (suspended ? ["is_suspended"] : [])
    }
}

/// Users and roles on disk: `<dir>/auth` with one line per user
/// (`<name>:PBKDF2-SHA256,<iterations>,<salt>,<hash>:<flags>`) and `<dir>/roles` with one line per role
/// (`<role>:<user>,<user>`), as Neo4j lays them out. Both are rewritten whole through a temporary file,
/// fsync and rename, so a crash leaves the old or the new file, never half of one; mode 0600.
public struct UserFiles: Sendable {
    public let directory: String
    public var authPath: String { (directory as NSString).appendingPathComponent("auth") }
    public var rolesPath: String { (directory as NSString).appendingPathComponent("roles") }

    public init(directory: String) { self.directory = directory }

    public var exist: Bool { FileManager.default.fileExists(atPath: authPath) }

    public func load() throws -> (users: [String: UserRecord], roles: [String: Set<String>]) {
        let text = try String(contentsOfFile: authPath, encoding: .utf8)
        var users: [String: UserRecord] = [:]
        var lineNumber = 0
        for line in text.split(separator: "\n") {
            lineNumber += 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let parts = line.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, let credential = Credential(serialized: String(parts[1])) else {
                throw DatabaseError(.unknownError, "\(authPath):\(lineNumber): malformed user line")
            }
            let flags = Set(parts[2].split(separator: ",").map(String.init))
            let name = String(parts[0])
            users[name] = UserRecord(
                name: name, credential: credential, passwordChangeRequired: flags.contains("password_change_required"),
                suspended: flags.contains("is_suspended"))
        }
        var roles: [String: Set<String>] = [:]
        if FileManager.default.fileExists(atPath: rolesPath) {
            let rolesText = try String(contentsOfFile: rolesPath, encoding: .utf8)
            for line in rolesText.split(separator: "\n") where line.contains(":") {
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                roles[String(parts[0])] = Set(parts[1].split(separator: ",").map(String.init))
            }
        }
        return (users, roles)
    }

    public func save(users: [String: UserRecord], roles: [String: Set<String>]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let authText = users.keys.sorted().map { name in
            let u = users[name]!
            return "\(u.name):\(u.credential.serialized):\(u.flags.joined(separator: ","))\n"
        }.joined()
        let rolesText = roles.keys.sorted().map { role in
            "\(role):\(roles[role]!.sorted().joined(separator: ","))\n"
        }.joined()
        try UserFiles.writeAtomically(rolesText, to: rolesPath)
        try UserFiles.writeAtomically(authText, to: authPath)
    }

    /// Write to `<path>.tmp` (created 0600), fsync, rename over `path`, fsync the folder.
    static func writeAtomically(_ text: String, to path: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw posixError("open \(tmp)") }
        var ok = true
        let bytes = Array(text.utf8)
        var written = 0
        while ok && written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno != EINTR { ok = false } } else { written += n }
        }
        if ok { ok = fchmod(fd, 0o600) == 0 && fsync(fd) == 0 }
        let err = posixError("write \(tmp)")
        close(fd)
        guard ok else { throw err }
        guard rename(tmp, path) == 0 else { throw posixError("rename \(tmp)") }
        let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    static func posixError(_ what: String) -> DatabaseError {
        DatabaseError(.unknownError, "\(what): \(String(cString: strerror(errno)))")
    }
}
