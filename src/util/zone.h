#pragma once

// Time zones for calendar windows (--tz). The scripts align a window in a
// zone's local time from a table of its UTC offsets, which the client
// computes here from the system's time zone database (Debian's tzdata)
// and stores beside the bucket (common.lua: <key>:z).

#include <cstdint>
#include <string>

namespace tbucket {

// Throws ErrorKind::usage unless `zone` names a zone of the system's
// database (/usr/share/zoneinfo, or TZDIR): "Europe/Berlin", "UTC".
void check_zone(const std::string& zone);

// The offsets as the scripts read them: "<zone> <until s> <from s>:<offset
// s>...", the offset in force from each time on, covering a day before
// `at_s` to `until_s` (set here: 800 days after, more than the longest window
// a year ahead).
std::string zone_offsets(const std::string& zone, int64_t at_s, int64_t& until_s);

}  // namespace tbucket
