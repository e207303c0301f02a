import GraphValues
import NIOHTTP1
import TrellisService

extension APIResponder {
    /// Query API v2 (http-api.md §8).
    func queryAPIv2(_ route: Route, _ request: APIRequest) -> APIResponse {
        .errors(.notFound, [DatabaseError(.invalidRequest, "No resource at \(request.path).")])
    }
}
