#include "support/resp_frames.h"

#include <cctype>
#include <charconv>
#include <stdexcept>

namespace tbucket::test {
namespace {

// The number after a type byte, up to "\r\n" at `line_end`.
long long header_number(std::string_view bytes, std::size_t pos, std::size_t line_end) {
    long long n = 0;
    const char* first = bytes.data() + pos + 1;
    const char* last = bytes.data() + line_end;
    auto [end, ec] = std::from_chars(first, last, n);
    if (ec != std::errc() || end != last) throw std::runtime_error("RESP: bad length");
    return n;
}

}  // namespace

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::size_t resp_value_length(std::string_view bytes) {
    // Values still to read, counted flat: an array adds its elements, so
    // nesting needs no recursion.
    long long remaining = 1;
    std::size_t pos = 0;
    while (remaining > 0) {
        std::size_t line_end = bytes.find("\r\n", pos);
        if (line_end == std::string_view::npos) return 0;
        char type = bytes[pos];
        --remaining;
        if (type == '+' || type == '-' || type == ':') {
            pos = line_end + 2;
        } else if (type == '$') {
            long long n = header_number(bytes, pos, line_end);
            pos = line_end + 2;
            if (n > 512LL * 1024 * 1024) throw std::runtime_error("RESP: bulk too long");
            if (n >= 0) {
                pos += static_cast<std::size_t>(n) + 2;
                if (pos > bytes.size()) return 0;
            }
        } else if (type == '*') {
            long long n = header_number(bytes, pos, line_end);
            pos = line_end + 2;
            if (n > 0) remaining += n;
        } else {
            throw std::runtime_error("RESP: unknown type byte");
        }
    }
    return pos;
}

std::size_t resp_request_length(std::string_view bytes) {
    if (bytes.empty()) return 0;
    if (bytes[0] == '*') return resp_value_length(bytes);
    std::size_t line_end = bytes.find('\n');
    return line_end == std::string_view::npos ? 0 : line_end + 1;
}

std::string resp_command_name(std::string_view request) {
    if (request.empty()) return "";
    if (request[0] != '*') {
        std::size_t start = request.find_first_not_of(" \t");
        if (start == std::string_view::npos) return "";
        std::size_t end = request.find_first_of(" \t\r\n", start);
        return upper(request.substr(start, end - start));
    }
    std::size_t header_end = request.find("\r\n");
    if (request.size() <= header_end + 2 || request[header_end + 2] != '$') return "";
    std::size_t pos = header_end + 2;
    std::size_t line_end = request.find("\r\n", pos);
    long long n = header_number(request, pos, line_end);
    if (n < 0) return "";
    return upper(request.substr(line_end + 2, static_cast<std::size_t>(n)));
}

}  // namespace tbucket::test
