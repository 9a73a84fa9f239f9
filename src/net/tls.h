#pragma once

// TLS for one connection, over memory buffers: the session never touches
// the socket. The stream feeds it the bytes that came in and sends the
// bytes it produced, so plain and TLS connections share one poll()-based
// I/O loop (and writing never raises SIGPIPE).
//
// The OpenSSL implementation lives in its own library (tbucket_tls) and is
// switched on with enable_tls(): a program that never calls it carries no
// OpenSSL, whose start-up relocations would otherwise cost every one-shot
// command, TLS or not.

#include <memory>
#include <string>
#include <string_view>

#include "net/url.h"

namespace tbucket {

class TlsSession {
  public:
    virtual ~TlsSession() = default;

    enum class Step { done, want_input, closed, failed };

    // One step of the handshake; call again after feeding input.
    virtual Step handshake() = 0;
    // Encrypts application bytes into the output.
    virtual bool encrypt(std::string_view plain) = 0;
    // Appends what can be decrypted from the input so far: done when some
    // bytes came out, want_input when more input is needed first.
    virtual Step decrypt(std::string& plain) = 0;
    // Bytes received from the server.
    virtual void feed(const char* data, std::size_t size) = 0;
    // Bytes for the server, taken out of the session.
    virtual std::string take_output() = 0;
    // Why the last step failed, in words for a user ("the server's
    // certificate is signed by an unknown CA; …").
    virtual std::string failure() const = 0;
    // The server's session ticket came and went to the session cache.
    virtual bool session_kept() const { return false; }
    // The server asked for a client certificate and none was given.
    virtual bool certificate_asked() const { return false; }
};

using TlsFactory = std::unique_ptr<TlsSession> (*)(const TlsOptions& options,
                                                   const std::string& host, int port);
void set_tls_factory(TlsFactory factory);

// A session for `host` (port `port`: with the host, what a cached TLS
// session is for; see tls_cache.h); throws Error(usage) when a certificate or key file
// cannot be used, Error(internal) when TLS was not enabled in this program.
std::unique_ptr<TlsSession> make_tls_session(const TlsOptions& options, const std::string& host,
                                             int port);
bool tls_enabled();

// Links and switches on the OpenSSL implementation (tbucket_tls).
void enable_tls();

}  // namespace tbucket
