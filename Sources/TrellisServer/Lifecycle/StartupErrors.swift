import Foundation
import NIOCore

/// Operator-facing wording for the start-up failures met most often: a folder that cannot be created and a port
/// that cannot be bound. Foundation and SwiftNIO describe these as their own error dumps (`Error
/// Domain=NSCocoaErrorDomain Code=642 …`, `bind(descriptor:ptr:bytes:): … (errno: 98)`); an operator needs the
/// path or address, the setting that chose it and the system's reason in words.
enum StartupErrors {
    /// The errno behind `error`, when there is one (NIO's `IOError`, Foundation's POSIX errors, or a message that
    /// quotes NIO's "(errno: N)").
    static func errnoCode(_ error: any Error) -> Int32? {
        if let io = error as? IOError { return io.errnoCode }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
        // swift-corelibs-foundation keeps the POSIX error under NSUnderlyingErrorKey as a Swift error value.
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error {
            let posix = underlying as NSError
            if posix.domain == NSPOSIXErrorDomain { return Int32(posix.code) }
        }
        let text = "\(error)"
        guard let start = text.range(of: "(errno: "), let end = text[start.upperBound...].firstIndex(of: ")") else {
            return nil
        }
        return Int32(text[start.upperBound..<end])
    }

    /// The system's reason in words ("Read-only file system"), or the error's own description without one.
    static func reason(_ error: any Error) -> String {
        if let code = errnoCode(error) { return String(cString: strerror(code)) }
        return "\(error)"
    }

    /// Creates `path` (and its parents) or throws a message naming the folder, the setting behind it and why.
    static func createDirectory(_ path: String, setting: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw LifecycleError("cannot create the folder \(path) (\(setting)): \(reason(error))")
        }
    }

    /// `error` from starting a connector, reworded when it is a socket error (a failed bind): anything else (a
    /// TLS certificate that cannot be loaded) already says what it is and is returned as it is.
    static func connectorFailure(
        _ connector: String, host: String, port: Int, setting: String, _ error: any Error
    ) -> any Error {
        errnoCode(error) == nil ? error : cannotListen(connector, host: host, port: port, setting: setting, error)
    }

    /// A connector that could not bind: address, setting, reason, and what to do for the usual reasons.
    static func cannotListen(
        _ connector: String, host: String, port: Int, setting: String, _ error: any Error
    ) -> LifecycleError {
        var message = "cannot listen for \(connector) on \(host):\(port) (\(setting)): \(reason(error))"
        switch errnoCode(error) {
        case EADDRINUSE:
            message += "; another process (or another Trellis) holds that port: stop it or set \(setting) to a free port"
        case EADDRNOTAVAIL:
            message += "; \(host) is not an address of this machine"
        case EACCES:
            message += "; ports below 1024 need privileges"
        default:
            break
        }
        return LifecycleError(message)
    }
}
