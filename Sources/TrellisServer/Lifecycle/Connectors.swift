import Foundation
import HTTPAPI
import Logging
import NIOSSL

extension HTTPServer: Connector {}

/// Starts the HTTP connector (and HTTPS when enabled), mapping `dbms.connector.http*`,
/// `dbms.rest.transaction.idle_timeout`, `dbms.security.ha_status_auth_enabled` and `dbms.logs.http.*`.
/// A single instance passes no HA status provider, so `/db/manage/server/ha/*` answers as a non-HA Neo4j; an HA
/// member passes its `HAInstance`.
func startConnectors(
    config: Config, service: TrellisDatabaseService, logs: LogSystem, haStatus: (any HAStatusProvider)? = nil
) throws -> [any Connector] {
    var started: [any Connector] = []
    var requestLog: (@Sendable (String) -> Void)?
    if let file = logs.httpLog {
        requestLog = { @Sendable line in file.append(line) }
    }
    func make(_ listen: Setting<SocketAddressSetting>, _ advertised: Setting<SocketAddressSetting?>, tls: NIOSSLContext?)
        throws -> HTTPServer
    {
        let (host, port) = config.listenAddress(listen)
        let adv = config.advertisedAddress(advertised, listen: listen)
        let server = HTTPServer(
            configuration: HTTPServer.Configuration(
                host: host, port: port, advertisedAddress: "\(adv.host):\(adv.port)",
                boltAdvertisedAddress: config.boltAdvertisedAddress,
                transactionIdleTimeout: config.get(Settings.restTransactionIdleTimeout),
                haStatusAuthEnabled: config.get(Settings.haStatusAuthEnabled), tlsContext: tls, requestLog: requestLog),
            service: service, haStatus: haStatus, logger: logs.logger("http"))
        do {
            try server.start()
        } catch {
            throw StartupErrors.connectorFailure(
                tls == nil ? "HTTP" : "HTTPS", host: host, port: port, setting: listen.name, error)
        }
        return server
    }
    do {
        if config.get(Settings.httpEnabled) {
            let server = try make(Settings.httpListenAddress, Settings.httpAdvertisedAddress, tls: nil)
            started.append(server)
            let (host, port) = config.listenAddress(Settings.httpListenAddress)
            logs.userLog.info("Remote interface available at http://\(host):\(server.localPort ?? port)/")
        }
        if config.get(Settings.httpsEnabled) {
            guard let pair = ServerInstance.certificatePair(config, purpose: "https") else {
                throw LifecycleError(
                    "dbms.connector.https.enabled=true but no key pair was found in \(config.certificatesDirectory) "
                        + "(https/private.key and https/public.crt)")
            }
            let tls = try NIOSSLContext(configuration: TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(pair.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: pair.key, format: .pem))))
            let server = try make(Settings.httpsListenAddress, Settings.httpsAdvertisedAddress, tls: tls)
            started.append(server)
            let (host, port) = config.listenAddress(Settings.httpsListenAddress)
            logs.userLog.info("Remote interface available at https://\(host):\(server.localPort ?? port)/")
        }
    } catch {
        for s in started.reversed() { s.stop() }
        throw error
    }
    return started
}
