import CNNG

/// Copies bytes into a new nng message. The caller owns it until a send succeeds.
func makeMessage(_ bytes: [UInt8]) throws(TransportError) -> OpaquePointer {
    var message: OpaquePointer?
    try check(nng_msg_alloc(&message, 0), "allocate message")
    let code = bytes.withUnsafeBytes { nng_msg_append(message, $0.baseAddress, $0.count) }
    if code != 0 { nng_msg_free(message) }
    try check(code, "fill message")
    return message!
}

/// Lends a message's body to `body` without copying it, then frees the message: a frame is read
/// where nng received it (a refused 64 MiB frame costs no second 64 MiB).
func withBody<T>(of message: OpaquePointer, _ body: (UnsafeRawBufferPointer) -> T) -> T {
    defer { nng_msg_free(message) }
    let length = nng_msg_len(message)
    guard length > 0, let start = nng_msg_body(message) else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    return body(UnsafeRawBufferPointer(start: start, count: length))
}

/// Copies a message body out and frees the message.
func consumeMessage(_ message: OpaquePointer) -> [UInt8] {
    defer { nng_msg_free(message) }
    let length = nng_msg_len(message)
    guard length > 0, let body = nng_msg_body(message) else { return [] }
    return Array(UnsafeRawBufferPointer(start: body, count: length))
}
