#include "util/zone.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>

#include "util/error.h"

namespace tbucket {
namespace {

std::string zone_dir() {
    const char* dir = std::getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

// The C library reads a zone only through TZ: set it for the time of `body`,
// under a lock, and put the process's own back. The only place TZ changes.
template <typename Body>
void in_zone(const std::string& zone, Body body) {
    static std::mutex lock;
    std::lock_guard<std::mutex> held(lock);
    const char* before = std::getenv("TZ");
    std::optional<std::string> saved;
    if (before) saved = before;
    std::string tz(1, ':');
    tz.append(zone);
    setenv("TZ", tz.c_str(), 1);
    tzset();
    body();
    if (saved) {
        setenv("TZ", saved->c_str(), 1);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

int64_t offset_at(int64_t s) {
    time_t t = static_cast<time_t>(s);
    struct tm local {};
    localtime_r(&t, &local);
    return local.tm_gmtoff;
}

}  // namespace

void check_zone(const std::string& zone) {
    bool name_ok = !zone.empty() && zone.size() <= 64 && zone.front() != '/' &&
                   zone.find("..") == std::string::npos;
    for (char c : zone) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '-' || c == '+';
        name_ok = name_ok && ok;
    }
    if (!name_ok) {
        throw Error(ErrorKind::usage,
                    "--tz '" + zone + "' is not a time zone name such as Europe/Berlin or UTC");
    }
    struct stat st {};
    std::string path = zone_dir() + "/" + zone;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        throw Error(ErrorKind::usage,
                    "--tz '" + zone + "' is not a known time zone (no " + path +
                        "; names are as in tzdata: Europe/Berlin, America/New_York)");
    }
}

std::string zone_offsets(const std::string& zone, int64_t at_s, int64_t& until_s) {
    const int64_t from = at_s - 86'400;
    until_s = at_s + 800 * int64_t{86'400};
    std::string text = zone + " " + std::to_string(until_s);
    auto add = [&text](int64_t at, int64_t offset) {
        char entry[48];
        std::snprintf(entry, sizeof entry, " %lld:%lld", static_cast<long long>(at),
                      static_cast<long long>(offset));
        text += entry;
    };
    in_zone(zone, [&] {
        int64_t off = offset_at(from);
        add(from, off);
        // Offsets change at most a few times a year and never twice within
        // an hour: look hourly, then find each change to the second.
        for (int64_t s = from + 3600; s < until_s; s += 3600) {
            int64_t next = offset_at(s);
            if (next == off) continue;
            int64_t lo = s - 3600, hi = s;  // offset_at(lo) == off, offset_at(hi) == next
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                (offset_at(mid) == off ? lo : hi) = mid;
            }
            add(hi, next);
            off = next;
        }
    });
    return text;
}

}  // namespace tbucket
