/*
 * CPU features for the erasure kernels' run-time dispatch (x86 only), shared by _rs.c and _gf16.c.
 *
 * From cpuid, and from xgetbv whether the OS saves the wide registers: a CPU can have AVX-512
 * that the kernel has not enabled. Read directly rather than through compiler builtins, whose
 * feature names vary across compiler versions. Include it where <cpuid.h> is available.
 */
#ifndef OPERATOR_NODE_ERASURE_CPU_H
#define OPERATOR_NODE_ERASURE_CPU_H

#include <cpuid.h>

enum { F_SSSE3 = 1, F_AVX2 = 2, F_AVX512 = 4, F_GFNI = 8 };

static int cpu_features(void) {
    unsigned a, b, c, d, features = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & (1u << 9)) features |= F_SSSE3;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    unsigned xcr0 = 0, xcr0_hi = 0;
    if (osxsave) __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_hi) : "c"(0));
    int ymm_saved = avx && (xcr0 & 0x06) == 0x06;
    int zmm_saved = ymm_saved && (xcr0 & 0xe0) == 0xe0;
    if (__get_cpuid_max(0, NULL) < 7) return (int)features;
    __cpuid_count(7, 0, a, b, c, d);
    if (ymm_saved && (b & (1u << 5))) features |= F_AVX2;
    if (zmm_saved && (b & (1u << 16)) && (b & (1u << 30))) features |= F_AVX512; /* F + BW */
    if (c & (1u << 8)) features |= F_GFNI;
    return (int)features;
}

/* Read once at module init: cpuid is slow, and traps to the hypervisor on a virtual machine. */
static int cpu_feature_set;

static int has_all(int wanted) { return (cpu_feature_set & wanted) == wanted; }
static int has_gfni512(void) { return has_all(F_GFNI | F_AVX512); }
static int has_gfni256(void) { return has_all(F_GFNI | F_AVX2); }
static int has_avx2(void) { return has_all(F_AVX2); }
static int has_ssse3(void) { return has_all(F_SSSE3); }

#endif /* OPERATOR_NODE_ERASURE_CPU_H */
