/*
 * kern_portable: the arithmetic of kern_impl.h in plain C for any CPU (the
 * matrix product one element at a time with fmaf). The reference the vector
 * builds must equal, and the fallback where they cannot run.
 */
#define KERN_W 0
#define KERN_OPS kern_portable
#define KERN_NAME "portable"
#include "kern_impl.h"
