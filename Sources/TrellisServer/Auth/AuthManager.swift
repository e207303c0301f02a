import Crypto
import Foundation
import GraphValues
import Logging
import Synchronization
import TrellisService

/// Authentication and user management over `UserFiles` (neo4j-ops.md §6).
///
/// - First start (no `auth` file): user `neo4j` / `neo4j` with a required password change, role admin.
/// - `auth_max_failed_attempts` wrong passwords in a row lock the user for `auth_lock_time`; while locked even
///   the right password is refused with AuthenticationRateLimit (as Neo4j, so guessing gains nothing).
/// - Every change is written to disk before it is acknowledged.
public final class AuthManager: Sendable {
    public let enabled: Bool
    let files: UserFiles
    let maxFailedAttempts: Int
    let lockTime: Duration
    let iterations: Int
    let now: @Sendable () -> ContinuousClock.Instant
    let logger: Logger

    struct Failures {
        var count = 0
        var lockedUntil: ContinuousClock.Instant?
    }

    struct State {
        var users: [String: UserRecord] = [:]
        var roles: [String: Set<String>] = [:]
        var failures: [String: Failures] = [:]
        /// Recently verified credentials: SHA-256(salt ‖ password) per user, so HTTP (which authenticates every
        /// request) and connection bursts do not pay the slow hash each time. Cleared for a user whenever their
        /// password, roles or status change; entries expire after `cacheTTL` (Neo4j: dbms.security.auth_cache_ttl).
        var verified: [String: (digest: [UInt8], expires: ContinuousClock.Instant)] = [:]
    }

    /// Most users tracked for failed logins / cached verifications; beyond it, stale entries are dropped first.
    static let maxTrackedUsers = 10_000
    let cacheTTL: Duration

    let state: Mutex<State>
    public static let initialUser = "neo4j"
    public static let initialPassword = "neo4j"

    public init(
        enabled: Bool, directory: String, maxFailedAttempts: Int, lockTime: Duration,
        iterations: Int = Credential.defaultIterations, cacheTTL: Duration = .seconds(600), logger: Logger,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) throws {
        self.cacheTTL = cacheTTL
        self.enabled = enabled
        self.files = UserFiles(directory: directory)
        self.maxFailedAttempts = maxFailedAttempts
        self.lockTime = lockTime
        self.iterations = iterations
        self.logger = logger
        self.now = now
        var initial = State()
        if files.exist {
            (initial.users, initial.roles) = try files.load()
        } else if enabled {
            initial.users[Self.initialUser] = UserRecord(
                name: Self.initialUser, credential: Credential.create(password: Self.initialPassword, iterations: iterations),
                passwordChangeRequired: true, suspended: false)
            initial.roles[Role.admin.rawValue] = [Self.initialUser]
            try files.save(users: initial.users, roles: initial.roles)
            logger.info("created initial user neo4j (password change required)", metadata: ["file": "\(files.authPath)"])
        }
        self.state = Mutex(initial)
    }

    /// `trellis admin set-initial-password`: before first start only, writes user neo4j with `password` and no
    /// change required. Refuses when users already exist (as neo4j-admin does).
    public static func setInitialPassword(_ password: String, directory: String, iterations: Int = Credential.defaultIterations)
        throws
    {
        let files = UserFiles(directory: directory)
        guard !files.exist else {
            throw DatabaseError(
                .invalidRequest,
                "users already exist in \(files.authPath); set-initial-password only works before the first start")
        }
        guard !password.isEmpty else { throw DatabaseError(.invalidRequest, "a password cannot be empty") }
        let user = UserRecord(
            name: initialUser, credential: Credential.create(password: password, iterations: iterations),
            passwordChangeRequired: false, suspended: false)
        try files.save(users: [initialUser: user], roles: [Role.admin.rawValue: [initialUser]])
    }

    // MARK: - Authentication

