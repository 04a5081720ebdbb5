/*
 * GF(2^8) matrix products over whole chunks: the hot loop of the erasure codec.
 *
 * The field is reedsolo's (primitive polynomial 0x11d, generator 2). Encoding multiplies the
 * parity rows of the systematic generator matrix by the k data chunks; decoding multiplies rows of
 * the inverted sub-matrix of the received rows by the received chunks. Both are the same product,
 * done by one of several kernels chosen at run time from the CPU's features:
 *
 *   gfni512  GFNI gf2p8affineqb on 64-byte vectors (AVX-512): one instruction multiplies 64 bytes
 *            by a constant, given the constant's 8x8 bit matrix. gf2p8mulb is not usable: it is
 *            fixed to the AES polynomial 0x11b.
 *   gfni256  the same on 32-byte vectors (AVX2 + GFNI).
 *   avx2     split-nibble table lookups with vpshufb on 32-byte vectors.
 *   ssse3    the same on 16-byte vectors.
 *   scalar   a 64 KiB multiplication table; portable C.
 *
 * Each vector kernel is compiled with a target attribute, so the file builds with plain compiler
 * flags and only the kernels the CPU supports are ever called. Work is cache-blocked: columns are
 * taken in blocks whose inputs fit in L1, and within a block up to RMAX output rows are accumulated
 * in registers, so each input vector is loaded once per group of outputs.
 *
 * An encode costs k * (n - k) products per 64 bytes of chunk. gfni512 runs close to one product
 * per cycle, the throughput of a 512-bit gf2p8affineqb (one port): sums take one ternary-logic
 * instruction per two products and each broadcast coefficient serves two vectors, so little
 * else competes for that port.
 *
 * Every entry point takes Python buffers without copying them, writes into one new bytes object and
 * releases the GIL around the arithmetic.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define RS_X86 1
#include <immintrin.h>
#else
#define RS_X86 0
#endif

#define RS_MAX_ROWS 255
/* Inputs of one column block are kept within this many bytes so that they stay in L1. */
#define RS_BLOCK_BUDGET 24576
/* Chunk lengths are multiples of the widest vector, so no kernel needs a scalar tail. */
#define RS_ALIGN 64

/* ------------------------------------------------------------------------------------------ */
/* The field                                                                                   */

static uint8_t gf_exp[512];
static uint8_t gf_log[256];
static uint8_t gf_mul_table[256][256];

static void gf_init(void) {
    unsigned x = 1;
    for (int i = 0; i < 255; i++) {
        gf_exp[i] = (uint8_t)x;
        gf_log[x] = (uint8_t)i;
        x <<= 1;
        if (x & 0x100) x ^= 0x11d;
    }
    for (int i = 255; i < 512; i++) gf_exp[i] = gf_exp[i - 255];
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++)
            gf_mul_table[a][b] = (a && b) ? gf_exp[gf_log[a] + gf_log[b]] : 0;
}

static inline uint8_t gf_mul(uint8_t a, uint8_t b) { return gf_mul_table[a][b]; }

static inline uint8_t gf_inv(uint8_t a) { return gf_exp[255 - gf_log[a]]; }

/* Gauss-Jordan inversion of the k x k matrix a (destroyed) into out. Returns -1 if singular. */
static int gf_invert(uint8_t *a, uint8_t *out, int k) {
    memset(out, 0, (size_t)k * k);
    for (int i = 0; i < k; i++) out[i * k + i] = 1;
    for (int col = 0; col < k; col++) {
        int piv = col;
        while (piv < k && a[piv * k + col] == 0) piv++;
        if (piv == k) return -1;
        if (piv != col) {
            for (int j = 0; j < k; j++) {
                uint8_t t = a[col * k + j]; a[col * k + j] = a[piv * k + j]; a[piv * k + j] = t;
                t = out[col * k + j]; out[col * k + j] = out[piv * k + j]; out[piv * k + j] = t;
            }
        }
        const uint8_t *scale = gf_mul_table[gf_inv(a[col * k + col])];
        for (int j = 0; j < k; j++) {
            a[col * k + j] = scale[a[col * k + j]];
            out[col * k + j] = scale[out[col * k + j]];
        }
        for (int row = 0; row < k; row++) {
            uint8_t f = a[row * k + col];
            if (row == col || f == 0) continue;
            const uint8_t *m = gf_mul_table[f];
            /* Columns left of col are already zero in the pivot row of a. */
            for (int j = col; j < k; j++) a[row * k + j] ^= m[a[col * k + j]];
            for (int j = 0; j < k; j++) out[row * k + j] ^= m[out[col * k + j]];
        }
    }
    return 0;
}

/*
 * Inverse of the k x k sub-matrix of [I; P] made of the k distinct `rows`: row d of inv gives
 * data row d from the received chunks, taken in the order of `rows`. Received data rows are
 * identity rows, so only the e x e system of the e missing data rows is inverted:
 * d_M = A^-1 c_Q + A^-1 B d_D, with A = P[Q][M] and B = P[Q][D] (minus is plus here).
 */
static int invert_rows(const uint8_t *parity, int k, const int *rows, uint8_t *inv) {
    int dpos[RS_MAX_ROWS], drow[RS_MAX_ROWS], qpos[RS_MAX_ROWS], qrow[RS_MAX_ROWS];
    int missing[RS_MAX_ROWS], nd = 0, nq = 0, e = 0, rc = 0;
    uint8_t have[RS_MAX_ROWS] = {0};
    for (int i = 0; i < k; i++) {
        if (rows[i] < k) { have[rows[i]] = 1; drow[nd] = rows[i]; dpos[nd++] = i; }
        else { qrow[nq] = rows[i] - k; qpos[nq++] = i; }
    }
    for (int d = 0; d < k; d++) if (!have[d]) missing[e++] = d;
    memset(inv, 0, (size_t)k * k);
    for (int i = 0; i < nd; i++) inv[drow[i] * k + dpos[i]] = 1;
    if (e == 0) return 0;
    uint8_t *a = malloc((size_t)e * e), *ainv = malloc((size_t)e * e);
    if (a == NULL || ainv == NULL) { rc = -2; goto done; }
    for (int u = 0; u < e; u++)
        for (int v = 0; v < e; v++) a[u * e + v] = parity[qrow[u] * k + missing[v]];
    if (gf_invert(a, ainv, e) < 0) { rc = -1; goto done; }
    for (int t = 0; t < e; t++) {
        uint8_t *dst = inv + missing[t] * k;
        const uint8_t *arow = ainv + t * e;
        for (int u = 0; u < e; u++) dst[qpos[u]] = arow[u];
        for (int i = 0; i < nd; i++) {
            uint8_t acc = 0;
            for (int u = 0; u < e; u++) acc ^= gf_mul(arow[u], parity[qrow[u] * k + drow[i]]);
            dst[dpos[i]] = acc;
        }
    }
done:
    free(a);
    free(ainv);
    return rc;
}

