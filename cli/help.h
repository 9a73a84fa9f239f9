#pragma once

// --help that reads like a man page's synopsis: an option and the name of
// its value (--prefix PREFIX, -E N), with defaults, environment variables
// and option pairings said in words in the description, not as CLI11's
// "TEXT=tbucket: (Env:TBUCKET_PREFIX)" or "N:INT in [0 - 255]".

#include <string>

#include "cli11.h"

namespace tbucket::cli {

class HelpFormatter : public CLI::Formatter {
  public:
    std::string make_option_opts(const CLI::Option* option) const override;
    std::string make_option_desc(const CLI::Option* option) const override;
    // run's command comes after "--", which main keeps from CLI11, so
    // CLI11 cannot put it in the usage line itself.
    std::string make_usage(const CLI::App* app, std::string name) const override;
};

}  // namespace tbucket::cli
