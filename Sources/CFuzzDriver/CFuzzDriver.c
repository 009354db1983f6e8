// The declaration in include/CFuzzDriver.h is all this module has: libFuzzer defines the function.
#include "CFuzzDriver.h"