static size_t block_width(int cols) {
    size_t w = ((size_t)RS_BLOCK_BUDGET / (size_t)cols) & ~(size_t)(RS_ALIGN - 1);
    return w < RS_ALIGN ? RS_ALIGN : w;
}

/* ------------------------------------------------------------------------------------------ */
/* Kernels. Each computes out[r] = sum_j coef[r][j] * in[j] over len bytes, for rows outputs.     */
/* tab holds one prepared entry per coefficient, row-major; its layout depends on the kernel.   */

typedef void (*kernel_fn)(const uint8_t *tab, int rows, int cols, const uint8_t *const *in,
                          uint8_t *const *out, size_t len);

static void kernel_scalar(const uint8_t *tab, int rows, int cols, const uint8_t *const *in,
                          uint8_t *const *out, size_t len) {
    size_t width = block_width(cols);
    for (size_t b = 0; b < len; b += width) {
        size_t w = len - b < width ? len - b : width;
        for (int r = 0; r < rows; r++) {
            uint8_t *o = out[r] + b;
            memset(o, 0, w);
            for (int j = 0; j < cols; j++) {
                const uint8_t *m = gf_mul_table[tab[r * cols + j]];
                const uint8_t *x = in[j] + b;
                for (size_t i = 0; i < w; i++) o[i] ^= m[x[i]];
            }
        }
    }
}

static void prep_scalar(uint8_t *dst, uint8_t c) { dst[0] = c; }

/* Low-nibble products in the first 16 bytes, high-nibble products in the next 16, repeated. */
static void prep_nibbles(uint8_t *dst, uint8_t c, int lanes) {
    for (int lane = 0; lane < lanes; lane++) {
        for (int x = 0; x < 16; x++) {
            dst[lane * 16 + x] = gf_mul(c, (uint8_t)x);
            dst[(lanes + lane) * 16 + x] = gf_mul(c, (uint8_t)(x << 4));
        }
    }
}

static void prep_nibbles16(uint8_t *dst, uint8_t c) { prep_nibbles(dst, c, 1); }

static void prep_nibbles32(uint8_t *dst, uint8_t c) { prep_nibbles(dst, c, 2); }

/* The 8x8 bit matrix of "multiply by c" as gf2p8affineqb wants it: byte 7-i selects the input
 * bits whose products with c have bit i set. */
static uint64_t affine_matrix(uint8_t c) {
    uint8_t column[8]; /* column j: c times the basis element x^j */
    for (int j = 0; j < 8; j++) column[j] = gf_mul(c, (uint8_t)(1u << j));
    uint64_t m = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t row = 0;
        for (int j = 0; j < 8; j++) row |= (uint64_t)((column[j] >> i) & 1u) << j;
        m |= row << (8 * (7 - i));
    }
    return m;
}

static uint64_t gf_affine[256]; /* affine_matrix of every constant, filled at module init */

static void prep_affine(uint8_t *dst, uint8_t c) { memcpy(dst, &gf_affine[c], sizeof(uint64_t)); }

/*
 * A vector kernel is a group body, inlined with a constant group size R so that the R
 * accumulators live in registers, plus a driver that walks column blocks and row groups. These
 * macros stamp out one function per group size and the switch that picks it.
 */
#define RS_GROUP_FN(NAME, TARGET, R)                                                          \
    static TARGET __attribute__((noinline)) void NAME##_g##R(                                 \
        const uint8_t *tab, int cols, const uint8_t *const *in, uint8_t *const *out,          \
        size_t begin, size_t end) {                                                           \
        NAME##_group(tab, cols, in, out, begin, end, R);                                      \
    }

#define RS_CASE(NAME, R) \
    case R: NAME##_g##R(tab, cols, in, out, begin, end); break;

#define RS_DRIVER(NAME, TARGET, RMAX, ENTRY)                                                  \
    static TARGET void NAME(const uint8_t *tab, int rows, int cols, const uint8_t *const *in, \
                            uint8_t *const *out, size_t len) {                                \
        size_t width = block_width(cols);                                                     \
        for (size_t b = 0; b < len; b += width) {                                             \
            size_t e = len - b < width ? len : b + width;                                     \
            for (int r0 = 0; r0 < rows; r0 += RMAX) {                                         \
                int R = rows - r0 < RMAX ? rows - r0 : RMAX;                                  \
                NAME##_dispatch(R, tab + (size_t)r0 * cols * ENTRY, cols, in, out + r0, b, e); \
            }                                                                                 \
        }                                                                                     \
    }

#define RS_GROUPS_8(NAME, TARGET)                                                     \
    RS_GROUP_FN(NAME, TARGET, 1) RS_GROUP_FN(NAME, TARGET, 2)                         \
    RS_GROUP_FN(NAME, TARGET, 3) RS_GROUP_FN(NAME, TARGET, 4)                         \
    RS_GROUP_FN(NAME, TARGET, 5) RS_GROUP_FN(NAME, TARGET, 6)                         \
    RS_GROUP_FN(NAME, TARGET, 7) RS_GROUP_FN(NAME, TARGET, 8)
#define RS_CASES_8(NAME)                                                              \
    RS_CASE(NAME, 1) RS_CASE(NAME, 2) RS_CASE(NAME, 3) RS_CASE(NAME, 4)               \
    RS_CASE(NAME, 5) RS_CASE(NAME, 6) RS_CASE(NAME, 7) RS_CASE(NAME, 8)
#define RS_GROUPS_12(NAME, TARGET)                                                    \
    RS_GROUPS_8(NAME, TARGET)                                                         \
    RS_GROUP_FN(NAME, TARGET, 9) RS_GROUP_FN(NAME, TARGET, 10)                        \
    RS_GROUP_FN(NAME, TARGET, 11) RS_GROUP_FN(NAME, TARGET, 12)
#define RS_CASES_12(NAME)                                                             \
    RS_CASES_8(NAME) RS_CASE(NAME, 9) RS_CASE(NAME, 10) RS_CASE(NAME, 11) RS_CASE(NAME, 12)

#define RS_DISPATCH(NAME, TARGET, CASES)                                                      \
    static TARGET void NAME##_dispatch(int R, const uint8_t *tab, int cols,                   \
                                       const uint8_t *const *in, uint8_t *const *out,         \
                                       size_t begin, size_t end) {                            \
        switch (R) { CASES(NAME) default: break; }                                            \
    }

