#ifndef CBUILDINFO_H
#define CBUILDINFO_H

/// The release version, e.g. "0.1.0" (Package.swift, freezectlVersion).
const char *freezectl_build_version(void);

/// The git commit the binaries were built from: 40 hex digits, with "-dirty" when the tree had
/// uncommitted changes, or "unknown" (a build that did not go through scripts/build-release.sh).
const char *freezectl_build_commit(void);

#endif
