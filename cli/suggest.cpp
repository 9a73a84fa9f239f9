#include "suggest.h"

#include <algorithm>

namespace tbucket::cli {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of neighbours ("tkae" is one edit from "take").
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string first_result(const CLI::App& app, const std::string& positional) {
    const CLI::Option* option = app.get_option_no_throw(positional);
    return option && !option->results().empty() ? option->results().front() : "";
}

}  // namespace

std::string nearest(std::string_view typed, const std::vector<std::string>& candidates) {
    // Short words are one slip away from many others: allow one edit there.
    std::size_t allowed = typed.size() <= 4 ? 1 : 2;
    std::string best;
    std::size_t best_distance = allowed + 1;
    for (const std::string& candidate : candidates) {
        std::size_t distance = edit_distance(typed, candidate);
        if (distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

std::vector<std::string> option_names(const CLI::App& app) {
    std::vector<std::string> names;
    for (const CLI::App* level = &app; level; level = level->get_parent()) {
        for (const CLI::Option* option : level->get_options()) {
            if (option->get_positional()) continue;
            for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
            for (const std::string& name : option->get_snames()) names.push_back("-" + name);
        }
    }
    return names;
}

std::string did_you_mean(std::string_view typed, const std::vector<std::string>& candidates) {
    std::string near = nearest(typed, candidates);
    return near.empty() ? "" : "; did you mean " + near + "?";
}

std::string run_with_dashes(const CLI::App& run, const std::vector<std::string>& extra) {
    std::string name = first_result(run, "NAME");
    std::string count = first_result(run, "N");
    std::vector<std::string> command;
    if (!count.empty() && !all_digits(count)) command.push_back(count);
    command.insert(command.end(), extra.begin(), extra.end());
    if (name.empty() || command.empty()) return "";
    std::string line = "tbucket run " + name;
    if (all_digits(count)) line += " " + count;
    line += " --";
    for (const std::string& word : command) line += " " + word;
    return line;
}

}  // namespace tbucket::cli
