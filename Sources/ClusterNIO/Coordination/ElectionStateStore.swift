import ClusterCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps `PersistentElectionState` (current epoch and vote) in `<stateDirectory>/cluster-election-state`.
///
/// A vote must survive a crash, or a restarted member could vote twice in one epoch (docs/clustering-design.md).
/// Each save writes a temporary file, fsyncs it, renames it over the old one and fsyncs the directory, so a crash
/// leaves either the old or the new state, never a torn one. The file is a few lines of text an operator can read:
///
///     trellis-election-state 1
///     epoch 7
///     voted-for 2          (or "voted-for -")
struct ElectionStateStore: Sendable {
    static let fileName = "cluster-election-state"
    private static let header = "trellis-election-state 1"

    let directory: String
    var path: String { directory + "/" + Self.fileName }

    /// Reads the saved state; a missing file is a member that never voted. A corrupt file is an error the operator
    /// must look at (guessing could mean a second vote in an epoch).
    func load() throws -> PersistentElectionState {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return PersistentElectionState() }
            throw CoordinationError("cannot read the election state \(path): \(Self.errorText(errno))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while bytes.count <= 4096 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CoordinationError("cannot read the election state \(path): \(Self.errorText(errno))")
            }
            if n == 0 { break }
            bytes += chunk.prefix(n)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CoordinationError("the election state \(path) is not text; move it away only if this member is "
                + "known not to have voted in the current epoch")
        }
        return try Self.parse(text, path: path)
    }

    static func parse(_ text: String, path: String) throws -> PersistentElectionState {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        func corrupt() -> CoordinationError {
            CoordinationError("the election state \(path) is corrupt (\(lines.prefix(3))); move it away only if this "
                + "member is known not to have voted in the current epoch")
        }
        guard lines.count == 3, lines[0] == header else { throw corrupt() }
        let epochParts = lines[1].split(separator: " ")
        let voteParts = lines[2].split(separator: " ")
        guard epochParts.count == 2, epochParts[0] == "epoch", let epoch = UInt64(epochParts[1]),
              voteParts.count == 2, voteParts[0] == "voted-for"
        else { throw corrupt() }
        var votedFor: MemberID?
        if voteParts[1] != "-" {
            guard let id = Int(voteParts[1]) else { throw corrupt() }
            votedFor = MemberID(id)
        }
        return PersistentElectionState(currentEpoch: Epoch(epoch), votedFor: votedFor)
    }

    static func render(_ state: PersistentElectionState) -> String {
        let vote = state.votedFor.map { String($0.rawValue) } ?? "-"
        return "\(header)\nepoch \(state.currentEpoch.rawValue)\nvoted-for \(vote)\n"
    }

    /// Makes sure the directory exists (one level; the server creates the data directory itself).
    func prepareDirectory() throws {
        if mkdir(directory, 0o755) != 0, errno != EEXIST {
            throw CoordinationError("cannot create the cluster state directory \(directory): \(Self.errorText(errno))")
        }
    }

    /// Durably replaces the saved state. Blocks on fsync: call it off the event loop.
    func save(_ state: PersistentElectionState) throws {
        let temporary = path + ".tmp"
        let bytes = Array(Self.render(state).utf8)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw CoordinationError("cannot write the election state \(temporary): \(Self.errorText(errno))")
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw CoordinationError("cannot write the election state \(temporary): \(Self.errorText(code))")
            }
            written += n
        }
        if fsync(fd) != 0 {
            let code = errno
            close(fd)
            throw CoordinationError("fsync of the election state \(temporary) failed: \(Self.errorText(code))")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            throw CoordinationError("cannot rename \(temporary) to \(path): \(Self.errorText(errno))")
        }
        let directoryFD = open(directory, O_RDONLY)
        guard directoryFD >= 0 else {
            throw CoordinationError("cannot open \(directory) to make the election state durable: "
                + Self.errorText(errno))
        }
        defer { close(directoryFD) }
        if fsync(directoryFD) != 0 {
            throw CoordinationError("fsync of \(directory) failed: \(Self.errorText(errno))")
        }
    }

    private static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
