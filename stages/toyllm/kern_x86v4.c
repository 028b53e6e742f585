/*
 * kern_x86v4: the arithmetic of kern_impl.h for x86-64-v4 (AVX-512 F/BW/CD/
 * DQ/VL), built with -march=x86-64-v4 (toyllm.mk) and chosen at run time only
 * on a CPU that has it (kernels.c). Empty on other architectures.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define KERN_W 16
#define KERN_OPS kern_x86v4
#define KERN_NAME "x86-64-v4"
#include "kern_impl.h"
#else
typedef int kern_x86v4_unused;
#endif