    /// Checks credentials. `scheme` is Bolt's (`basic`, `none`); with auth disabled anything is accepted and the
    /// user gets every permission.
    public func authenticate(scheme: String, principal: String?, credentials: String?) throws -> AuthenticatedUser {
        guard enabled else {
            return AuthenticatedUser(username: principal ?? "", roles: [Role.admin.rawValue], passwordChangeRequired: false)
        }
        guard scheme == "basic", let name = principal, let password = credentials else {
            throw DatabaseError(.unauthorized, "Unsupported authentication token, scheme '\(scheme)' is not supported.")
        }
        let (record, locked) = state.withLock { s -> (UserRecord?, Bool) in
            let f = s.failures[name]
            let locked = f?.lockedUntil.map { now() < $0 } ?? false
            return (s.users[name], locked)
        }
        if locked {
            throw DatabaseError(
                .authenticationRateLimit,
                "The client has provided incorrect authentication details too many times in a row.")
        }
        guard let record, !record.suspended else {
            recordFailure(name)
            throw DatabaseError(.unauthorized, "The client is unauthorized due to authentication failure.")
        }
        let digest = Array(SHA256.hash(data: record.credential.salt + Array(password.utf8)))
        let cached = state.withLock { s -> Bool in
            guard let entry = s.verified[name], now() < entry.expires else { return false }
            return entry.digest == digest
        }
        // The slow hash runs outside the lock so that logins do not serialize on it.
        guard cached || record.credential.matches(password) else {
            recordFailure(name)
            throw DatabaseError(.unauthorized, "The client is unauthorized due to authentication failure.")
        }
        return state.withLock { s in
            s.failures[name] = nil
            if cacheTTL > .zero {
                if s.verified.count >= Self.maxTrackedUsers {
                    let t = now()
                    s.verified = s.verified.filter { $0.value.expires > t }
                    if s.verified.count >= Self.maxTrackedUsers { s.verified.removeAll() }
                }
                s.verified[name] = (digest, now() + cacheTTL)
            }
            return AuthenticatedUser(
                username: name, roles: rolesOf(name, in: s), passwordChangeRequired: record.passwordChangeRequired)
        }
    }

    func recordFailure(_ name: String) {
        state.withLock { s in
            var f = s.failures[name] ?? Failures()
            if let until = f.lockedUntil, now() >= until { f = Failures() }  // lock expired: count afresh
            if s.failures[name] == nil && s.failures.count >= Self.maxTrackedUsers {
                // Bounded: guessing many user names must not grow memory. Forget users not currently locked.
                let t = now()
                s.failures = s.failures.filter { $0.value.lockedUntil.map { t < $0 } ?? false }
            }
            f.count += 1
            if maxFailedAttempts > 0 && f.count >= maxFailedAttempts {
                f.lockedUntil = now() + lockTime
                logger.warning("user locked after failed logins", metadata: ["user": "\(name)", "attempts": "\(f.count)"])
            }
            s.failures[name] = f
        }
    }

    func rolesOf(_ name: String, in s: State) -> [String] {
        s.roles.filter { $0.value.contains(name) }.map(\.key).sorted()
    }

    /// Current roles and flags of a user, for sessions that cache an `AuthenticatedUser`.
    public func refreshed(_ user: AuthenticatedUser) -> AuthenticatedUser {
        guard enabled else { return user }
        return state.withLock { s in
            guard let r = s.users[user.username] else { return AuthenticatedUser(username: user.username, roles: [], passwordChangeRequired: false) }
            return AuthenticatedUser(username: r.name, roles: rolesOf(r.name, in: s), passwordChangeRequired: r.passwordChangeRequired)
        }
    }

    // MARK: - Management (the dbms.security.* procedures)

