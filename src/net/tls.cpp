#include "net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "net/tls_cache.h"
#include "util/error.h"

namespace tbucket {
namespace {

struct ContextDeleter {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using ContextPtr = std::unique_ptr<SSL_CTX, ContextDeleter>;

std::string openssl_reason() {
    unsigned long code = ERR_peek_last_error();
    const char* reason = code ? ERR_reason_error_string(code) : nullptr;
    return reason ? reason : "unknown error";
}

// `what` says what the file should have held, for when it can be read but
// OpenSSL finds no use for it.
[[noreturn]] void bad_file(const std::string& option, const std::string& path,
                           const std::string& what) {
    ERR_clear_error();
    std::string why = access(path.c_str(), R_OK) != 0 ? std::strerror(errno) : what;
    throw Error(ErrorKind::usage, "cannot use " + option + " '" + path + "': " + why);
}

// The system's CA store: the hashed directory is looked up lazily, one file
// per issuer, which costs far less than parsing the whole bundle on every
// connection. SSL_CERT_FILE and SSL_CERT_DIR still work as in OpenSSL.
void load_system_cas(SSL_CTX* ctx) {
    const char* file = std::getenv(X509_get_default_cert_file_env());
    if (file && *file && !SSL_CTX_load_verify_file(ctx, file))
        bad_file(X509_get_default_cert_file_env(), file, "no PEM certificates in it");
    const char* dir = std::getenv(X509_get_default_cert_dir_env());
    if (!SSL_CTX_load_verify_dir(ctx, dir && *dir ? dir : X509_get_default_cert_dir()))
        ERR_clear_error();
}

int on_new_session(SSL* ssl, SSL_SESSION* session);
int on_certificate_asked(SSL* ssl, X509** certificate, EVP_PKEY** key);

// The CAs to verify the server with, into the context's store.
void load_trust(SSL_CTX* ctx, const TlsOptions& options) {
    if (!options.ca_file.empty() && !SSL_CTX_load_verify_file(ctx, options.ca_file.c_str()))
        bad_file("--cacert", options.ca_file, "no PEM certificates in it");
    if (!options.ca_dir.empty() && !SSL_CTX_load_verify_dir(ctx, options.ca_dir.c_str()))
        bad_file("--cacertdir", options.ca_dir, "not a directory");
    if (options.ca_file.empty() && options.ca_dir.empty()) load_system_cas(ctx);
}

// Trust read at the first full handshake rather than at set-up: a resumed
// handshake verifies nothing, and parsing a CA certificate costs 2.5 M
// instructions (OpenSSL 3.0's decoders), 11% of a resumed take. Used only
// when a cached session is offered, which exists only for these exact,
// unchanged files (tls_cache::entry_key), so they loaded fine before.
struct LazyTrust {
    TlsOptions options;
    std::once_flag once;
    bool loaded = false;
};

int verify_with_lazy_trust(X509_STORE_CTX* store, void* arg) {
    auto* lazy = static_cast<LazyTrust*>(arg);
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    std::call_once(lazy->once, [&] {
        try {
            load_trust(SSL_get_SSL_CTX(ssl), lazy->options);
            lazy->loaded = true;
        } catch (const Error&) {
            ERR_clear_error();
        }
    });
    if (lazy->loaded) return X509_verify_cert(store);
    X509_STORE_CTX_set_error(store, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    return 0;
}

void load_client_certificate(SSL_CTX* ctx, const TlsOptions& options) {
    if (!options.cert_file.empty() &&
        !SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str())) {
        bad_file("--cert", options.cert_file, "not a PEM certificate");
    }
    if (!options.key_file.empty()) {
        if (!SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM)) {
            bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
            bad_file("--key", options.key_file,
                     mismatch ? "it is not the key of --cert" : "not a PEM private key");
        }
        if (!SSL_CTX_check_private_key(ctx))
            bad_file("--key", options.key_file, "it is not the key of --cert");
    }
}

ContextPtr make_context(const TlsOptions& options, LazyTrust* lazy) {
    ContextPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw Error(ErrorKind::internal, "cannot set up TLS: " + openssl_reason());
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Sessions go to the file cache (tls_cache.h), not OpenSSL's own store,
    // which dies with the process.
    if (options.verify && !options.session_cache_dir.empty()) {
        SSL_CTX_set_session_cache_mode(ctx.get(),
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx.get(), on_new_session);
    }
    if (!options.verify) {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    } else if (lazy) {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        lazy->options = options;
        SSL_CTX_set_cert_verify_callback(ctx.get(), verify_with_lazy_trust, lazy);
    } else {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        load_trust(ctx.get(), options);
    }
    load_client_certificate(ctx.get(), options);
    if (options.cert_file.empty()) SSL_CTX_set_client_cert_cb(ctx.get(), on_certificate_asked);
    return ctx;
}

// Every connection of a process (a waiter has two, a cluster one per node)
// shares one context: the CA store is read once. `resuming`: a cached
// session will be offered, so the CAs are read only if it is refused.
SSL_CTX* shared_context(const TlsOptions& options, bool resuming) {
    static std::mutex mutex;
    static TlsOptions cached_options;
    static ContextPtr cached;
    static std::unique_ptr<LazyTrust> lazy;  // outlives the context using it
    std::lock_guard<std::mutex> lock(mutex);
    if (!cached || !(cached_options == options)) {
        cached.reset();
        lazy = resuming && options.verify ? std::make_unique<LazyTrust>() : nullptr;
        cached = make_context(options, lazy.get());
        cached_options = options;
    }
    return cached.get();
}

bool is_ip_address(const std::string& host) {
    unsigned char buffer[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

std::string describe_verify_error(long result, const std::string& name) {
    switch (result) {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return "the server's certificate is signed by an unknown CA (name it with --cacert, or "
                   "skip the check with "
                   "--insecure)";
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return "the server's certificate does not match the name '" + name +
                   "' (connect with a name the certificate has, or set it with --sni)";
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "the server's certificate has expired";
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "the server's certificate is not valid yet";
        default:
            return std::string("the server's certificate was refused: ") +
                   X509_verify_cert_error_string(result);
    }
}

std::string describe_ssl_error(unsigned long code) {
    switch (ERR_GET_REASON(code)) {
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
        case SSL_R_HTTP_REQUEST:
            return "the server did not answer in TLS (a plain redis:// port?)";
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return "the server requires a client certificate (--cert and --key)";
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
        case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
            return "the server refused the client certificate";
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
            return "the server refused the handshake (does it require a client certificate? --cert "
                   "and --key)";
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return "the server closed the connection during TLS";
        default: {
            const char* reason = ERR_reason_error_string(code);
            return std::string("TLS failed: ") + (reason ? reason : "unknown error");
        }
    }
}

class OpenSslSession final : public TlsSession {
  public:
    OpenSslSession(const TlsOptions& options, const std::string& host, int port);
    ~OpenSslSession() override { SSL_free(ssl_); }
    OpenSslSession(const OpenSslSession&) = delete;
    OpenSslSession& operator=(const OpenSslSession&) = delete;

    Step handshake() override;
    bool encrypt(std::string_view plain) override;
    Step decrypt(std::string& plain) override;
    void feed(const char* data, std::size_t size) override;
    std::string take_output() override;
    std::string failure() const override { return failure_; }
    bool session_kept() const override { return kept_; }
    bool certificate_asked() const override { return certificate_asked_; }
    // The server gave a session (TLS 1.3: a ticket, after the handshake).
    void keep(SSL_SESSION* session);
    void note_certificate_asked() { certificate_asked_ = true; }

  private:
    Step fail(int result);
    // The name sent (SNI) and checked against the certificate.
    void set_name(bool verify);

    SSL* ssl_ = nullptr;
    BIO* in_ = nullptr;   // owned by ssl_
    BIO* out_ = nullptr;  // owned by ssl_
    std::string expected_name_;
    std::string failure_;
    std::string cache_dir_;  // empty: no session cache
    std::string cache_key_;
    std::time_t verified_at_ = 0;  // of the session offered, when one was
    bool kept_ = false;
    bool certificate_asked_ = false;
};

int on_new_session(SSL* ssl, SSL_SESSION* session) {
    static_cast<OpenSslSession*>(SSL_get_app_data(ssl))->keep(session);
    return 0;  // not kept: OpenSSL frees it
}

// Called when the server asks for a client certificate and none was given:
// noted, to name the cause if the server then closes the connection.
int on_certificate_asked(SSL* ssl, X509** /*certificate*/, EVP_PKEY** /*key*/) {
    static_cast<OpenSslSession*>(SSL_get_app_data(ssl))->note_certificate_asked();
    return 0;  // none: the handshake goes on without one
}

OpenSslSession::OpenSslSession(const TlsOptions& options, const std::string& host, int port) {
    // First of all OpenSSL calls: no clean-up at exit. The process ends, and
    // OpenSSL's frees every table it built (1.3 M instructions, 6% of a
    // one-shot TLS take).
    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, nullptr);
    expected_name_ = options.server_name.empty() ? host : options.server_name;
    // An unverified connection neither offers nor keeps a session: it must
    // not vouch for a server the next, verifying, call would then trust.
    bool caching = options.verify && !options.session_cache_dir.empty();
    SSL_SESSION* cached = nullptr;
    if (caching) {
        cache_dir_ = options.session_cache_dir;
        cache_key_ = tls_cache::entry_key(options, expected_name_, port);
        cached = tls_cache::load(cache_dir_, cache_key_, verified_at_);
    }
    SSL_CTX* ctx = nullptr;
    try {
        ctx = shared_context(options, cached != nullptr);
    } catch (...) {
        SSL_SESSION_free(cached);
        throw;
    }
    ssl_ = SSL_new(ctx);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    if (!ssl_ || !in_ || !out_) {
        BIO_free(in_);
        BIO_free(out_);
        SSL_free(ssl_);
        SSL_SESSION_free(cached);
        throw Error(ErrorKind::internal, "cannot set up TLS: " + openssl_reason());
    }
    BIO_set_mem_eof_return(in_, -1);  // no input yet is "want more", not end of stream
    SSL_set_bio(ssl_, in_, out_);
    set_name(options.verify);
    SSL_set_app_data(ssl_, this);
    if (cached && !SSL_set_session(ssl_, cached)) verified_at_ = 0;
    SSL_SESSION_free(cached);
}

// One session per connection is enough (a TLS 1.3 server sends two tickets
// after a full handshake). A resumed connection keeps the time of the full
// handshake it descends from, so that a chain of resumptions ends within
// tls_cache::max_age_seconds of the last verification.
void OpenSslSession::keep(SSL_SESSION* session) {
    if (kept_ || SSL_get_verify_result(ssl_) != X509_V_OK) return;
    kept_ = true;
    bool resumed = SSL_session_reused(ssl_) && verified_at_ != 0;
    tls_cache::store(cache_dir_, cache_key_, session, resumed ? verified_at_ : std::time(nullptr));
}

void OpenSslSession::set_name(bool verify) {
    bool ip = is_ip_address(expected_name_);
    // SNI may only carry a name, never an address (RFC 6066, section 3).
    if (!ip) SSL_set_tlsext_host_name(ssl_, expected_name_.c_str());
    if (!verify) return;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, expected_name_.c_str());
    } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, expected_name_.c_str(), expected_name_.size());
    }
}

