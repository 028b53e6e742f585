/*
 * bench/engine/peak.c: the single-core float32 FMA peak, measured: 12
 * independent chains of fused multiply-adds on 512-bit (AVX-512) and 256-bit
 * (AVX2) registers, no memory traffic, timed in CPU seconds of this thread.
 * Prints "peak GFLOPS AVX512 AVX2" (0 where the CPU lacks the extension).
 * The engine benchmark (run.sh) divides its GFLOP/s by the larger one.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define CHAINS 12

__attribute__((target("avx512f"))) static double zmm(long n)
{
	__m512 a[CHAINS], b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
	for (int i = 0; i < CHAINS; i++)
		a[i] = _mm512_set1_ps((float)i);
	double t = cpu_now();
	for (long k = 0; k < n; k++)
#pragma GCC unroll 12
		for (int i = 0; i < CHAINS; i++)
			a[i] = _mm512_fmadd_ps(a[i], b, c);
	t = cpu_now() - t;
	float s = 0;
	for (int i = 0; i < CHAINS; i++)
		s += _mm512_reduce_add_ps(a[i]);
	if (s == 1.25f) /* keep the result alive */
		puts("");
	return (double)n * CHAINS * 32 / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double ymm(long n)
{
	__m256 a[CHAINS], b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
	for (int i = 0; i < CHAINS; i++)
		a[i] = _mm256_set1_ps((float)i);
	double t = cpu_now();
	for (long k = 0; k < n; k++)
#pragma GCC unroll 12
		for (int i = 0; i < CHAINS; i++)
			a[i] = _mm256_fmadd_ps(a[i], b, c);
	t = cpu_now() - t;
	float s = 0;
	for (int i = 0; i < CHAINS; i++) {
		float v[8];
		_mm256_storeu_ps(v, a[i]);
		s += v[0];
	}
	if (s == 1.25f)
		puts("");
	return (double)n * CHAINS * 16 / t / 1e9;
}

int main(void)
{
	const long n = 20000000;
	double z = 0, y = 0;
	__builtin_cpu_init();
	for (int r = 0; r < 3; r++) { /* best of 3: the machine may be shared */
		if (__builtin_cpu_supports("avx512f")) {
			double v = zmm(n);
			z = v > z ? v : z;
		}
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
			double v = ymm(n);
			y = v > y ? v : y;
		}
	}
	printf("peak %.1f %.1f %.1f\n", z > y ? z : y, z, y);
	return 0;
}
#else
int main(void)
{
	puts("peak 0 0 0");
	return 0;
}
#endif
