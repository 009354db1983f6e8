// The values come from Package.swift as preprocessor definitions: a C string constant is the
// one thing a manifest can hand to the code it builds.
#include "CBuildInfo.h"

const char *freezectl_build_version(void) { return FREEZECTL_VERSION; }

const char *freezectl_build_commit(void) { return FREEZECTL_COMMIT; }
