import CNNG
import Dispatch
import Foundation

/// Bytes of one message, read straight into memory of its own (a large frame is never copied
/// again) and freed with the last reference.
final class MessageBuffer: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    init(count: Int) { storage = .allocate(byteCount: max(1, count), alignment: 16) }
    deinit { storage.deallocate() }
    var count: Int { storage.count }
}

/// What a `StreamLink` tells its owner as bytes arrive; called from nng's threads, one call at a
/// time per link.
protocol StreamLinkDelegate: AnyObject, Sendable {
    /// The peer's greeting named `protocolNumber`; false closes the link.
    func link(_ link: StreamLink, greetedWith protocolNumber: UInt16) -> Bool
    /// A whole message of `length` bytes (the buffer may be larger); false pauses reading until
    /// `resume()`.
    func link(_ link: StreamLink, received message: MessageBuffer, length: Int) -> Bool
    /// Asked before each callback read: false stops reading, and the delegate must have called
    /// `pauseNow()` (under its own lock, so that its record of who reads stays true).
    func linkShouldKeepReading(_ link: StreamLink) -> Bool
    /// The link closed (by either side, or on a malformed or oversized frame); called once.
    func linkClosed(_ link: StreamLink, _ error: TransportError)
}

/// One nng byte stream carrying scalability-protocols frames (`SPFraming`). Sends block the
/// calling thread, which writes the frame itself (usually one `sendmsg`, no other thread
/// involved). Reads come two ways, one at a time: an aio callback that assembles frames and hands
/// each to the delegate (a wake-up of nng's poller thread and one of its task threads per read),
/// or `readBlocking`, where a thread waiting for a reply reads for itself (the poller wakes it
/// directly, and bytes already there are read with no wake-up at all). nng's REQ/REP sockets
/// pass each message through four or five threads.
///
/// `@unchecked Sendable`: nng streams are thread-safe; sends are serialized by `writeLock`; the
/// read state is touched by one reader at a time: the callback, or while paused (no callback
/// read in flight) `resume()` or `readBlocking`.
final class StreamLink: @unchecked Sendable {
    let id: UInt32
    let scheme: SPFraming.Scheme
    /// TLS links are never timed out through their aios (see `send`).
    let usesTLS: Bool
    private let stream: OpaquePointer
    private let limit: Int
    private weak var delegate: (any StreamLinkDelegate)?
    private let writeLock = NSLock()
    private var sendAio: OpaquePointer?
    private var readAio: OpaquePointer?
    private var blockingAio: OpaquePointer?
    private var greetAio: OpaquePointer?
    /// This side's greeting, kept until it is sent.
    private var greeting: [UInt8] = []
    /// The delegate has heard of the closing (under `closeLock`).
    private var finished = false
    private let closeLock = NSLock()
    private var isClosed = false
    /// The delegate paused reading and no read is in flight (under `closeLock`).
    private var paused = false
    /// `resume()` came before the pause it ends (under `closeLock`).
    private var resumeEarly = false
    /// A thread is in `readBlocking` (under `closeLock`).
    private var blockingRead = false

