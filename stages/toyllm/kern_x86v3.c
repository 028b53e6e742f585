/*
 * kern_x86v3: the arithmetic of kern_impl.h for x86-64-v3 (AVX2 + FMA), built
 * with -march=x86-64-v3 (toyllm.mk) and chosen at run time only on a CPU that
 * has it (kernels.c). Empty on other architectures.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define KERN_W 8
#define KERN_OPS kern_x86v3
#define KERN_NAME "x86-64-v3"
#include "kern_impl.h"
#else
typedef int kern_x86v3_unused;
#endif
