#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver for programs with their own main (LLVM's libFuzzer docs, "Using libFuzzer
/// as a library"). Only a build with -sanitize=fuzzer links libFuzzer, and only such a build
/// (compiled with -DFUZZING) calls this.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