TlsSession::Step OpenSslSession::fail(int result) {
    int code = SSL_get_error(ssl_, result);
    if (code == SSL_ERROR_WANT_READ) return Step::want_input;
    if (code == SSL_ERROR_ZERO_RETURN) return Step::closed;
    long verify = SSL_get_verify_result(ssl_);
    unsigned long error = ERR_peek_last_error();
    if (verify != X509_V_OK && !SSL_is_init_finished(ssl_)) {
        failure_ = describe_verify_error(verify, expected_name_);
    } else if (error) {
        failure_ = describe_ssl_error(error);
    } else {
        failure_ = "TLS failed (" + std::to_string(code) + ")";
    }
    ERR_clear_error();
    return Step::failed;
}

TlsSession::Step OpenSslSession::handshake() {
    int result = SSL_connect(ssl_);
    return result == 1 ? Step::done : fail(result);
}

bool OpenSslSession::encrypt(std::string_view plain) {
    if (plain.empty()) return true;
    // Output goes to a memory buffer, which takes all of it at once.
    int result = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    if (result > 0) return true;
    fail(result);
    return false;
}

TlsSession::Step OpenSslSession::decrypt(std::string& plain) {
    char buffer[16384];
    bool got = false;
    for (;;) {
        int result = SSL_read(ssl_, buffer, sizeof buffer);
        if (result > 0) {
            plain.append(buffer, static_cast<std::size_t>(result));
            got = true;
            continue;
        }
        Step step = fail(result);
        return got && step == Step::want_input ? Step::done : step;
    }
}

void OpenSslSession::feed(const char* data, std::size_t size) {
    BIO_write(in_, data, static_cast<int>(size));
}

std::string OpenSslSession::take_output() {
    std::string bytes;
    char* data = nullptr;
    long size = BIO_get_mem_data(out_, &data);
    if (size > 0) {
        bytes.assign(data, static_cast<std::size_t>(size));
        (void)BIO_reset(out_);
    }
    return bytes;
}

std::unique_ptr<TlsSession> make_openssl_session(const TlsOptions& options, const std::string& host,
                                                 int port) {
    return std::make_unique<OpenSslSession>(options, host, port);
}

}  // namespace

void enable_tls() {
    set_tls_factory(make_openssl_session);
}

}  // namespace tbucket
