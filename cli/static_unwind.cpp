// Linked into the static `tbucket` only, with
//   -Wl,--wrap=__register_frame_info -Wl,--wrap=__deregister_frame_info
// (CMakeLists.txt). The start-up code of a -static program (crtbeginT.o)
// registers the program's unwind tables with libgcc; the first exception
// then sorts every table entry, ~10M instructions, and CLI11 reports every
// usage error with an exception. Without the registration, libgcc finds
// the tables the way it does in a dynamic program: _dl_find_object and the
// binary-search table of PT_GNU_EH_FRAME (-Wl,--eh-frame-hdr). The
// exception tests (usage errors, exit 2) run against this binary.

extern "C" {

// NOLINTBEGIN(bugprone-reserved-identifier): names fixed by ld --wrap.
void __wrap___register_frame_info(const void* /*begin*/, void* /*object*/) {}

void* __wrap___deregister_frame_info(const void* /*begin*/) {
    return nullptr;
}
// NOLINTEND(bugprone-reserved-identifier)
}
