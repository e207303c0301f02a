import GraphValues
import NIOCore

/// Writes server messages, chunked, into an outbound buffer (bolt.md §3.3, §5).
public struct BoltResponseEncoder: Sendable {
    public var version: BoltVersion
    public var packStream: PackStreamEncoder

    public init(version: BoltVersion, options: PackStreamOptions? = nil) {
        self.version = version
        self.packStream = PackStreamEncoder(options: options ?? PackStreamOptions(version: version))
    }

    public func writeSuccess(_ metadata: [String: Value], to buffer: inout ByteBuffer) {
        let start = BoltChunkEncoder.beginMessage(&buffer)
        PackStreamEncoder.writeStructHeader(tag: 0x70, fieldCount: 1, to: &buffer)
        packStream.writeMap(metadata, to: &buffer)
        BoltChunkEncoder.endMessage(&buffer, start: start)
    }

    /// A RECORD written straight from the row (no intermediate list value).
    @inlinable
    public func writeRecord(_ values: [Value], to buffer: inout ByteBuffer) {
        let start = BoltChunkEncoder.beginMessage(&buffer)
        PackStreamEncoder.writeStructHeader(tag: 0x71, fieldCount: 1, to: &buffer)
        PackStreamEncoder.writeListHeader(count: values.count, to: &buffer)
        for value in values {
            packStream.write(value, to: &buffer)
        }
        BoltChunkEncoder.endMessage(&buffer, start: start)
    }

    public func writeIgnored(to buffer: inout ByteBuffer) {
        buffer.writeBytes([0x00, 0x02, 0xB0, 0x7E, 0x00, 0x00])
    }

    public func writeFailure(_ error: DatabaseError, to buffer: inout ByteBuffer) {
        writeSuccessLike(tag: 0x7F, failureMetadata(error), to: &buffer)
    }

    func writeSuccessLike(tag: UInt8, _ metadata: [String: Value], to buffer: inout ByteBuffer) {
        let start = BoltChunkEncoder.beginMessage(&buffer)
        PackStreamEncoder.writeStructHeader(tag: tag, fieldCount: 1, to: &buffer)
        packStream.writeMap(metadata, to: &buffer)
        BoltChunkEncoder.endMessage(&buffer, start: start)
    }

    /// ≤5.6: `{code, message}`. 5.7+: the GQL form; Python 6 reads `neo4j_code` and treats a bare `code` as an
    /// unknown, non-retryable error (bolt.md §5), so the form follows the negotiated version.
    public func failureMetadata(_ error: DatabaseError) -> [String: Value] {
        guard version.hasGQLErrors else {
            return ["code": .string(error.code.rawValue), "message": .string(error.message)]
        }
        let (status, description) = Self.gqlStatus(for: error)
        let classification: String
        switch error.code.classification {
        case "ClientError": classification = "CLIENT_ERROR"
        case "TransientError": classification = "TRANSIENT_ERROR"
        default: classification = "DATABASE_ERROR"
        }
        return [
            "neo4j_code": .string(error.code.rawValue),
            "message": .string(error.message),
            "gql_status": .string(status),
            "description": .string(description + " " + error.message),
            "diagnostic_record": .map([
                "OPERATION": .string(""), "OPERATION_CODE": .string("0"), "CURRENT_SCHEMA": .string("/"),
                "_classification": .string(classification),
            ]),
        ]
    }

    static func gqlStatus(for error: DatabaseError) -> (String, String) {
        switch error.code {
        case .syntaxError:
            return ("42001", "error: syntax error or access rule violation - invalid syntax.")
        case .parameterMissing:
            return ("42N51", "error: syntax error or access rule violation - invalid parameter.")
        case .unauthorized, .credentialsExpired, .authenticationRateLimit:
            return ("42NFF", "error: syntax error or access rule violation - permission/access denied.")
        case .forbidden, .accessMode:
            return ("42NFF", "error: syntax error or access rule violation - permission/access denied.")
        case .invalidFormat, .invalidRequest:
            return ("50N42", "error: general processing exception - unexpected error.")
        default:
            return ("50N42", "error: general processing exception - unexpected error.")
        }
    }
}
