#pragma once

// A wait that takes, in line (SPEC §10): see src/wait/queue_wait.cpp.

#include "wait/wait.h"

namespace tbucket {

WaitResult wait_in_line(Client& client, const WaitRequest& request, WaitObserver& observer);

}  // namespace tbucket
