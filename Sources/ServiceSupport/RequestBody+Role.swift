import ClusterModel
import Wire

/// The least role that may send the request body with field number `field` of
/// `Proto/sightline.proto` (`Request.body`): the one table of what each role may do. Unknown
/// fields count as read; the decoder refuses them anyway.
public func requiredRole(forBodyField field: UInt64) -> AccessRole {
    switch field {
    case 12, 13: return .write        // add, delete
    case 16, 18, 22, 23, 24, 26, 27, 28, 29:  // codebook_push, shard_transfer, placement_update, shard_export,
        return .cluster               // shard_flow, cluster_change, backup, replica_pull, replica_apply
    default: return .read             // search, search_batch, stats, health, codebook_fetch, verify, identify, fetch_vectors,
                                      // cluster_status
    }
}

extension RequestBody {
    /// The least role that may send this request.
    public var requiredRole: AccessRole { ServiceSupport.requiredRole(forBodyField: fieldNumber) }
}