    // Read state: callback thread (or `resume` while paused) only.
    private static let bufferSize = 64 << 10
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamLink.bufferSize, alignment: 16)
    private var start = 0, end = 0
    private var greeted = false
    private var message: MessageBuffer?
    private var messageLength = 0, messageFilled = 0
    /// True while a read into the message itself (not the buffer) is in flight.
    private var readingIntoMessage = false

    /// Takes ownership of `stream`. Frames above `limit` bytes close the link.
    init(id: UInt32, stream: OpaquePointer, scheme: SPFraming.Scheme, usesTLS: Bool, limit: Int,
         delegate: any StreamLinkDelegate) throws(TransportError) {
        self.id = id
        self.usesTLS = usesTLS
        self.stream = stream
        self.scheme = scheme
        self.limit = limit
        self.delegate = delegate
        do {
            try check(nng_aio_alloc(&sendAio, nil, nil), "allocate aio")
            try check(nng_aio_alloc(&blockingAio, nil, nil), "allocate aio")
        } catch {
            if let sendAio { nng_aio_free(sendAio) }
            nng_stream_free(stream)
            buffer.deallocate()
            throw error
        }
    }

    deinit {
        nng_stream_close(stream)
        if let sendAio { nng_aio_free(sendAio) }
        if let blockingAio { nng_aio_free(blockingAio) }
        nng_stream_free(stream)
        buffer.deallocate()
        // The last reference may go at the end of the read or greeting callback itself, whose aio
        // cannot be freed until the callback returns: another thread frees both (nng waits for
        // the callbacks).
        let handles = [readAio, greetAio].compactMap { $0 }.map(UncheckedAio.init)
        if !handles.isEmpty {
            DispatchQueue.global().async { for handle in handles { nng_aio_free(handle.aio) } }
        }
    }

    /// The peer's address (nil for IPC).
    var peer: PeerAddress? {
        var address = nng_sockaddr()
        guard nng_stream_get_addr(stream, NNG_OPT_REMADDR, &address) == 0 else { return nil }
        return PeerAddress(address)
    }

    /// Sends this side's greeting and starts reading; blocks nobody (it runs in nng's callbacks,
    /// and a TLS peer may take its time over the handshake). The greeting is queued before any
    /// reply can be, and nng writes a stream's sends in order. The link keeps itself alive until
    /// it closes.
    func open(greeting protocolNumber: UInt16) throws(TransportError) {
        greeting = SPFraming.greeting(protocolNumber)
        let sending = Unmanaged.passRetained(self).toOpaque()
        var code = nng_aio_alloc(&greetAio, streamLinkGreetCallback, sending)
        if code != 0 { Unmanaged<StreamLink>.fromOpaque(sending).release() }
        try check(code, "allocate aio")
        let reading = Unmanaged.passRetained(self).toOpaque()
        code = nng_aio_alloc(&readAio, streamLinkReadCallback, reading)
        if code != 0 { Unmanaged<StreamLink>.fromOpaque(reading).release() }
        try check(code, "allocate aio")
        greeting.withUnsafeMutableBytes { bytes in
            var iov = nng_iov(iov_buf: bytes.baseAddress, iov_len: bytes.count)
            _ = nng_aio_set_iov(greetAio, 1, &iov)
        }
        // No timeout (see `send`): a link whose greeting never goes out is closed by its owner.
        nng_stream_send(stream, greetAio)
        read()
    }

    /// The greeting went out (or not: then the link closes). Drops the reference the send held,
    /// off nng's thread.
    fileprivate func didGreet() {
        if nng_aio_result(greetAio) != 0 || nng_aio_count(greetAio) != greeting.count { close() }
        let owner = Unmanaged.passUnretained(self)
        DispatchQueue.global().async { owner.release() }
    }

    /// Closes the stream: reads and sends in flight fail, and the delegate hears of it once.
    func close() {
        closeLock.lock()
        let first = !isClosed
        isClosed = true
        let idle = paused && !blockingRead
        closeLock.unlock()
        guard first else { return }
        nng_stream_close(stream)
        // With a read in flight, its failure reports the closing.
        if idle { finish(.closed) }
    }

    /// Stops callback reading from within `linkShouldKeepReading` (the delegate's decision, made
    /// under its lock).
    func pauseNow() {
        closeLock.lock()
        paused = true
        closeLock.unlock()
    }

    var closed: Bool {
        closeLock.lock()
        defer { closeLock.unlock() }
        return isClosed
    }

    // MARK: Sending

    /// Writes `prefix` then `body` as one frame, blocking until every byte is written or
    /// `timeoutMilliseconds` pass (then the link closes: a half-written frame cannot be taken back).
    /// A send that failed before any of its bytes went out leaves the link open (nothing to take
    /// back); waiting behind another thread's send counts against the same deadline.
    func send(prefix: [UInt8], body: [UInt8], timeoutMilliseconds: Int) throws(TransportError) {
        let (result, started): (Int32, Bool) = body.withUnsafeBytes { body in
            prefix.withUnsafeBytes { prefix in send([prefix, body], timeoutMilliseconds: timeoutMilliseconds) }
        }
        if result != 0 {
            if started { close() }
            try check(result, "send")
        }
    }

    private func send(_ parts: [UnsafeRawBufferPointer], timeoutMilliseconds: Int) -> (Int32, started: Bool) {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(1, timeoutMilliseconds)) * 1_000_000
        guard writeLock.lock(before: Date(timeIntervalSinceNow: Double(max(1, timeoutMilliseconds)) / 1000)) else {
            return (Int32(NNG_ETIMEDOUT.rawValue), false)
        }
        defer { writeLock.unlock() }
        if closed { return (Int32(NNG_ECLOSED.rawValue), false) }
        let total = parts.reduce(0) { $0 + $1.count }
        var sent = 0
        while sent < total {
            var iovs: [nng_iov] = []
            var skip = sent
            for part in parts where part.count > 0 {
                if skip >= part.count { skip -= part.count; continue }
                iovs.append(nng_iov(iov_buf: UnsafeMutableRawPointer(mutating: part.baseAddress! + skip), iov_len: part.count - skip))
                skip = 0
            }
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return (Int32(NNG_ETIMEDOUT.rawValue), sent > 0) }
            let code = iovs.withUnsafeMutableBufferPointer { nng_aio_set_iov(sendAio, UInt32($0.count), $0.baseAddress) }
            if code != 0 { return (code, sent > 0) }
            // Over TLS the deadline closes the link instead of timing the aio out: nng 1.5's TLS
            // stream answers a timeout by aborting its TCP send, which can leave the send hanging.
            var expiry: DispatchWorkItem?
            if usesTLS {
                nng_aio_set_timeout(sendAio, -1)
                let item = DispatchWorkItem { [weak self] in self?.close() }
                DispatchQueue.global().asyncAfter(deadline: .init(uptimeNanoseconds: deadline), execute: item)
                expiry = item
            } else {
                nng_aio_set_timeout(sendAio, Int32(clamping: (deadline - now) / 1_000_000 + 1))
            }
            nng_stream_send(stream, sendAio)
            nng_aio_wait(sendAio)
            expiry?.cancel()
            let result = nng_aio_result(sendAio)
            if result != 0 { return (result, sent > 0 || nng_aio_count(sendAio) > 0) }
            sent += nng_aio_count(sendAio)
        }
        return (0, true)
    }

    // MARK: Reading

    /// Points `aio` at where the next bytes go: into the message when most of a large one is
    /// still to come, else into the buffer's free space.
    private func prepareRead(_ aio: OpaquePointer?) {
        if let message, messageLength - messageFilled >= StreamLink.bufferSize / 2 {
            readingIntoMessage = true
            var iov = nng_iov(iov_buf: message.storage.baseAddress! + messageFilled, iov_len: messageLength - messageFilled)
            _ = nng_aio_set_iov(aio, 1, &iov)
        } else {
            readingIntoMessage = false
            if start == end { start = 0; end = 0 }
            if end == buffer.count {
                // Only a partial header can be left at the end (bodies are copied out as they come).
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
                end -= start
                start = 0
            }
            var iov = nng_iov(iov_buf: buffer.baseAddress! + end, iov_len: buffer.count - end)
            _ = nng_aio_set_iov(aio, 1, &iov)
        }
    }

    private func read() {
        prepareRead(readAio)
        nng_stream_recv(stream, readAio)
    }

    fileprivate func didRead() {
        let code = nng_aio_result(readAio)
        guard code == 0 else { return finish(code == Int32(NNG_ECLOSED.rawValue) ? .closed : failure(code)) }
        advance(by: nng_aio_count(readAio))
        pump()
    }

    private func advance(by count: Int) {
        if readingIntoMessage { messageFilled += count } else { end += count }
    }

    /// One read by the calling thread, while callback reading is paused: the frames it completes
    /// go to the delegate from this thread. Returns false once the link is closed (the delegate
    /// has been told); true when the read ended with or without bytes (`timeoutMilliseconds`).
    func readBlocking(timeoutMilliseconds: Int) -> Bool {
        closeLock.lock()
        let usable = !isClosed && paused && !blockingRead
        if usable { blockingRead = true }
        closeLock.unlock()
        guard usable else {
            if closed { finish(.closed) }
            return !closed
        }
        prepareRead(blockingAio)
        nng_aio_set_timeout(blockingAio, Int32(clamping: max(1, timeoutMilliseconds)))
        nng_stream_recv(stream, blockingAio)
        nng_aio_wait(blockingAio)
        let code = nng_aio_result(blockingAio)
        if code == 0 { advance(by: nng_aio_count(blockingAio)) }
        let alive = code == 0 || code == Int32(NNG_ETIMEDOUT.rawValue)
        var open = alive && deliverBuffered()
        closeLock.lock()
        blockingRead = false
        if isClosed { open = false }
        closeLock.unlock()
        if !open { finish(alive || code == Int32(NNG_ECLOSED.rawValue) ? .closed : failure(code)) }
        return open
    }

    /// Resumes callback reading after a pause: the frames already buffered first. A call that
    /// comes before the pause it answers is kept for it.
    func resume() {
        closeLock.lock()
        guard paused else {
            resumeEarly = true
            closeLock.unlock()
            return
        }
        paused = false
        let closedNow = isClosed
        closeLock.unlock()
        if closedNow { return finish(.closed) }
        pump()
    }

    /// Pauses reading unless a `resume()` already came; true when paused.
    private func pause() -> Bool {
        closeLock.lock()
        defer { closeLock.unlock() }
        if resumeEarly || isClosed {
            resumeEarly = false
            return false
        }
        paused = true
        return true
    }

    /// The callback reader's step: every whole frame in the buffer to the delegate, then the next
    /// read, unless the delegate paused reading.
    private func pump() {
        guard deliverBuffered() else {
            // Paused by the delegate's answer to a frame, or closed.
            if closed { finish(.closed) }
            return
        }
        if closed { return finish(.closed) }
        guard let delegate else { return finish(.closed) }
        guard delegate.linkShouldKeepReading(self) else {
            // A close that came before the pause found reading still on: it is reported here.
            if closed { finish(.closed) }
            return
        }
        read()
    }

    /// Hands every whole frame in the buffer to the delegate. False when reading must stop: the
    /// link closed, the greeting was wrong, a frame too large, or the delegate paused reading.
    private func deliverBuffered() -> Bool {
        while true {
            if closed { return false }
            if let message {
                if start < end, messageFilled < messageLength {
                    let take = min(end - start, messageLength - messageFilled)
                    (message.storage.baseAddress! + messageFilled).copyMemory(from: buffer.baseAddress! + start, byteCount: take)
                    messageFilled += take
                    start += take
                }
                guard messageFilled == messageLength else { return true }
                self.message = nil
                guard let delegate else { return false }
                if !delegate.link(self, received: message, length: messageLength), pause() { return false }
                continue
            }
            let available = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: end - start)
            if !greeted {
                guard available.count >= SPFraming.greetingLength else { return true }
                start += SPFraming.greetingLength
                guard let peer = SPFraming.peerProtocol(available), let delegate, delegate.link(self, greetedWith: peer) else {
                    close()
                    return false
                }
                greeted = true
                continue
            }
            guard available.count >= scheme.headerLength else { return true }
            do {
                messageLength = try SPFraming.messageLength(scheme, available, limit: limit)
            } catch {
                close()
                return false
            }
            start += scheme.headerLength
            message = MessageBuffer(count: messageLength)
            messageFilled = 0
        }
    }

    private func failure(_ code: Int32) -> TransportError {
        do { try check(code, "receive") } catch { return error }
        return .closed
    }

    /// The read side ended: the stream closes, the delegate is told, and the reference the read
    /// held is dropped off nng's thread (an aio is not freed from its own callback).
    private func finish(_ error: TransportError) {
        closeLock.lock()
        let first = !finished
        finished = true
        let wasOpen = !isClosed
        isClosed = true
        closeLock.unlock()
        guard first else { return }
        if wasOpen { nng_stream_close(stream) }
        delegate?.linkClosed(self, error)
        let owner = Unmanaged.passUnretained(self)
        DispatchQueue.global().async { owner.release() }
    }
}

/// An aio handed to the thread that frees it; used there alone.
private struct UncheckedAio: @unchecked Sendable { let aio: OpaquePointer }

private let streamLinkGreetCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    guard let argument else { return }
    Unmanaged<StreamLink>.fromOpaque(argument).takeUnretainedValue().didGreet()
}

private let streamLinkReadCallback: @convention(c) (UnsafeMutableRawPointer?) -> Void = { argument in
    guard let argument else { return }
    Unmanaged<StreamLink>.fromOpaque(argument).takeUnretainedValue().didRead()
}

extension PeerAddress {
    /// The remote address of a tcp or tls+tcp connection; nil for IPC.
    init?(_ address: nng_sockaddr) {
        switch UInt32(address.s_family) {
        case NNG_AF_INET.rawValue:
            self = .ipv4(UInt32(bigEndian: address.s_in.sa_addr))  // nng keeps it in network order
        case NNG_AF_INET6.rawValue:
            self.init(ipv6: withUnsafeBytes(of: address.s_in6.sa_addr) { Array($0) })
        default:
            return nil
        }
    }
}
