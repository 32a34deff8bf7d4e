import CNNG
import Foundation

/// TLS for one end of a link (nng's `tls+tcp://` transport, mbedTLS underneath): PEM files of
/// the cluster's certificate authority and of this node's certificate and key
/// (`scripts/make-certs` makes a development set).
public struct TLSSettings: Sendable, Equatable {
    public var certificateAuthorityFile: String
    public var certificateFile: String?
    public var keyFile: String?
    /// The name the peer's certificate must carry (`scripts/make-certs` issues "sightline").
    public var serverName: String
    /// A server that demands a CA-signed certificate from every client: workers do, since only
    /// the coordinator may talk to them.
    public var requiresClientCertificate: Bool

    public init(certificateAuthorityFile: String, certificateFile: String? = nil, keyFile: String? = nil,
                serverName: String = "sightline", requiresClientCertificate: Bool = false) {
        self.certificateAuthorityFile = certificateAuthorityFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.requiresClientCertificate = requiresClientCertificate
    }

    static let scheme = "tls+tcp://"

    /// Refuses a plaintext address when TLS is configured, and a TLS address without it.
    static func check(_ url: String, _ settings: TLSSettings?) throws(TransportError) {
        let secure = url.hasPrefix(scheme)
        if settings != nil, !secure {
            throw .tls("\(url) is plaintext while TLS is configured: use \(scheme)HOST:PORT")
        }
        if settings == nil, secure {
            throw .tls("\(url) needs TLS settings: give the CA file (--tls-ca, or [tls] in the config)")
        }
    }
}

/// An nng TLS configuration built from `TLSSettings`, freed with its owner.
final class TLSConfiguration: @unchecked Sendable {
    // nng configurations are reference counted and thread-safe once built.
    let handle: OpaquePointer

    init(_ settings: TLSSettings, server: Bool) throws(TransportError) {
        func read(_ path: String) throws(TransportError) -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw .tls("cannot read \(path): give a PEM file (scripts/make-certs makes a development set)")
            }
            return text
        }
        var allocated: OpaquePointer?
        try check(nng_tls_config_alloc(&allocated, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT), "allocate TLS configuration")
        guard let allocated else { throw .tls("nng returned no TLS configuration") }
        handle = allocated
        let authority = try read(settings.certificateAuthorityFile)
        try check(nng_tls_config_ca_chain(handle, authority, nil), "load CA \(settings.certificateAuthorityFile)")
        if let certificateFile = settings.certificateFile, let keyFile = settings.keyFile {
            let certificate = try read(certificateFile), key = try read(keyFile)
            try check(nng_tls_config_own_cert(handle, certificate, key, nil), "load certificate \(certificateFile)")
        } else if server {
            throw .tls("a TLS server needs its certificate and key (--tls-cert, --tls-key, or cert and key in [tls])")
        }
        if server {
            let mode = settings.requiresClientCertificate ? NNG_TLS_AUTH_MODE_REQUIRED : NNG_TLS_AUTH_MODE_OPTIONAL
            try check(nng_tls_config_auth_mode(handle, mode), "set TLS authentication mode")
        } else {
            try check(nng_tls_config_server_name(handle, settings.serverName), "set TLS server name")
            try check(nng_tls_config_auth_mode(handle, NNG_TLS_AUTH_MODE_REQUIRED), "set TLS authentication mode")
        }
    }

    deinit { nng_tls_config_free(handle) }
}
