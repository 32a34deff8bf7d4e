import NIOCore

/// The first handler of every HTTP connection: it sees the raw bytes and closes a connection that
/// takes too long — no first byte within the idle timeout (after opening or after an answer), no
/// complete head within the header timeout of its first byte, or a head larger than
/// `maxHeadBytes`. While a request is being read and answered (`requestStarted` …
/// `requestAnswered`) it lets bytes through untimed; the request handler times the body itself.
/// One scheduled task per connection at a time; an idle connection costs that and its socket.
final class HTTPConnectionClock: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        /// Waiting for a request's first byte.
        case idle
        /// A head is arriving: `bytes` of it so far.
        case head(bytes: Int)
        /// A request is being read or answered.
        case busy
    }

    private let limits: HTTPLimits
    /// Told when a request starts (true) and is answered (false): a busy connection is never
    /// displaced by a newcomer.
    private let markBusy: @Sendable (Bool) -> Void
    private var state = State.idle
    private var deadline: Scheduled<Void>?

    init(limits: HTTPLimits, markBusy: @escaping @Sendable (Bool) -> Void) {
        self.limits = limits
        self.markBusy = markBusy
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, seconds: limits.idleTimeoutSeconds)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytes
        switch state {
        case .idle:
            state = .head(bytes: bytes)
            arm(context, seconds: limits.headerTimeoutSeconds)
        case .head(let so):
            state = .head(bytes: so + bytes)
        case .busy:
            break
        }
        if case .head(let total) = state, total > limits.maxHeadBytes {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    /// The head of a request is in: no clock runs until it is answered.
    func requestStarted() {
        state = .busy
        markBusy(true)
        deadline?.cancel()
        deadline = nil
    }

    /// The answer was written and the connection stays open: wait for the next request.
    func requestAnswered(context: ChannelHandlerContext) {
        state = .idle
        markBusy(false)
        arm(context, seconds: limits.idleTimeoutSeconds)
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Double) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
            channel.close(promise: nil)
        }
    }
}