#define RS_INLINE static inline __attribute__((always_inline))

#if RS_X86

/* ---- GFNI, 64-byte vectors ---- */
#define T_GFNI512 __attribute__((target("avx512f,avx512bw,gfni")))
#define GFNI512_RMAX 12
#define AFFINE512(x, m) _mm512_gf2p8affine_epi64_epi8((x), (m), 0)

/* Two 64-byte vectors per step, so each broadcast matrix serves two products, and two inputs
 * per step, so one ternary-logic instruction adds two products to a sum. */
RS_INLINE T_GFNI512 void gfni512_pair(const uint64_t *tab, int cols, const uint8_t *const *in,
                                      uint8_t *const *out, size_t v, const int R) {
    __m512i a[GFNI512_RMAX], b[GFNI512_RMAX];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) a[r] = b[r] = _mm512_setzero_si512();
    int j = 0;
    for (; j + 1 < cols; j += 2) {
        __m512i x0 = _mm512_loadu_si512((const void *)(in[j] + v));
        __m512i y0 = _mm512_loadu_si512((const void *)(in[j] + v + 64));
        __m512i x1 = _mm512_loadu_si512((const void *)(in[j + 1] + v));
        __m512i y1 = _mm512_loadu_si512((const void *)(in[j + 1] + v + 64));
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512i m0 = _mm512_set1_epi64((long long)tab[j * R + r]);
            __m512i m1 = _mm512_set1_epi64((long long)tab[(j + 1) * R + r]);
            a[r] = _mm512_ternarylogic_epi64(a[r], AFFINE512(x0, m0), AFFINE512(x1, m1), 0x96);
            b[r] = _mm512_ternarylogic_epi64(b[r], AFFINE512(y0, m0), AFFINE512(y1, m1), 0x96);
        }
    }
    if (j < cols) {
        __m512i x0 = _mm512_loadu_si512((const void *)(in[j] + v));
        __m512i y0 = _mm512_loadu_si512((const void *)(in[j] + v + 64));
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512i m0 = _mm512_set1_epi64((long long)tab[j * R + r]);
            a[r] = _mm512_xor_si512(a[r], AFFINE512(x0, m0));
            b[r] = _mm512_xor_si512(b[r], AFFINE512(y0, m0));
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
        _mm512_storeu_si512((void *)(out[r] + v), a[r]);
        _mm512_storeu_si512((void *)(out[r] + v + 64), b[r]);
    }
}

/* One 64-byte vector: the tail of a block of odd length. */
RS_INLINE T_GFNI512 void gfni512_single(const uint64_t *tab, int cols, const uint8_t *const *in,
                                        uint8_t *const *out, size_t v, const int R) {
    __m512i a[GFNI512_RMAX];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) a[r] = _mm512_setzero_si512();
    for (int j = 0; j < cols; j++) {
        __m512i x0 = _mm512_loadu_si512((const void *)(in[j] + v));
#pragma GCC unroll 16
        for (int r = 0; r < R; r++)
            a[r] = _mm512_xor_si512(a[r],
                                    AFFINE512(x0, _mm512_set1_epi64((long long)tab[j * R + r])));
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) _mm512_storeu_si512((void *)(out[r] + v), a[r]);
}

RS_INLINE T_GFNI512 void kernel_gfni512_group(const uint8_t *tab8, int cols,
                                              const uint8_t *const *in, uint8_t *const *out,
                                              size_t begin, size_t end, const int R) {
    const uint64_t *tab = (const uint64_t *)tab8;
    size_t v = begin;
    for (; v + 128 <= end; v += 128) gfni512_pair(tab, cols, in, out, v, R);
    if (v < end) gfni512_single(tab, cols, in, out, v, R);
}
RS_GROUPS_12(kernel_gfni512, T_GFNI512)
RS_DISPATCH(kernel_gfni512, T_GFNI512, RS_CASES_12)
RS_DRIVER(kernel_gfni512, T_GFNI512, GFNI512_RMAX, 8)

/* ---- GFNI, 32-byte vectors ---- */
#define T_GFNI256 __attribute__((target("avx2,gfni")))
#define GFNI256_RMAX 12

RS_INLINE T_GFNI256 void kernel_gfni256_group(const uint8_t *tab8, int cols,
                                              const uint8_t *const *in, uint8_t *const *out,
                                              size_t begin, size_t end, const int R) {
    const uint64_t *tab = (const uint64_t *)tab8;
    for (size_t v = begin; v < end; v += 32) {
        __m256i acc[GFNI256_RMAX];
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_si256();
        for (int j = 0; j < cols; j++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(in[j] + v));
#pragma GCC unroll 16
            for (int r = 0; r < R; r++)
                acc[r] = _mm256_xor_si256(acc[r], _mm256_gf2p8affine_epi64_epi8(
                    x, _mm256_set1_epi64x((long long)tab[j * R + r]), 0));
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) _mm256_storeu_si256((__m256i *)(out[r] + v), acc[r]);
    }
}
RS_GROUPS_12(kernel_gfni256, T_GFNI256)
RS_DISPATCH(kernel_gfni256, T_GFNI256, RS_CASES_12)
RS_DRIVER(kernel_gfni256, T_GFNI256, GFNI256_RMAX, 8)

/* ---- split nibbles, 32-byte vectors ---- */
#define T_AVX2 __attribute__((target("avx2")))
#define AVX2_RMAX 8

RS_INLINE T_AVX2 void kernel_avx2_group(const uint8_t *tab, int cols, const uint8_t *const *in,
                                        uint8_t *const *out, size_t begin, size_t end,
                                        const int R) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (size_t v = begin; v < end; v += 32) {
        __m256i acc[AVX2_RMAX];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_si256();
        for (int j = 0; j < cols; j++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(in[j] + v));
            __m256i lo = _mm256_and_si256(x, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi64(x, 4), low4);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const uint8_t *t = tab + ((size_t)j * R + r) * 64;
                __m256i tl = _mm256_loadu_si256((const __m256i *)t);
                __m256i th = _mm256_loadu_si256((const __m256i *)(t + 32));
                acc[r] = _mm256_xor_si256(acc[r], _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo),
                                                                   _mm256_shuffle_epi8(th, hi)));
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) _mm256_storeu_si256((__m256i *)(out[r] + v), acc[r]);
    }
}
RS_GROUPS_8(kernel_avx2, T_AVX2)
RS_DISPATCH(kernel_avx2, T_AVX2, RS_CASES_8)
RS_DRIVER(kernel_avx2, T_AVX2, AVX2_RMAX, 64)