    func mutate<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { s in
            var copy = s
            let result = try body(&copy)
            try files.save(users: copy.users, roles: copy.roles)  // durable before acknowledged
            copy.verified = [:]  // any change of users or roles invalidates every cached verification
            s = copy
            return result
        }
    }

    static func validateUsername(_ name: String) throws {
        guard !name.isEmpty else { throw DatabaseError(.invalidRequest, "The provided username is empty.") }
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") })
        else {
            throw DatabaseError(
                .invalidRequest,
                "Username '\(name)' contains illegal characters. Use ascii letters, digits, '_', '-' and '.'.")
        }
    }

    public func changePassword(of name: String, to password: String, requireChange: Bool = false) throws {
        guard !password.isEmpty else { throw DatabaseError(.invalidRequest, "A password cannot be empty.") }
        let credential = Credential.create(password: password, iterations: iterations)
        let current = state.withLock { $0.users[name] }
        guard let current else { throw DatabaseError(.invalidRequest, "User '\(name)' does not exist.") }
        if current.credential.matches(password) {
            throw DatabaseError(.invalidRequest, "Old password and new password cannot be the same.")
        }
        try mutate { s in
            guard var u = s.users[name] else { throw DatabaseError(.invalidRequest, "User '\(name)' does not exist.") }
            u.credential = credential
            u.passwordChangeRequired = requireChange
            s.users[name] = u
        }
        logger.info("password changed", metadata: ["user": "\(name)"])
    }

    public func createUser(_ name: String, password: String, requirePasswordChange: Bool) throws {
        try Self.validateUsername(name)
        guard !password.isEmpty else { throw DatabaseError(.invalidRequest, "A password cannot be empty.") }
        let credential = Credential.create(password: password, iterations: iterations)
        try mutate { s in
            guard s.users[name] == nil else {
                throw DatabaseError(.invalidRequest, "The specified user '\(name)' already exists.")
            }
            s.users[name] = UserRecord(
                name: name, credential: credential, passwordChangeRequired: requirePasswordChange, suspended: false)
        }
        logger.info("user created", metadata: ["user": "\(name)"])
    }

    public func deleteUser(_ name: String, by actor: String) throws {
        guard name != actor else { throw DatabaseError(.invalidRequest, "Deleting yourself (user '\(name)') is not allowed.") }
        try mutate { s in
            guard s.users.removeValue(forKey: name) != nil else {
                throw DatabaseError(.invalidRequest, "User '\(name)' does not exist.")
            }
            for role in s.roles.keys { s.roles[role]?.remove(name) }
            s.failures[name] = nil
        }
        logger.info("user deleted", metadata: ["user": "\(name)", "by": "\(actor)"])
    }

    public func addRole(_ role: String, to name: String) throws {
        guard Role(rawValue: role) != nil else { throw DatabaseError(.invalidRequest, "Role '\(role)' does not exist.") }
        try mutate { s in
            guard s.users[name] != nil else { throw DatabaseError(.invalidRequest, "User '\(name)' does not exist.") }
            s.roles[role, default: []].insert(name)
        }
    }

    public func removeRole(_ role: String, from name: String, by actor: String) throws {
        guard Role(rawValue: role) != nil else { throw DatabaseError(.invalidRequest, "Role '\(role)' does not exist.") }
        if role == Role.admin.rawValue && name == actor {
            throw DatabaseError(.invalidRequest, "Removing yourself (user '\(name)') from the admin role is not allowed.")
        }
        try mutate { s in
            guard s.users[name] != nil else { throw DatabaseError(.invalidRequest, "User '\(name)' does not exist.") }
            s.roles[role]?.remove(name)
        }
    }

    public func suspend(_ name: String, suspended: Bool) throws {
        try mutate { s in
            guard var u = s.users[name] else { throw DatabaseError(.invalidRequest, "User '\(name)' does not exist.") }
            u.suspended = suspended
            s.users[name] = u
        }
    }

    /// (name, roles, flags) sorted by name.
    public func listUsers() -> [(name: String, roles: [String], flags: [String])] {
        state.withLock { s in
            s.users.keys.sorted().map { n in (n, rolesOf(n, in: s), s.users[n]!.flags) }
        }
    }

    /// (role, users) for every built-in role.
    public func listRoles() -> [(role: String, users: [String])] {
        state.withLock { s in Role.allCases.map { ($0.rawValue, (s.roles[$0.rawValue] ?? []).sorted()) } }
    }

    public func flags(of name: String) -> [String] { state.withLock { $0.users[name]?.flags ?? [] } }
}
