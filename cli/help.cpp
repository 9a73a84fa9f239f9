#include "help.h"

namespace tbucket::cli {
namespace {

// "--capacity, --rate" for a list of options.
std::string option_list(const std::set<CLI::Option*>& options) {
    std::string out;
    for (const CLI::Option* option : options) {
        out.append(out.empty() ? "" : ", ").append(option->get_name());
    }
    return out;
}

}  // namespace

std::string HelpFormatter::make_option_opts(const CLI::Option* option) const {
    if (option->get_type_size() == 0) return "";
    // A validator's description follows a ':' (N:INT in [0 - 255]).
    std::string type = option->get_type_name();
    type = type.substr(0, type.find(':'));
    std::string out = type.empty() ? "" : " " + type;
    if (option->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
    return out;
}

std::string HelpFormatter::make_option_desc(const CLI::Option* option) const {
    std::vector<std::string> notes;
    if (option->get_required() && !option->get_positional()) notes.push_back("required");
    if (!option->get_default_str().empty()) notes.push_back("default " + option->get_default_str());
    if (!option->get_envname().empty()) notes.push_back("env " + option->get_envname());
    if (!option->get_needs().empty()) notes.push_back("with " + option_list(option->get_needs()));
    if (!option->get_excludes().empty())
        notes.push_back("not with " + option_list(option->get_excludes()));
    std::string out = option->get_description();
    for (std::size_t i = 0; i < notes.size(); ++i) out += (i == 0 ? " (" : "; ") + notes[i];
    return notes.empty() ? out : out + ")";
}

std::string HelpFormatter::make_usage(const CLI::App* app, std::string name) const {
    std::string usage = CLI::Formatter::make_usage(app, std::move(name));
    if (app->get_name() == "run" && !usage.empty())
        usage.insert(usage.size() - 1, " -- CMD [ARGS...]");
    return usage;
}

}  // namespace tbucket::cli