/* ---- split nibbles, 16-byte vectors ---- */
#define T_SSSE3 __attribute__((target("ssse3")))
#define SSSE3_RMAX 8

RS_INLINE T_SSSE3 void kernel_ssse3_group(const uint8_t *tab, int cols, const uint8_t *const *in,
                                          uint8_t *const *out, size_t begin, size_t end,
                                          const int R) {
    const __m128i low4 = _mm_set1_epi8(0x0f);
    for (size_t v = begin; v < end; v += 16) {
        __m128i acc[SSSE3_RMAX];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r] = _mm_setzero_si128();
        for (int j = 0; j < cols; j++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(in[j] + v));
            __m128i lo = _mm_and_si128(x, low4);
            __m128i hi = _mm_and_si128(_mm_srli_epi64(x, 4), low4);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const uint8_t *t = tab + ((size_t)j * R + r) * 32;
                __m128i tl = _mm_loadu_si128((const __m128i *)t);
                __m128i th = _mm_loadu_si128((const __m128i *)(t + 16));
                acc[r] = _mm_xor_si128(acc[r], _mm_xor_si128(_mm_shuffle_epi8(tl, lo),
                                                             _mm_shuffle_epi8(th, hi)));
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) _mm_storeu_si128((__m128i *)(out[r] + v), acc[r]);
    }
}
RS_GROUPS_8(kernel_ssse3, T_SSSE3)
RS_DISPATCH(kernel_ssse3, T_SSSE3, RS_CASES_8)
RS_DRIVER(kernel_ssse3, T_SSSE3, SSSE3_RMAX, 32)

#include "_cpu.h"

#endif /* RS_X86 */

static int has_scalar(void) { return 1; }

typedef struct {
    const char *name;
    size_t entry;                     /* bytes of prepared table per coefficient */
    int group;                        /* output rows accumulated together */
    void (*prepare)(uint8_t *, uint8_t);
    kernel_fn run;
    int (*supported)(void);
} kernel_desc;

/* Best first: kernels() reports them in this order. */
static const kernel_desc KERNELS[] = {
#if RS_X86
    {"gfni512", 8, GFNI512_RMAX, prep_affine, kernel_gfni512, has_gfni512},
    {"gfni256", 8, GFNI256_RMAX, prep_affine, kernel_gfni256, has_gfni256},
    {"avx2", 64, AVX2_RMAX, prep_nibbles32, kernel_avx2, has_avx2},
    {"ssse3", 32, SSSE3_RMAX, prep_nibbles16, kernel_ssse3, has_ssse3},
#endif
    {"scalar", 1, 1, prep_scalar, kernel_scalar, has_scalar},
};
#define N_KERNELS ((int)(sizeof KERNELS / sizeof KERNELS[0]))

/* Lay the prepared entries out in the order the kernel reads them: rows in groups of `group`,
 * and within a group column by column, so one pointer walks all of a group's coefficients. */
static void prepare_table(const kernel_desc *kd, const uint8_t *coef, int rows, int cols,
                          uint8_t *tab) {
    for (int r = 0; r < rows; r++) {
        int g = r / kd->group, in_group = rows - g * kd->group;
        if (in_group > kd->group) in_group = kd->group;
        for (int j = 0; j < cols; j++) {
            size_t at = (size_t)g * kd->group * cols + (size_t)j * in_group + r % kd->group;
            kd->prepare(tab + at * kd->entry, coef[r * cols + j]);
        }
    }
}

static int find_kernel(const char *name) {
    for (int i = 0; i < N_KERNELS; i++)
        if (strcmp(KERNELS[i].name, name) == 0) return KERNELS[i].supported() ? i : -2;
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Buffers                                                                                     */

#include "_extension.h"

/* Acquire `want` buffers of exactly `length` bytes each from a sequence. */
static int buffers_acquire(PyObject *seq, Py_ssize_t want, Py_ssize_t length, buffer_set *set) {
    set->count = 0;
    set->views = NULL;
    set->ptrs = NULL;
    PyObject *fast = PySequence_Fast(seq, "inputs must be a sequence of buffers");
    if (fast == NULL) return -1;
    if (PySequence_Fast_GET_SIZE(fast) != want) {
        PyErr_Format(PyExc_ValueError, "expected %zd inputs, got %zd", want,
                     PySequence_Fast_GET_SIZE(fast));
        Py_DECREF(fast);
        return -1;
    }
    set->views = PyMem_Calloc((size_t)want + 1, sizeof(Py_buffer));
    set->ptrs = PyMem_Calloc((size_t)want + 1, sizeof(uint8_t *));
    if (set->views == NULL || set->ptrs == NULL) {
        Py_DECREF(fast);
        buffers_release(set);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < want; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (PyObject_GetBuffer(item, &set->views[i], PyBUF_SIMPLE) < 0) break;
        set->count++;
        if (set->views[i].len != length) {
            PyErr_Format(PyExc_ValueError, "input %zd has %zd bytes, expected %zd", i,
                         set->views[i].len, length);
            break;
        }
        set->ptrs[i] = set->views[i].buf;
    }
    Py_DECREF(fast);
    if (PyErr_Occurred()) {
        buffers_release(set);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Plan: a coefficient matrix prepared for one kernel                                          */

typedef struct {
    PyObject_HEAD
    int kernel;
    int rows;
    int cols;
    uint8_t *tab;
} PlanObject;

static void plan_dealloc(PlanObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    free(self->tab);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *plan_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"kernel", "coefficients", "rows", "cols", NULL};
    const char *name;
    Py_buffer coef;
    int rows, cols;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy*ii", kwlist, &name, &coef, &rows, &cols))
        return NULL;
    PlanObject *self = NULL;
    int k = find_kernel(name);
    if (k < 0) {
        PyErr_Format(PyExc_ValueError, k == -1 ? "unknown kernel %s" : "this CPU lacks kernel %s",
                     name);
    } else if (rows < 1 || cols < 1 || rows > RS_MAX_ROWS || cols > RS_MAX_ROWS) {
        PyErr_SetString(PyExc_ValueError, "rows and cols must be in 1..255");
    } else if (coef.len != (Py_ssize_t)rows * cols) {
        PyErr_SetString(PyExc_ValueError, "coefficients must hold rows * cols bytes");
    } else if ((self = (PlanObject *)type->tp_alloc(type, 0)) != NULL) {
        size_t size = (size_t)rows * cols * KERNELS[k].entry;
        self->tab = aligned_alloc(RS_ALIGN, (size + RS_ALIGN - 1) & ~(size_t)(RS_ALIGN - 1));
        if (self->tab == NULL) {
            Py_CLEAR(self);
            PyErr_NoMemory();
        } else {
            self->kernel = k;
            self->rows = rows;
            self->cols = cols;
            prepare_table(&KERNELS[k], coef.buf, rows, cols, self->tab);
        }
    }
    PyBuffer_Release(&coef);
    return (PyObject *)self;
}

static int check_length(Py_ssize_t length) {
    if (length <= 0 || length % RS_ALIGN != 0) {
        PyErr_Format(PyExc_ValueError, "chunk length must be a positive multiple of %d",
                     RS_ALIGN);
        return -1;
    }
    return 0;
}

static void plan_run(PlanObject *self, const uint8_t *const *in, uint8_t *const *out,
                     size_t len) {
    KERNELS[self->kernel].run(self->tab, self->rows, self->cols, in, out, len);
}

static uint8_t **output_rows(PyObject *bytes, Py_ssize_t first, int count, Py_ssize_t length) {
    uint8_t **out = PyMem_Calloc((size_t)count + 1, sizeof(uint8_t *));
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    uint8_t *base = (uint8_t *)PyBytes_AS_STRING(bytes);
    for (int r = 0; r < count; r++) out[r] = base + (first + r) * length;
    return out;
}

PyDoc_STRVAR(plan_apply_doc,
"apply(inputs, length) -> bytes\n\n"
"Multiply the matrix by cols input buffers of `length` bytes; return rows * length bytes.");

static PyObject *plan_apply(PlanObject *self, PyObject *args) {
    PyObject *inputs;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "On", &inputs, &length) || check_length(length) < 0) return NULL;
    buffer_set in;
    if (buffers_acquire(inputs, self->cols, length, &in) < 0) return NULL;
    PyObject *result = PyBytes_FromStringAndSize(NULL, length * self->rows);
    uint8_t **out = result ? output_rows(result, 0, self->rows, length) : NULL;
    if (out != NULL) {
        Py_BEGIN_ALLOW_THREADS
        plan_run(self, in.ptrs, out, (size_t)length);
        Py_END_ALLOW_THREADS
        PyMem_Free(out);
    } else {
        Py_CLEAR(result);
    }
    buffers_release(&in);
    return result;
}

