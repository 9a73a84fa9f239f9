#include "redis/reply_read.h"

#include <charconv>
#include <cmath>

#include "util/error.h"

namespace tbucket {

[[noreturn]] void bad_reply(const std::string& what) {
    throw Error(ErrorKind::internal, "unexpected reply from Redis: " + what);
}

const redisReply& element(const redisReply& reply, std::size_t i) {
    if (reply.type != REDIS_REPLY_ARRAY || i >= reply.elements)
        bad_reply("missing element " + std::to_string(i));
    return *reply.element[i];
}

int64_t integer_at(const redisReply& reply, std::size_t i) {
    const redisReply& e = element(reply, i);
    if (e.type != REDIS_REPLY_INTEGER)
        bad_reply("element " + std::to_string(i) + " is not an integer");
    return static_cast<int64_t>(e.integer);
}

std::string string_at(const redisReply& reply, std::size_t i) {
    const redisReply& e = element(reply, i);
    if (e.type != REDIS_REPLY_STRING && e.type != REDIS_REPLY_STATUS) {
        bad_reply("element " + std::to_string(i) + " is not a string");
    }
    return std::string(e.str, e.len);
}

double number_at(const redisReply& reply, std::size_t i) {
    // A whole number of up to 18 digits, the common case, is read by hand:
    // the same double (the conversion rounds as from_chars does), without
    // from_chars' tables, a page that a one-shot take would fault in.
    const redisReply& e = element(reply, i);
    if (e.type == REDIS_REPLY_STRING && e.len >= 1 && e.len <= 18) {
        uint64_t whole = 0;
        std::size_t n = 0;
        for (; n < e.len && e.str[n] >= '0' && e.str[n] <= '9'; ++n)
            whole = whole * 10 + (e.str[n] - '0');
        if (n == e.len) return static_cast<double>(whole);
    }
    std::string text = string_at(reply, i);
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    // from_chars reads "nan" and "inf" too: no bucket holds either, and
    // either would turn into garbage when shown as a whole number.
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
        bad_reply("'" + text + "' is not a number");
    return value;
}

}  // namespace tbucket
