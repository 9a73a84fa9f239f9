#pragma once

// Where RESP2 values end in a byte stream, for the fault proxy: it must
// know which reply answers which command without understanding either.

#include <cstddef>
#include <string>
#include <string_view>

namespace tbucket::test {

// Length of the complete RESP2 value (any type, nested arrays included) at
// the start of `bytes`; 0 while part of it has not arrived yet. Throws
// std::runtime_error when the bytes are not RESP2.
std::size_t resp_value_length(std::string_view bytes);

// The same for a request: an array of bulk strings, or an inline command
// line (what a person types into telnet).
std::size_t resp_request_length(std::string_view bytes);

// The command name of one complete request, upper-cased ("" if none).
std::string resp_command_name(std::string_view request);

std::string upper(std::string_view text);

}  // namespace tbucket::test