PyDoc_STRVAR(plan_encode_doc,
"encode(blob, length) -> bytes\n\n"
"Treat blob, zero-padded to cols * length bytes, as cols data rows and multiply. The result holds\n"
"the padded data rows that the blob does not cover whole (cols - len(blob) // length of them),\n"
"then the rows products, each `length` bytes.");

static PyObject *plan_encode(PlanObject *self, PyObject *args) {
    Py_buffer blob;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "y*n", &blob, &length)) return NULL;
    PyObject *result = NULL;
    const uint8_t **in = NULL;
    uint8_t **out = NULL;
    if (check_length(length) < 0) goto done;
    if (blob.len <= 0 || blob.len > length * self->cols) {
        PyErr_SetString(PyExc_ValueError, "blob must hold 1 to cols * length bytes");
        goto done;
    }
    Py_ssize_t full = blob.len / length, pad = self->cols - full;
    result = PyBytes_FromStringAndSize(NULL, (pad + self->rows) * length);
    if (result == NULL) goto done;
    in = PyMem_Calloc((size_t)self->cols, sizeof(uint8_t *));
    out = output_rows(result, pad, self->rows, length);
    if (in == NULL || out == NULL) {
        Py_CLEAR(result);
        PyErr_NoMemory();
        goto done;
    }
    uint8_t *padded = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *data = blob.buf;
    for (Py_ssize_t j = 0; j < self->cols; j++)
        in[j] = j < full ? data + j * length : padded + (j - full) * length;
    Py_BEGIN_ALLOW_THREADS
    size_t tail = (size_t)(blob.len - full * length);
    memcpy(padded, data + full * length, tail);
    memset(padded + tail, 0, (size_t)(pad * length) - tail);
    plan_run(self, in, out, (size_t)length);
    Py_END_ALLOW_THREADS
done:
    PyMem_Free(in);
    PyMem_Free(out);
    PyBuffer_Release(&blob);
    return result;
}

/* Parse a sequence of row numbers, each in [0, cols) and starting before `size`. */
static int parse_rows(PyObject *seq, int cols, Py_ssize_t length, Py_ssize_t size, int *rows,
                      Py_ssize_t count) {
    PyObject *fast = PySequence_Fast(seq, "rows must be a sequence of ints");
    if (fast == NULL) return -1;
    if (PySequence_Fast_GET_SIZE(fast) != count) {
        PyErr_Format(PyExc_ValueError, "expected %zd rows", count);
        Py_DECREF(fast);
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        long row = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (row == -1 && PyErr_Occurred()) break;
        if (row < 0 || row >= cols || (Py_ssize_t)row * length >= size) {
            PyErr_Format(PyExc_ValueError, "row %ld out of range", row);
            break;
        }
        rows[i] = (int)row;
    }
    Py_DECREF(fast);
    return PyErr_Occurred() ? -1 : 0;
}

typedef struct {
    buffer_set in;
    buffer_set copies;
    int targets[RS_MAX_ROWS];
    int copy_rows[RS_MAX_ROWS];
    uint8_t *out[RS_MAX_ROWS];
    uint8_t *scratch;
} decode_job;

/* Split (row, buffer) pairs into row numbers and acquired buffers. */
static int parse_copies(PyObject *present, int cols, Py_ssize_t length, Py_ssize_t size,
                        decode_job *job) {
    PyObject *fast = PySequence_Fast(present, "present must be a sequence of (row, buffer)");
    if (fast == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject *rows = PyList_New(0), *bufs = PyList_New(0);
    int rc = -1;
    if (rows == NULL || bufs == NULL) goto done;
    if (n > cols) {
        PyErr_SetString(PyExc_ValueError, "more present rows than cols");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row, *buf;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "OO", &row, &buf)) goto done;
        if (PyList_Append(rows, row) < 0 || PyList_Append(bufs, buf) < 0) goto done;
    }
    if (parse_rows(rows, cols, length, size, job->copy_rows, n) < 0) goto done;
    rc = buffers_acquire(bufs, n, length, &job->copies);
done:
    Py_XDECREF(rows);
    Py_XDECREF(bufs);
    Py_DECREF(fast);
    return rc;
}

