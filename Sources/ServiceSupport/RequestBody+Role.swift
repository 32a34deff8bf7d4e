import ClusterModel
import Wire

/// The least role that may send the request body with field number `field` of
/// `Proto/sightline.proto` (`Request.body`): the one table of what each role may do. Unknown
/// fields count as read; the decoder refuses them anyway.
public func requiredRole(forBodyField field: UInt64) -> AccessRole {
    switch field {
    case 12, 13: return .write        // add, delete
    case 16, 18: return .cluster      // codebook_push, shard_transfer
    default: return .read             // search, search_batch, stats, health, codebook_fetch, verify, identify, fetch_vectors
    }
}

extension RequestBody {
    /// The least role that may send this request.
    public var requiredRole: AccessRole { ServiceSupport.requiredRole(forBodyField: fieldNumber) }
}
