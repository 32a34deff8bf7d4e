import Wire

/// Typed forms of the calls the command line and the tests make.
extension ServiceClient {
    public func search(_ batch: VectorBatch, options: SearchOptions, deadlineMilliseconds: Int = 5000) throws(ClientError) -> SearchReply {
        guard case .searchBatch(let reply) = try call(.searchBatch(batch, options: options),
                                                      deadlineMilliseconds: deadlineMilliseconds) else {
            throw .unexpectedReply("not a search reply")
        }
        return reply
    }

    public func add(_ batch: AddBatch, deadlineMilliseconds: Int = 60_000) throws(ClientError) -> (added: UInt64, ignored: UInt64) {
        guard case .add(let added, let ignored, _) = try call(.add(batch), deadlineMilliseconds: deadlineMilliseconds) else {
            throw .unexpectedReply("not an add reply")
        }
        return (added, ignored)
    }

    public func health(deadlineMilliseconds: Int = 2000) throws(ClientError) -> HealthReply {
        guard case .health(let reply) = try call(.health, deadlineMilliseconds: deadlineMilliseconds) else {
            throw .unexpectedReply("not a health reply")
        }
        return reply
    }

    public func stats(deadlineMilliseconds: Int = 5000) throws(ClientError) -> (shards: [ShardStatsReply], total: UInt64) {
        guard case .stats(let shards, let total) = try call(.stats, deadlineMilliseconds: deadlineMilliseconds) else {
            throw .unexpectedReply("not a stats reply")
        }
        return (shards, total)
    }
}

extension ServiceClient {
    public func clusterStatus(deadlineMilliseconds: Int = 5000) throws(ClientError) -> ClusterStatusReply {
        guard case .clusterStatus(let reply) = try call(.clusterStatus, deadlineMilliseconds: deadlineMilliseconds) else {
            throw .unexpectedReply("not a cluster status reply")
        }
        return reply
    }

    public func changeCluster(_ change: ClusterChangeRequest,
                              deadlineMilliseconds: Int = 30_000) throws(ClientError) -> ClusterStatusReply {
        guard case .clusterChange(let reply) = try call(.clusterChange(change), deadlineMilliseconds: deadlineMilliseconds) else {
            throw .unexpectedReply("not a cluster change reply")
        }
        return reply
    }
}