static void decode_run(PlanObject *self, decode_job *job, uint8_t *base, Py_ssize_t length,
                       Py_ssize_t size) {
    for (Py_ssize_t i = 0; i < job->copies.count; i++) {
        Py_ssize_t at = job->copy_rows[i] * length;
        Py_ssize_t n = size - at < length ? size - at : length;
        memcpy(base + at, job->copies.ptrs[i], (size_t)n);
    }
    plan_run(self, job->in.ptrs, job->out, (size_t)length);
    for (int r = 0; r < self->rows; r++) {
        Py_ssize_t at = job->targets[r] * length;
        if (job->out[r] == job->scratch) memcpy(base + at, job->scratch, (size_t)(size - at));
    }
}

PyDoc_STRVAR(plan_decode_doc,
"decode(inputs, length, targets, present, size) -> bytes\n\n"
"Rebuild a blob of `size` bytes laid out as rows of `length` bytes: row targets[r] is output r\n"
"of the product with the inputs, and each (row, buffer) of `present` is copied. Rows are cut at\n"
"`size`; every target must start before it.");

static PyObject *plan_decode(PlanObject *self, PyObject *args) {
    PyObject *inputs, *targets, *present, *result = NULL;
    Py_ssize_t length, size;
    if (!PyArg_ParseTuple(args, "OnOOn", &inputs, &length, &targets, &present, &size) ||
        check_length(length) < 0)
        return NULL;
    if (size <= 0 || size > length * self->cols) {
        PyErr_SetString(PyExc_ValueError, "size must be in 1..cols * length");
        return NULL;
    }
    decode_job *job = PyMem_Calloc(1, sizeof *job);
    if (job == NULL) return PyErr_NoMemory();
    if (parse_rows(targets, self->cols, length, size, job->targets, self->rows) < 0 ||
        parse_copies(present, self->cols, length, size, job) < 0 ||
        buffers_acquire(inputs, self->cols, length, &job->in) < 0)
        goto done;
    if ((job->scratch = PyMem_Malloc((size_t)length)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if ((result = PyBytes_FromStringAndSize(NULL, size)) == NULL) goto done;
    uint8_t *base = (uint8_t *)PyBytes_AS_STRING(result);
    for (int r = 0; r < self->rows; r++) {
        Py_ssize_t at = job->targets[r] * length;
        job->out[r] = at + length <= size ? base + at : job->scratch;
    }
    Py_BEGIN_ALLOW_THREADS
    decode_run(self, job, base, length, size);
    Py_END_ALLOW_THREADS
done:
    buffers_release(&job->in);
    buffers_release(&job->copies);
    PyMem_Free(job->scratch);
    PyMem_Free(job);
    return result;
}

static PyObject *plan_get_kernel(PlanObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(KERNELS[self->kernel].name);
}

static PyObject *plan_get_rows(PlanObject *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->rows);
}

static PyObject *plan_get_cols(PlanObject *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->cols);
}

static PyMethodDef plan_methods[] = {
    {"apply", (PyCFunction)plan_apply, METH_VARARGS, plan_apply_doc},
    {"encode", (PyCFunction)plan_encode, METH_VARARGS, plan_encode_doc},
    {"decode", (PyCFunction)plan_decode, METH_VARARGS, plan_decode_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef plan_getset[] = {
    {"kernel", (getter)plan_get_kernel, NULL, "name of the kernel", NULL},
    {"rows", (getter)plan_get_rows, NULL, "output rows", NULL},
    {"cols", (getter)plan_get_cols, NULL, "input rows", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(plan_doc,
"Plan(kernel, coefficients, rows, cols)\n\n"
"A rows x cols GF(2^8) matrix (row-major bytes) prepared for one kernel. Immutable and safe to\n"
"share between threads.");

static PyType_Slot plan_slots[] = {
    {Py_tp_new, plan_new},
    {Py_tp_dealloc, plan_dealloc},
    {Py_tp_methods, plan_methods},
    {Py_tp_getset, plan_getset},
    {Py_tp_doc, (void *)plan_doc},
    {0, NULL},
};

static PyType_Spec plan_spec = {
    "operator_node.erasure._rs.Plan", sizeof(PlanObject), 0, Py_TPFLAGS_DEFAULT, plan_slots,
};

/* ------------------------------------------------------------------------------------------ */
/* Module functions                                                                            */

DEFINE_KERNEL_NAMES(rs_kernels, KERNELS, N_KERNELS)

static PyObject *rs_invert(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer m;
    int k;
    if (!PyArg_ParseTuple(args, "y*i", &m, &k)) return NULL;
    PyObject *result = NULL;
    uint8_t *work = NULL;
    if (k < 1 || k > RS_MAX_ROWS || m.len != (Py_ssize_t)k * k) {
        PyErr_SetString(PyExc_ValueError, "matrix must be k * k bytes with k in 1..255");
    } else if ((work = PyMem_Malloc((size_t)k * k)) == NULL) {
        PyErr_NoMemory();
    } else if ((result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)k * k)) != NULL) {
        memcpy(work, m.buf, (size_t)k * k);
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = gf_invert(work, (uint8_t *)PyBytes_AS_STRING(result), k);
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            Py_CLEAR(result);
            PyErr_SetString(PyExc_ValueError, "matrix is singular");
        }
    }
    PyMem_Free(work);
    PyBuffer_Release(&m);
    return result;
}

/* Parse k distinct row numbers below n. */
static int parse_distinct_rows(PyObject *seq, int k, int n, int *rows) {
    PyObject *fast = PySequence_Fast(seq, "rows must be a sequence of ints");
    if (fast == NULL) return -1;
    uint8_t seen[256] = {0};
    if (PySequence_Fast_GET_SIZE(fast) != k)
        PyErr_Format(PyExc_ValueError, "expected %d rows", k);
    for (Py_ssize_t i = 0; i < k && !PyErr_Occurred(); i++) {
        long row = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (row == -1 && PyErr_Occurred()) break;
        if (row < 0 || row >= n || seen[row]) {
            PyErr_Format(PyExc_ValueError, "row %ld out of range or repeated", row);
            break;
        }
        seen[row] = 1;
        rows[i] = (int)row;
    }
    Py_DECREF(fast);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *rs_invert_rows(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer parity;
    int k;
    PyObject *seq, *result = NULL;
    int rows[RS_MAX_ROWS];
    if (!PyArg_ParseTuple(args, "y*iO", &parity, &k, &seq)) return NULL;
    if (k < 1 || k >= RS_MAX_ROWS || parity.len % k != 0 || parity.len == 0 ||
        k + parity.len / k > RS_MAX_ROWS) {
        PyErr_SetString(PyExc_ValueError, "parity must be (n - k) x k with 1 <= k < n <= 255");
    } else if (parse_distinct_rows(seq, k, k + (int)(parity.len / k), rows) == 0 &&
               (result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)k * k)) != NULL) {
        int rc = invert_rows(parity.buf, k, rows, (uint8_t *)PyBytes_AS_STRING(result));
        if (rc < 0) {
            Py_CLEAR(result);
            if (rc == -2) PyErr_NoMemory();
            else PyErr_SetString(PyExc_ValueError, "rows are not independent");
        }
    }
    PyBuffer_Release(&parity);
    return result;
}

