// parse_url: whatever the text, a parsed URL is sane (port 1..65535, db >= 0,
// a host or a socket path) and a password never shows: not in
// describe_endpoint, not in an error message. For the second property the
// input is put behind a known password: redis://user:SECRET@<input> and
// unix://user:SECRET@<input>.

#include <string>

#include "fuzz_support.h"
#include "net/url.h"

namespace {

// No ':' or digit (describe_endpoint adds ":PORT"), no '@' (it ends the
// user info); a '/' and a '?' because URLs cut at those elsewhere.
constexpr std::string_view secret = "SeCr/Et?Pw";

void check_options(const tbucket::ConnectionOptions& o, std::string_view url) {
    using namespace tbucket::fuzz;
    require(o.db >= 0, "a database number is not negative", url);
    if (o.transport == tbucket::ConnectionOptions::Transport::tcp) {
        require(o.port >= 1 && o.port <= 65535, "a port is 1..65535", url);
        require(!o.host.empty(), "a host is named", url);
    } else {
        require(o.path.size() >= 2 && o.path[0] == '/', "a socket path is absolute", url);
    }
    require(o.has_password || o.password.empty(), "a password is there only when given", url);
}

void check_secret_hidden(const std::string& url, std::string_view input) {
    using namespace tbucket::fuzz;
    if (input.find(secret) != std::string_view::npos) return;  // the input shows it itself
    try {
        tbucket::ConnectionOptions o = tbucket::parse_url(url);
        check_options(o, url);
        require(o.has_password, "the password is seen", url);
        require(o.password.find(secret) == 0, "the password starts with the one given", url);
        require(tbucket::describe_endpoint(o).find(secret) == std::string::npos,
                "describe_endpoint never shows the password", url);
    } catch (const tbucket::Error& e) {
        check_refusal(e, false);
        require(std::string_view(e.what()).find(secret) == std::string_view::npos,
                "an error message never shows the password", url);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace tbucket::fuzz;
    std::string_view input = text(data, size);
    try {
        tbucket::ConnectionOptions o = tbucket::parse_url(input);
        check_options(o, input);
        (void)tbucket::describe_endpoint(o);
    } catch (const tbucket::Error& e) {
        check_refusal(e, false);
        require(std::string_view(e.what()).substr(0, 5) == "URL: ", "URL errors say so", e.what());
    }
    std::string tail(input);
    check_secret_hidden("redis://user:" + std::string(secret) + "@" + tail, input);
    check_secret_hidden("unix://user:" + std::string(secret) + "@" + tail, input);
    return 0;
}
