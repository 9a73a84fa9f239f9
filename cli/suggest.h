#pragma once

// Hints for a mistyped command line: the nearest command or option name,
// and where run's command goes when the "--" was forgotten.

#include <string>
#include <string_view>
#include <vector>

#include "cli11.h"

namespace tbucket::cli {

// The candidate nearest to `typed` (edit distance, a swap of two
// neighbouring letters counting as one edit), or "" when none is close
// enough to be a likely typo.
std::string nearest(std::string_view typed, const std::vector<std::string>& candidates);

// Every name of every option of `app` and, for a subcommand, of the app
// above it: --wait, -E, --denied-exit, ...
std::vector<std::string> option_names(const CLI::App& app);

// "; did you mean take?" for nearest(typed, candidates), or "".
std::string did_you_mean(std::string_view typed, const std::vector<std::string>& candidates);

// `run NAME [N] CMD ARGS...` without "--", once CLI11 has read it (CMD in
// N, or ARGS left over as `extra`): "tbucket run NAME [N] -- CMD ARGS...",
// or "" when the words do not read that way.
std::string run_with_dashes(const CLI::App& run, const std::vector<std::string>& extra);

}  // namespace tbucket::cli