static PyObject *rs_multiply(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer a, b;
    int m, k, p;
    if (!PyArg_ParseTuple(args, "y*y*iii", &a, &b, &m, &k, &p)) return NULL;
    PyObject *result = NULL;
    if (m < 1 || k < 1 || p < 1 || m > RS_MAX_ROWS || k > RS_MAX_ROWS || p > RS_MAX_ROWS ||
        a.len != (Py_ssize_t)m * k || b.len != (Py_ssize_t)k * p) {
        PyErr_SetString(PyExc_ValueError, "shapes must be (m x k) and (k x p) with sides 1..255");
    } else if ((result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)m * p)) != NULL) {
        const uint8_t *x = a.buf, *y = b.buf;
        uint8_t *z = (uint8_t *)PyBytes_AS_STRING(result);
        memset(z, 0, (size_t)m * p);
        for (int i = 0; i < m; i++)
            for (int t = 0; t < k; t++) {
                const uint8_t *row = gf_mul_table[x[i * k + t]];
                for (int j = 0; j < p; j++) z[i * p + j] ^= row[y[t * p + j]];
            }
    }
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Homomorphic fingerprints (profile FP-v1, see erasure/fingerprint.py and                     */
/* docs/encoding-validity.md). K = GF(2^8)[y]/(y^31 + y^3 + 1). A chunk of `length` bytes is    */
/* cut into 31 regions of S = 64 * ceil(length / (31 * 64)) bytes (zero past its end); lane w  */
/* is the K element sum_i region_i[w] y^i, and FP_r = sum_w lane_w r^w. Evaluated by folding   */
/* the upper lanes onto the lower ones, lanes[w] += r^h lanes[w + h], each fold one 31 x 31    */
/* matrix product over the codec's kernels: first per chunk down to 64 lanes, then over all    */
/* chunks at once with their 64 lanes transposed so that a kernel row holds every chunk.      */

#define FP_D 31
#define FP_ROW 64

static void k_mul(const uint8_t *a, const uint8_t *b, uint8_t *out) {
    uint8_t t[2 * FP_D - 1];
    memset(t, 0, sizeof t);
    for (int i = 0; i < FP_D; i++) {
        if (a[i] == 0) continue;
        const uint8_t *m = gf_mul_table[a[i]];
        for (int j = 0; j < FP_D; j++) t[i + j] ^= m[b[j]];
    }
    /* y^31 = y^3 + 1, so the coefficient of y^m (m >= 31) moves to y^(m-31) and y^(m-28). */
    for (int m = 2 * FP_D - 2; m >= FP_D; m--) {
        t[m - FP_D] ^= t[m];
        t[m - FP_D + 3] ^= t[m];
    }
    memcpy(out, t, FP_D);
}

static void k_pow(const uint8_t *r, size_t e, uint8_t *out) {
    uint8_t base[FP_D], acc[FP_D];
    memcpy(base, r, FP_D);
    memset(acc, 0, FP_D);
    acc[0] = 1;
    while (e) {
        if (e & 1) k_mul(acc, base, acc);
        k_mul(base, base, base);
        e >>= 1;
    }
    memcpy(out, acc, FP_D);
}

/* The matrix of multiplication by c: out_i = sum_j coef[i][j] in_j, column j = y^j c. */
static void k_mul_matrix(const uint8_t *c, uint8_t *coef) {
    uint8_t v[FP_D];
    memcpy(v, c, FP_D);
    for (int j = 0; j < FP_D; j++) {
        for (int i = 0; i < FP_D; i++) coef[i * FP_D + j] = v[i];
        uint8_t top = v[FP_D - 1];
        memmove(v + 1, v, FP_D - 1);
        v[0] = top;
        v[3] ^= top;
    }
}

typedef struct {
    const kernel_desc *kd;
    uint8_t *tab; /* levels prepared matrices, each FP_D * FP_D * entry bytes */
    size_t entry;
} fp_levels;

/* lanes_i[w] ^= (c * lanes[w + h])_i for w < count, lanes_i = base + i * stride. */
static void fp_fold(const fp_levels *lv, int level, uint8_t *base, size_t stride, size_t h,
                    size_t count, uint8_t *tmp) {
    const uint8_t *in[FP_D];
    uint8_t *out[FP_D];
    for (int i = 0; i < FP_D; i++) {
        in[i] = base + i * stride + h;
        out[i] = tmp + i * count;
    }
    lv->kd->run(lv->tab + (size_t)level * FP_D * FP_D * lv->entry, FP_D, FP_D, in, out, count);
    for (int i = 0; i < FP_D; i++) {
        uint8_t *dst = base + i * stride;
        const uint8_t *src = tmp + i * count;
        for (size_t b = 0; b < count; b++) dst[b] ^= src[b];
    }
}

static size_t fp_region(size_t length) {
    return ((length + FP_D * FP_ROW - 1) / (FP_D * FP_ROW)) * FP_ROW;
}

/* Fold widths from S lanes down to 1: halves rounded up to whole vectors, then halves. */
static int fp_schedule(size_t S, size_t *hs) {
    int n = 0;
    for (size_t w = S; w > 1;) {
        size_t h = w > FP_ROW ? ((w / 2 + FP_ROW - 1) / FP_ROW) * FP_ROW : w / 2;
        hs[n++] = h;
        w = h;
    }
    return n;
}

PyDoc_STRVAR(rs_fingerprint_doc,
"fingerprint(kernel, chunks, length, points) -> bytes\n\n"
"FP-v1 fingerprints of equal-length chunks at the K elements in points (31 bytes each, at most\n"
"2): for each chunk one 64-byte row, the fingerprints' coefficients in order, zero padded.");

static PyObject *rs_fingerprint(PyObject *module, PyObject *args) {
    const char *name;
    PyObject *chunks;
    Py_ssize_t length;
    Py_buffer points;
    if (!PyArg_ParseTuple(args, "sOny*", &name, &chunks, &length, &points)) return NULL;
    PyObject *result = NULL;
    int k = find_kernel(name);
    int npoints = (int)(points.len / FP_D);
    if (k < 0) {
        PyErr_Format(PyExc_ValueError, k == -1 ? "unknown kernel %s" : "this CPU lacks kernel %s",
                     name);
        PyBuffer_Release(&points);
        return NULL;
    }
    if (length <= 0 || points.len % FP_D != 0 || npoints < 1 || npoints * FP_D > FP_ROW) {
        PyErr_SetString(PyExc_ValueError, "length must be positive and points 31 or 62 bytes");
        PyBuffer_Release(&points);
        return NULL;
    }
    Py_ssize_t count = PySequence_Size(chunks);
    if (count < 0) {
        PyBuffer_Release(&points);
        return NULL;
    }
    buffer_set in;
    if (buffers_acquire(chunks, count, length, &in) < 0) {
        PyBuffer_Release(&points);
        return NULL;
    }
    const kernel_desc *kd = &KERNELS[k];
    size_t S = fp_region((size_t)length);
    size_t hs[64];
    int levels = fp_schedule(S, hs);
    size_t m = ((size_t)count + FP_ROW - 1) / FP_ROW * FP_ROW; /* chunks, padded to a vector */
    size_t mat = (size_t)FP_D * FP_D * kd->entry;
    size_t scratch = (size_t)FP_D * S, trans = (size_t)FP_D * FP_ROW * (m ? m : FP_ROW);
    uint8_t *tab = aligned_alloc(RS_ALIGN, ((size_t)npoints * levels * mat + RS_ALIGN) & ~(size_t)(RS_ALIGN - 1));
    uint8_t *buf = malloc(scratch);
    uint8_t *tmp = malloc(scratch > trans ? scratch : trans);
    uint8_t *lanes = calloc(1, trans);
    uint8_t *stage = malloc((size_t)FP_ROW * FP_D * FP_ROW);
    result = PyBytes_FromStringAndSize(NULL, count * FP_ROW);
    if (tab == NULL || buf == NULL || tmp == NULL || lanes == NULL || stage == NULL ||
        result == NULL) {
        if (result != NULL) Py_CLEAR(result);
        if (!PyErr_Occurred()) PyErr_NoMemory();
    } else {
        uint8_t *rows = (uint8_t *)PyBytes_AS_STRING(result);
        memset(rows, 0, (size_t)count * FP_ROW);
        Py_BEGIN_ALLOW_THREADS
        uint8_t coef[FP_D * FP_D], power[FP_D];
        for (int p = 0; p < npoints; p++)
            for (int l = 0; l < levels; l++) {
                k_pow((const uint8_t *)points.buf + p * FP_D, hs[l], power);
                k_mul_matrix(power, coef);
                prepare_table(kd, coef, FP_D, FP_D, tab + ((size_t)p * levels + l) * mat);
            }
        for (int p = 0; p < npoints; p++) {
            fp_levels lv = {kd, tab + (size_t)p * levels * mat, kd->entry};
            int first = 0; /* the levels that fold whole vectors, per chunk */
            size_t w = S;
            while (first < levels && w > FP_ROW) w = hs[first++];
            for (Py_ssize_t c = 0; c < count; c++) {
                memset(buf + (length / S) * S, 0, scratch - (length / S) * S);
                memcpy(buf, in.ptrs[c], (size_t)length);
                w = S;
                for (int l = 0; l < first; l++) {
                    fp_fold(&lv, l, buf, S, hs[l], w - hs[l], tmp);
                    w = hs[l];
                }
                /* Staged whole (64 lanes of each region), transposed a block of chunks at a time
                 * below: lanes[i][x][c] = lane x of region i of chunk c. */
                for (int i = 0; i < FP_D; i++)
                    memcpy(stage + ((size_t)(c % FP_ROW) * FP_D + i) * FP_ROW, buf + i * S, FP_ROW);
                if (c % FP_ROW == FP_ROW - 1 || c == count - 1) {
                    size_t c0 = (size_t)c - (size_t)c % FP_ROW, nc = (size_t)c % FP_ROW + 1;
                    for (size_t ix = 0; ix < (size_t)FP_D * FP_ROW; ix++) {
                        uint8_t *dst = lanes + ix * m + c0;
                        for (size_t j = 0; j < nc; j++) dst[j] = stage[j * FP_D * FP_ROW + ix];
                    }
                }
            }
            size_t width = w;
            for (int l = first; l < levels; l++) {
                fp_fold(&lv, l, lanes, FP_ROW * m, hs[l] * m, (width - hs[l]) * m, tmp);
                width = hs[l];
            }
            for (Py_ssize_t c = 0; c < count; c++)
                for (int i = 0; i < FP_D; i++) rows[c * FP_ROW + p * FP_D + i] = lanes[(size_t)i * FP_ROW * m + c];
            memset(lanes, 0, trans);
        }
        Py_END_ALLOW_THREADS
    }
    free(tab);
    free(buf);
    free(tmp);
    free(lanes);
    free(stage);
    buffers_release(&in);
    PyBuffer_Release(&points);
    return result;
}

static PyMethodDef rs_methods[] = {
    {"kernels", rs_kernels, METH_NOARGS,
     "kernels() -> tuple[str, ...]\n\nKernels this CPU can run, fastest first."},
    {"invert", rs_invert, METH_VARARGS,
     "invert(matrix, k) -> bytes\n\nInverse of a k x k GF(2^8) matrix; ValueError if singular."},
    {"invert_rows", rs_invert_rows, METH_VARARGS,
     "invert_rows(parity, k, rows) -> bytes\n\nInverse of the rows of [I; parity] numbered by rows."},
    {"fingerprint", rs_fingerprint, METH_VARARGS, rs_fingerprint_doc},
    {"multiply", rs_multiply, METH_VARARGS,
     "multiply(a, b, m, k, p) -> bytes\n\nProduct of an m x k and a k x p GF(2^8) matrix."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef rs_module = {
    PyModuleDef_HEAD_INIT, "_rs", "GF(2^8) matrix kernels of the erasure codec.", -1, rs_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rs(void) {
    gf_init();
    for (int c = 0; c < 256; c++) gf_affine[c] = affine_matrix((uint8_t)c);
#if RS_X86
    cpu_feature_set = cpu_features();
#endif
    PyObject *module = PyModule_Create(&rs_module);
    if (module == NULL) return NULL;
    PyObject *plan = PyType_FromSpec(&plan_spec);
    if (plan == NULL || PyModule_AddObject(module, "Plan", plan) < 0) {
        Py_XDECREF(plan);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
