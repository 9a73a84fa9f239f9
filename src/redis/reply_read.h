#pragma once

// Reading the elements of a script's array reply; anything unexpected is
// Error internal (a reply tbucket's own scripts never give).

#include <cstddef>
#include <cstdint>
#include <string>

#include "redis/connection.h"

namespace tbucket {

[[noreturn]] void bad_reply(const std::string& what);
const redisReply& element(const redisReply& reply, std::size_t i);
int64_t integer_at(const redisReply& reply, std::size_t i);
std::string string_at(const redisReply& reply, std::size_t i);
// A decimal string element, finite.
double number_at(const redisReply& reply, std::size_t i);

}  // namespace tbucket
