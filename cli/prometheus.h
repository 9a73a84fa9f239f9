#pragma once

// Bucket states in the Prometheus text exposition format (version 0.0.4),
// for node_exporter's textfile collector or any scraper.

#include <string>
#include <vector>

#include "bucket/bucket.h"

namespace tbucket::cli {

// Gauges (tokens, capacity, available, refill rate, leased tokens) and the
// scripts' counters (`_total`) of `states`, each family with # HELP and
// # TYPE, labelled `bucket` and, when `with_node`, `node`.
std::string prometheus_text(const std::vector<State>& states, bool with_node);

// A label value escaped as the text format wants: \\, \" and \n.
std::string prometheus_label(const std::string& value);

}  // namespace tbucket::cli
