// A build tool, not part of the library: joins each Lua script with only
// the helpers of common.lua that it uses, and writes them, with the SHA1
// that EVALSHA needs, as C++ (generated/scripts.cpp).
//
//   tbucket_lua_join OUT.cpp COMMON.lua NAME=SCRIPT.lua...
//
// common.lua is a header comment and then top-level definitions, each a
// `local function NAME(...)` or `local NAME = ...` with the comment lines
// just above it. A script gets the definitions its body names, and those
// they name in turn, in common.lua's order (so every name is defined before
// the code that runs it). Redis runs a script's whole text on every call,
// making a closure of each local function: a helper a script does not use
// costs it time on every call (bench/README.md, "Server cost").
//
// Names are found as words outside comments; a word inside a string counts
// too, which can only add a helper, never leave one out.

#include <openssl/sha.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Definition {
    std::string name;
    std::string text;  // its comment lines, then the definition
};

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "tbucket_lua_join: cannot read " << path << "\n";
        std::exit(1);
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool is_comment(const std::string& line) {
    std::size_t at = line.find_first_not_of(" \t");
    return at != std::string::npos && line.compare(at, 2, "--") == 0;
}

// The name a top-level `local` line defines, or "".
std::string defined_name(const std::string& line) {
    std::string rest;
    if (line.rfind("local function ", 0) == 0) {
        rest = line.substr(15);
    } else if (line.rfind("local ", 0) == 0) {
        rest = line.substr(6);
    } else {
        return "";
    }
    std::size_t end = 0;
    while (end < rest.size() &&
           (std::isalnum(static_cast<unsigned char>(rest[end])) || rest[end] == '_'))
        ++end;
    return rest.substr(0, end);
}

// The words of Lua code, comments left out: whole-line comments, and a
// `--` outside quotes to the end of its line.
std::set<std::string> words(const std::string& code) {
    std::set<std::string> found;
    for (const std::string& line : lines_of(code)) {
        if (is_comment(line)) continue;
        char quote = 0;
        std::string word;
        for (std::size_t i = 0; i <= line.size(); ++i) {
            char c = i < line.size() ? line[i] : ' ';
            if (!quote && c == '-' && i + 1 < line.size() && line[i + 1] == '-') break;
            if (quote) {
                if (c == '\\')
                    ++i;
                else if (c == quote)
                    quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            }
            if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
                word += c;
            } else if (!word.empty()) {
                found.insert(word);
                word.clear();
            }
        }
        if (!word.empty()) found.insert(word);
    }
    return found;
}

void split(const std::string& common, std::string& header, std::vector<Definition>& definitions) {
    std::vector<std::string> lines = lines_of(common);
    std::vector<std::size_t> starts;  // each definition's first line, its comment included
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (defined_name(lines[i]).empty()) continue;
        std::size_t start = i;
        while (start > 0 && is_comment(lines[start - 1])) --start;
        starts.push_back(start);
    }
    if (starts.empty()) {
        std::cerr << "tbucket_lua_join: common.lua defines nothing\n";
        std::exit(1);
    }
    for (std::size_t i = 0; i < starts.front(); ++i) header += lines[i] + "\n";
    for (std::size_t d = 0; d < starts.size(); ++d) {
        std::size_t end = d + 1 < starts.size() ? starts[d + 1] : lines.size();
        Definition def;
        for (std::size_t i = starts[d]; i < end; ++i) {
            if (def.name.empty()) def.name = defined_name(lines[i]);
            def.text += lines[i] + "\n";
        }
        definitions.push_back(std::move(def));
    }
}

// The script's source: the header, the definitions it needs, its body.
std::string join(const std::string& header, const std::vector<Definition>& definitions,
                 const std::string& body) {
    std::vector<bool> used(definitions.size(), false);
    std::set<std::string> wanted = words(body);
    for (bool grew = true; grew;) {  // what the used ones name, until nothing new
        grew = false;
        for (std::size_t d = definitions.size(); d-- > 0;) {
            if (used[d] || !wanted.count(definitions[d].name)) continue;
            used[d] = grew = true;
            for (const std::string& w : words(definitions[d].text)) wanted.insert(w);
        }
    }
    std::string source = header;
    for (std::size_t d = 0; d < definitions.size(); ++d) {
        if (used[d]) source += definitions[d].text;
    }
    return source + body;
}

std::string sha1_hex(const std::string& text) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    std::string hex;
    char two[3];
    for (unsigned char byte : digest) {
        std::snprintf(two, sizeof two, "%02x", byte);
        hex += two;
    }
    return hex;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: tbucket_lua_join OUT.cpp COMMON.lua NAME=SCRIPT.lua...\n";
        return 2;
    }
    std::string header;
    std::vector<Definition> definitions;
    split(read(argv[2]), header, definitions);
    std::string out =
        "// Generated by tbucket_lua_join (src/bucket/scripts/join.cpp) from "
        "src/bucket/scripts/*.lua. Do not edit.\n#include \"bucket/script.h\"\n\nnamespace "
        "tbucket::scripts {\n";
    for (int i = 3; i < argc; ++i) {
        std::string arg = argv[i];
        std::size_t eq = arg.find('=');
        if (eq == std::string::npos) {
            std::cerr << "tbucket_lua_join: expected NAME=SCRIPT.lua, not " << arg << "\n";
            return 2;
        }
        std::string name = arg.substr(0, eq);
        std::string source = join(header, definitions, read(arg.substr(eq + 1)));
        if (source.find(")tbucket_lua\"") != std::string::npos) {
            std::cerr << "tbucket_lua_join: " << name << " contains the raw string's end\n";
            return 1;
        }
        out += "extern const Script " + name + "_script{\"" + name + "\", R\"tbucket_lua(" +
               source + ")tbucket_lua\", \"" + sha1_hex(source) + "\"};\n";
    }
    out += "}  // namespace tbucket::scripts\n";
    // Written only when it changed, so that an unchanged script rebuilds nothing.
    std::string path = argv[1];
    std::ifstream old(path, std::ios::binary);
    if (old) {
        std::ostringstream s;
        s << old.rdbuf();
        if (s.str() == out) return 0;
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << out;
    return file.good() ? 0 : 1;
}
