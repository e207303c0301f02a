/// HTTPAPI: Trellis's HTTP front end, compatible with Neo4j's HTTP API.
///
/// - `HTTPServer`: SwiftNIO HTTP/1.1 server; `HTTPServer.Configuration` carries the `dbms.connector.http.*` settings.
/// - Discovery at `/`, the transactional Cypher endpoint at `/db/data/transaction…` (3.x) and `/db/{db}/tx…` (4.x+),
///   the Query API v2 at `/db/{db}/query/v2…`, the Neo4j 3.x user resource `/user/{name}[/password]`.
/// - HA status endpoints `/db/manage/server/ha/{master,slave,available}`, answered from an `HAStatusProvider`.
/// - `/browser/`: a self-contained page to run Cypher and see tables and graphs.
///
/// The only contract with the database is `TrellisService.DatabaseService`. See docs/http-api.md.
