#include "util/name_list.h"

#include <algorithm>

#include "util/error.h"
#include "util/parse.h"

namespace tbucket {
namespace {

[[noreturn]] void bad(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

std::string where(std::size_t index) {
    return "element " + std::to_string(index + 1) + " of the bucket list";
}

NamedCount element(std::string_view text, std::size_t index, int64_t n, bool counts) {
    if (text.empty()) bad(where(index) + " is empty (two commas, or one at an end)");
    std::size_t eq = text.find('=');
    std::string_view name = text.substr(0, eq);
    if (name.empty()) bad(where(index) + " '" + printable(text) + "' has no name before '='");
    NamedCount out{parse_name(name), n};
    if (eq == std::string_view::npos) return out;
    if (!counts) bad("'" + out.name + "=...': this command takes names only, no =N");
    out.count = parse_count("count for '" + out.name + "'", text.substr(eq + 1));
    return out;
}

}  // namespace

bool is_name_list(std::string_view text) {
    return text.find_first_of(",=") != std::string_view::npos;
}

std::vector<NamedCount> parse_name_list(std::string_view text, int64_t n, bool counts) {
    if (text.size() > max_list_bytes) {
        bad("bucket list is " + std::to_string(text.size()) + " bytes; at most " +
            std::to_string(max_list_bytes) + " are allowed");
    }
    std::vector<NamedCount> list;
    for (std::size_t start = 0;;) {
        std::size_t comma = text.find(',', start);
        if (list.size() == max_list_names) {
            bad("bucket list names more than " + std::to_string(max_list_names) + " buckets");
        }
        list.push_back(element(text.substr(start, comma - start), list.size(), n, counts));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    std::vector<std::string> sorted;
    for (const NamedCount& c : list) sorted.push_back(c.name);
    std::sort(sorted.begin(), sorted.end());
    auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end()) {
        bad("bucket '" + *twice + "' is named twice in the list; write " + *twice +
            "=N for N tokens of it");
    }
    return list;
}

std::string join_names(const std::vector<NamedCount>& list) {
    std::string out;
    for (const NamedCount& c : list) out += (out.empty() ? "" : ",") + c.name;
    return out;
}

}  // namespace tbucket
