/*
 * Reed-Solomon over GF(2^16) by the additive FFT: up to 65,535 shards, O(n log n) work.
 *
 * The code is the one of Leopard-RS's 16-bit field as reed-solomon-simd 3 computes it, so its
 * shards are bit-for-bit those of the `reed-solomon-leopard` Python package (the tests check this
 * with that package as the oracle):
 *   - the field is GF(2)[x]/(x^16 + x^5 + x^3 + x^2 + 1) (0x1002D), its elements written in the
 *     Cantor basis below; logarithms are taken modulo 65535 and log 0 stands for the zero element;
 *   - encoding evaluates the polynomial through the k originals on the recovery points with the
 *     FFT in the novel polynomial basis of Lin, Chung and Han (2014); the evaluation points are
 *     set by the skew table;
 *   - decoding multiplies the received shards by the error locator's values (found with a fast
 *     Walsh-Hadamard transform of the erasure pattern), takes the formal derivative in the novel
 *     basis, and divides the lost originals back out;
 *   - "high rate" (more originals than recovery shards) and "low rate" place originals and
 *     recovery shards differently; the choice between them follows reed-solomon-simd's rule and
 *     the two are not interchangeable;
 *   - every 64 bytes of a shard hold 32 field elements: first their 32 low bytes, then their 32
 *     high bytes.
 *
 * Shards are processed in tiles: the same byte range [off, off + W) of every shard is gathered
 * into a scratch buffer small enough for L2, all transforms run there, and the results are
 * scattered out. Each byte column is independent, so this changes no result, only the memory
 * traffic: a transform over thousands of shards otherwise streams the whole blob through memory
 * once per layer.
 *
 * Multiplication by a constant is a 16x16 bit matrix over GF(2). The kernels, chosen at run
 * time from the CPU's features, apply it as
 *   gfni512  two gf2p8affineqb on a 64-byte vector (low bytes by one 8x8 block, high bytes by
 *            another, then the halves swapped for the cross terms);
 *   gfni256  four gf2p8affineqb on two 32-byte vectors;
 *   avx2     eight vpshufb nibble lookups on two 32-byte vectors;
 *   ssse3    the same on 16-byte vectors;
 *   scalar   the same lookups in portable C (always built, and tested).
 * The per-constant matrices and nibble tables are built once, for all 65,536 logarithms.
 *
 * Entry points take Python buffers without copying, write into one new bytes object and release
 * the GIL around the arithmetic.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define GF_X86 1
#include <immintrin.h>
#else
#define GF_X86 0
#endif

#define GF_BITS 16
#define GF_ORDER 65536u
#define GF_MODULUS 65535u
#define GF_POLYNOMIAL 0x1002Du
#define SHARD_ALIGN 64
/* Scratch per tile: small shapes keep a tile within L1/L2; large ones keep at least
 * TILE_MIN_WIDTH bytes per shard, below which the per-butterfly overhead (the constant's
 * matrices, the loop) outweighs what a smaller tile saves in cache misses. Measured here:
 * 64 KiB / 512 B beat 512 KiB / 64 B by 1.2x encode and 1.3x decode at 8,192 chunks. */
#ifndef TILE_BUDGET
#define TILE_BUDGET (64 * 1024)
#endif
#ifndef TILE_MIN_WIDTH
#define TILE_MIN_WIDTH 512
#endif

static const uint16_t CANTOR_BASIS[GF_BITS] = {
    0x0001, 0xACCA, 0x3C0E, 0x163E, 0xC582, 0xED2E, 0x914C, 0x4012,
    0x6C98, 0x10D8, 0x6A72, 0xB900, 0xFDB8, 0xFB34, 0xFF38, 0x991E,
};

/* ------------------------------------------------------------------------------------------ */
/* The field                                                                                   */

static uint16_t gf_exp[GF_ORDER];      /* exp[log] in the Cantor basis; exp[65535] = exp[0] */
static uint16_t gf_log[GF_ORDER];      /* log of each element; log[0] = 65535 (zero) */
static uint16_t gf_skew[GF_MODULUS];   /* logs of the FFT's twiddle factors */
static uint16_t gf_log_walsh[GF_ORDER]; /* Walsh transform of the log table, for the locator */
static uint64_t (*gf_affine)[4];       /* per log: 8x8 blocks lo->lo, hi->lo, lo->hi, hi->hi */
static uint8_t (*gf_nibbles)[128];     /* per log: low bytes [4][16], then high bytes [4][16] */

static inline uint16_t add_mod(uint32_t x, uint32_t y) {
    uint32_t sum = x + y;
    return (uint16_t)(sum + (sum >> GF_BITS));
}

static inline uint16_t sub_mod(uint32_t x, uint32_t y) {
    uint32_t dif = x - y;
    return (uint16_t)(dif + (dif >> GF_BITS));
}

/* x times the element whose log is log_m. */
static inline uint16_t gf_mul(uint16_t x, uint32_t log_m) {
    return x ? gf_exp[add_mod(gf_log[x], log_m)] : 0;
}

/* Walsh-Hadamard transform modulo 65535 in place; entries from `truncated` on must be zero. */
static void fwht(uint16_t *data, size_t truncated) {
    for (size_t dist = 1, dist4 = 4; dist4 <= GF_ORDER; dist = dist4, dist4 <<= 2) {
        for (size_t r = 0; r < truncated; r += dist4) {
            for (size_t i = r; i < r + dist; i++) {
                uint16_t a = data[i], b = data[i + dist];
                uint16_t c = data[i + 2 * dist], d = data[i + 3 * dist];
                uint16_t s0 = add_mod(a, b), d0 = sub_mod(a, b);
                uint16_t s1 = add_mod(c, d), d1 = sub_mod(c, d);
                data[i] = add_mod(s0, s1);
                data[i + dist] = add_mod(d0, d1);
                data[i + 2 * dist] = sub_mod(s0, s1);
                data[i + 3 * dist] = sub_mod(d0, d1);
            }
        }
    }
}

/* The first `size` outputs (size a power of two) of the Walsh transform of all 65,536 entries:
 * an output below `size` sees the entries size apart with one sign, so those are summed first.
 * Overwrites data[0 .. size). */
static void fwht_head(uint16_t *data, size_t size) {
    for (size_t block = size; block < GF_ORDER; block += size)
        for (size_t i = 0; i < size; i++) data[i] = add_mod(data[i], data[block + i]);
    for (size_t dist = 1; dist < size; dist <<= 1)
        for (size_t r = 0; r < size; r += 2 * dist)
            for (size_t i = r; i < r + dist; i++) {
                uint16_t a = data[i], b = data[i + dist];
                data[i] = add_mod(a, b);
                data[i + dist] = sub_mod(a, b);
            }
}

static void field_init(void) {
    /* Logs in the polynomial basis from the LFSR of the primitive polynomial... */
    uint32_t state = 1;
    for (uint32_t i = 0; i < GF_MODULUS; i++) {
        gf_exp[state] = (uint16_t)i;
        state <<= 1;
        if (state >= GF_ORDER) state ^= GF_POLYNOMIAL;
    }
    gf_exp[0] = GF_MODULUS;
    /* ...then renamed through the Cantor basis: element j is the sum of the basis vectors
     * selected by the bits of j. */
    gf_log[0] = 0;
    for (int i = 0; i < GF_BITS; i++) {
        uint32_t width = 1u << i;
        for (uint32_t j = 0; j < width; j++) gf_log[j + width] = gf_log[j] ^ CANTOR_BASIS[i];
    }
    for (uint32_t i = 0; i < GF_ORDER; i++) gf_log[i] = gf_exp[gf_log[i]];
    for (uint32_t i = 0; i < GF_ORDER; i++) gf_exp[gf_log[i]] = (uint16_t)i;
    gf_exp[GF_MODULUS] = gf_exp[0];

    /* Twiddle factors of the novel-basis FFT, one subspace at a time. */
    uint16_t temp[GF_BITS - 1];
    for (int i = 1; i < GF_BITS; i++) temp[i - 1] = (uint16_t)(1u << i);
    for (int m = 0; m < GF_BITS - 1; m++) {
        size_t step = (size_t)1 << (m + 1);
        gf_skew[((size_t)1 << m) - 1] = 0;
        for (int i = m; i < GF_BITS - 1; i++) {
            size_t s = (size_t)1 << (i + 1);
            for (size_t j = ((size_t)1 << m) - 1; j < s; j += step)
                gf_skew[j + s] = gf_skew[j] ^ temp[i];
        }
        temp[m] = (uint16_t)(GF_MODULUS - gf_log[gf_mul(temp[m], gf_log[temp[m] ^ 1])]);
        for (int i = m + 1; i < GF_BITS - 1; i++)
            temp[i] = gf_mul(temp[i], add_mod(gf_log[temp[i] ^ 1], temp[m]));
    }
    for (uint32_t i = 0; i < GF_MODULUS; i++) gf_skew[i] = gf_log[gf_skew[i]];

    memcpy(gf_log_walsh, gf_log, sizeof gf_log);
    gf_log_walsh[0] = 0;
    fwht(gf_log_walsh, GF_ORDER);
}

/* The 8x8 bit matrix of a linear map on bytes, as gf2p8affineqb wants it: byte 7-i selects the
 * input bits whose images have bit i set. column[j] is the image of bit j. */
static uint64_t affine_matrix(const uint8_t column[8]) {
    uint64_t m = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t row = 0;
        for (int j = 0; j < 8; j++) row |= (uint64_t)((column[j] >> i) & 1u) << j;
        m |= row << (8 * (7 - i));
    }
    return m;
}

/* Build the per-constant tables (under the GIL, once). Returns -1 with MemoryError set. */
static int tables_init(void) {
    if (gf_affine) return 0;
    uint64_t (*affine)[4] = PyMem_RawMalloc(sizeof(*affine) * GF_ORDER);
    uint8_t (*nibbles)[128] = PyMem_RawMalloc(sizeof(*nibbles) * GF_ORDER);
    if (!affine || !nibbles) {
        PyMem_RawFree(affine);
        PyMem_RawFree(nibbles);
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t log_m = 0; log_m < GF_ORDER; log_m++) {
        uint16_t p[GF_BITS]; /* the constant times each basis bit */
        for (int j = 0; j < GF_BITS; j++) p[j] = gf_mul((uint16_t)(1u << j), log_m);
        uint8_t ll[8], hl[8], lh[8], hh[8];
        for (int j = 0; j < 8; j++) {
            ll[j] = (uint8_t)p[j];
            hl[j] = (uint8_t)(p[j] >> 8);
            lh[j] = (uint8_t)p[8 + j];
            hh[j] = (uint8_t)(p[8 + j] >> 8);
        }
        affine[log_m][0] = affine_matrix(ll); /* low byte in, low byte out */
        affine[log_m][1] = affine_matrix(lh); /* high byte in, low byte out */
        affine[log_m][2] = affine_matrix(hl); /* low byte in, high byte out */
        affine[log_m][3] = affine_matrix(hh); /* high byte in, high byte out */
        for (int nib = 0; nib < 4; nib++) {
            for (int x = 0; x < 16; x++) {
                uint16_t prod = 0;
                for (int b = 0; b < 4; b++)
                    if (x & (1 << b)) prod ^= p[4 * nib + b];
                nibbles[log_m][16 * nib + x] = (uint8_t)prod;
                nibbles[log_m][64 + 16 * nib + x] = (uint8_t)(prod >> 8);
            }
        }
    }
    gf_affine = affine;
    gf_nibbles = nibbles;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* One encode or decode, as the kernels see it                                                 */

typedef struct {
    int decoding, high_rate;
    size_t k, r, length, chunk, tile;
    const uint8_t *const *in; /* encode: the k originals; decode: the received shards */
    uint8_t *out;             /* encode: r recovery shards; decode: k originals */
    uint8_t *scratch;
    /* decoding only */
    size_t work_count, end, original_base, received, missing;
    const size_t *positions; /* work position of each received shard */
    const size_t *lost;      /* indices of the originals to compute */
    const uint16_t *erasures;
} gf16_job;

#define GF_INLINE static inline __attribute__((always_inline))

/* ---- scalar ---- */
#define T_SCALAR

GF_INLINE void scalar_product(const uint8_t *t, uint8_t lo, uint8_t hi, uint8_t *plo,
                              uint8_t *phi) {
    *plo = t[lo & 15] ^ t[16 + (lo >> 4)] ^ t[32 + (hi & 15)] ^ t[48 + (hi >> 4)];
    *phi = t[64 + (lo & 15)] ^ t[80 + (lo >> 4)] ^ t[96 + (hi & 15)] ^ t[112 + (hi >> 4)];
}

GF_INLINE void scalar_xor(uint8_t *x, const uint8_t *y, size_t W) {
    uint64_t a, b;
    for (size_t i = 0; i < W; i += 8) {
        memcpy(&a, x + i, 8);
        memcpy(&b, y + i, 8);
        a ^= b;
        memcpy(x + i, &a, 8);
    }
}

GF_INLINE void scalar_mul(uint8_t *x, const uint8_t *y, unsigned log_m, size_t W) {
    const uint8_t *t = gf_nibbles[log_m];
    for (size_t v = 0; v < W; v += 64)
        for (int i = 0; i < 32; i++) {
            uint8_t lo, hi;
            scalar_product(t, y[v + i], y[v + 32 + i], &lo, &hi);
            x[v + i] = lo;
            x[v + 32 + i] = hi;
        }
}

GF_INLINE void scalar_muladd(uint8_t *x, const uint8_t *y, unsigned log_m, size_t W) {
    const uint8_t *t = gf_nibbles[log_m];
    for (size_t v = 0; v < W; v += 64)
        for (int i = 0; i < 32; i++) {
            uint8_t lo, hi;
            scalar_product(t, y[v + i], y[v + 32 + i], &lo, &hi);
            x[v + i] ^= lo;
            x[v + 32 + i] ^= hi;
        }
}

GF_INLINE void scalar_fft2(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    scalar_muladd(a, b, log_m, W);
    scalar_xor(b, a, W);
}

GF_INLINE void scalar_ifft2(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    scalar_xor(b, a, W);
    scalar_muladd(a, b, log_m, W);
}

#define KNAME(x) scalar_##x
#define KTARGET T_SCALAR
#include "_gf16_transform.h"
#undef KNAME
#undef KTARGET

#if GF_X86

/* ---- GFNI, 64-byte vectors: [32 low bytes | 32 high bytes] is one zmm register ---- */
#define T_GFNI512 __attribute__((target("avx512f,avx512bw,gfni")))

typedef struct {
    __m512i same, cross; /* blocks for [lo->lo | hi->hi] and, on swapped halves, [hi->lo | lo->hi] */
} gfni512_m;

GF_INLINE T_GFNI512 gfni512_m gfni512_load(unsigned log_m) {
    const uint64_t *a = gf_affine[log_m];
    gfni512_m m;
    m.same = _mm512_setr_epi64((long long)a[0], (long long)a[0], (long long)a[0],
                               (long long)a[0], (long long)a[3], (long long)a[3],
                               (long long)a[3], (long long)a[3]);
    m.cross = _mm512_setr_epi64((long long)a[1], (long long)a[1], (long long)a[1],
                                (long long)a[1], (long long)a[2], (long long)a[2],
                                (long long)a[2], (long long)a[2]);
    return m;
}

GF_INLINE T_GFNI512 __m512i gfni512_prod(__m512i y, gfni512_m m) {
    __m512i swapped = _mm512_shuffle_i64x2(y, y, 0x4E);
    return _mm512_xor_si512(_mm512_gf2p8affine_epi64_epi8(y, m.same, 0),
                            _mm512_gf2p8affine_epi64_epi8(swapped, m.cross, 0));
}

GF_INLINE T_GFNI512 void gfni512_xor(uint8_t *x, const uint8_t *y, size_t W) {
    for (size_t v = 0; v < W; v += 64) {
        __m512i a = _mm512_loadu_si512((const void *)(x + v));
        __m512i b = _mm512_loadu_si512((const void *)(y + v));
        _mm512_storeu_si512((void *)(x + v), _mm512_xor_si512(a, b));
    }
}

GF_INLINE T_GFNI512 void gfni512_mul(uint8_t *x, const uint8_t *y, unsigned log_m, size_t W) {
    gfni512_m m = gfni512_load(log_m);
    for (size_t v = 0; v < W; v += 64)
        _mm512_storeu_si512((void *)(x + v),
                            gfni512_prod(_mm512_loadu_si512((const void *)(y + v)), m));
}

GF_INLINE T_GFNI512 void gfni512_fft2(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    gfni512_m m = gfni512_load(log_m);
    for (size_t v = 0; v < W; v += 64) {
        __m512i x = _mm512_loadu_si512((const void *)(a + v));
        __m512i y = _mm512_loadu_si512((const void *)(b + v));
        x = _mm512_xor_si512(x, gfni512_prod(y, m));
        _mm512_storeu_si512((void *)(a + v), x);
        _mm512_storeu_si512((void *)(b + v), _mm512_xor_si512(y, x));
    }
}

GF_INLINE T_GFNI512 void gfni512_ifft2(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    gfni512_m m = gfni512_load(log_m);
    for (size_t v = 0; v < W; v += 64) {
        __m512i x = _mm512_loadu_si512((const void *)(a + v));
        __m512i y = _mm512_xor_si512(_mm512_loadu_si512((const void *)(b + v)), x);
        _mm512_storeu_si512((void *)(b + v), y);
        _mm512_storeu_si512((void *)(a + v), _mm512_xor_si512(x, gfni512_prod(y, m)));
    }
}

#define KNAME(x) gfni512_##x
#define KTARGET T_GFNI512
#include "_gf16_transform.h"
#undef KNAME
#undef KTARGET

/* ---- GFNI, 32-byte vectors: low and high bytes in separate ymm registers ---- */
#define T_GFNI256 __attribute__((target("avx2,gfni")))

typedef struct {
    __m256i ll, lh, hl, hh;
} gfni256_m;

GF_INLINE T_GFNI256 gfni256_m gfni256_load(unsigned log_m) {
    const uint64_t *a = gf_affine[log_m];
    gfni256_m m = {_mm256_set1_epi64x((long long)a[0]), _mm256_set1_epi64x((long long)a[1]),
                   _mm256_set1_epi64x((long long)a[2]), _mm256_set1_epi64x((long long)a[3])};
    return m;
}

#define AFF256(x, m) _mm256_gf2p8affine_epi64_epi8((x), (m), 0)

GF_INLINE T_GFNI256 void gfni256_prod(__m256i lo, __m256i hi, const gfni256_m *m, __m256i *plo,
                                      __m256i *phi) {
    *plo = _mm256_xor_si256(AFF256(lo, m->ll), AFF256(hi, m->lh));
    *phi = _mm256_xor_si256(AFF256(lo, m->hl), AFF256(hi, m->hh));
}

#define KNAME(x) gfni256_##x
#define KTARGET T_GFNI256
#include "_gf16_ops256.h"
#include "_gf16_transform.h"
#undef KNAME
#undef KTARGET

/* ---- AVX2 nibble lookups ---- */
#define T_AVX2 __attribute__((target("avx2")))

typedef struct {
    __m256i lo[4], hi[4];
} avx2_m;

GF_INLINE T_AVX2 avx2_m avx2_load(unsigned log_m) {
    const uint8_t *t = gf_nibbles[log_m];
    avx2_m m;
    for (int i = 0; i < 4; i++) {
        m.lo[i] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(t + 16 * i)));
        m.hi[i] =
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(t + 64 + 16 * i)));
    }
    return m;
}

GF_INLINE T_AVX2 void avx2_prod(__m256i lo, __m256i hi, const avx2_m *m, __m256i *plo,
                                __m256i *phi) {
    const __m256i mask = _mm256_set1_epi8(0x0f);
    __m256i l0 = _mm256_and_si256(lo, mask), l1 = _mm256_and_si256(_mm256_srli_epi16(lo, 4), mask);
    __m256i h0 = _mm256_and_si256(hi, mask), h1 = _mm256_and_si256(_mm256_srli_epi16(hi, 4), mask);
    *plo = _mm256_xor_si256(
        _mm256_xor_si256(_mm256_shuffle_epi8(m->lo[0], l0), _mm256_shuffle_epi8(m->lo[1], l1)),
        _mm256_xor_si256(_mm256_shuffle_epi8(m->lo[2], h0), _mm256_shuffle_epi8(m->lo[3], h1)));
    *phi = _mm256_xor_si256(
        _mm256_xor_si256(_mm256_shuffle_epi8(m->hi[0], l0), _mm256_shuffle_epi8(m->hi[1], l1)),
        _mm256_xor_si256(_mm256_shuffle_epi8(m->hi[2], h0), _mm256_shuffle_epi8(m->hi[3], h1)));
}

#define KNAME(x) avx2_##x
#define KTARGET T_AVX2
#include "_gf16_ops256.h"
#include "_gf16_transform.h"
#undef KNAME
#undef KTARGET

/* ---- SSSE3 nibble lookups: a 64-byte block is low bytes in two xmm, high bytes in two ---- */
#define T_SSSE3 __attribute__((target("ssse3")))

typedef struct {
    __m128i lo[4], hi[4];
} ssse3_m;

GF_INLINE T_SSSE3 ssse3_m ssse3_load(unsigned log_m) {
    const uint8_t *t = gf_nibbles[log_m];
    ssse3_m m;
    for (int i = 0; i < 4; i++) {
        m.lo[i] = _mm_loadu_si128((const __m128i *)(t + 16 * i));
        m.hi[i] = _mm_loadu_si128((const __m128i *)(t + 64 + 16 * i));
    }
    return m;
}

GF_INLINE T_SSSE3 void ssse3_prod(__m128i lo, __m128i hi, const ssse3_m *m, __m128i *plo,
                                  __m128i *phi) {
    const __m128i mask = _mm_set1_epi8(0x0f);
    __m128i l0 = _mm_and_si128(lo, mask), l1 = _mm_and_si128(_mm_srli_epi16(lo, 4), mask);
    __m128i h0 = _mm_and_si128(hi, mask), h1 = _mm_and_si128(_mm_srli_epi16(hi, 4), mask);
    *plo = _mm_xor_si128(
        _mm_xor_si128(_mm_shuffle_epi8(m->lo[0], l0), _mm_shuffle_epi8(m->lo[1], l1)),
        _mm_xor_si128(_mm_shuffle_epi8(m->lo[2], h0), _mm_shuffle_epi8(m->lo[3], h1)));
    *phi = _mm_xor_si128(
        _mm_xor_si128(_mm_shuffle_epi8(m->hi[0], l0), _mm_shuffle_epi8(m->hi[1], l1)),
        _mm_xor_si128(_mm_shuffle_epi8(m->hi[2], h0), _mm_shuffle_epi8(m->hi[3], h1)));
}

GF_INLINE T_SSSE3 void ssse3_xor(uint8_t *x, const uint8_t *y, size_t W) {
    for (size_t v = 0; v < W; v += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(x + v));
        __m128i b = _mm_loadu_si128((const __m128i *)(y + v));
        _mm_storeu_si128((__m128i *)(x + v), _mm_xor_si128(a, b));
    }
}

/* x = y * m (muladd = 0) or x ^= y * m (muladd = 1), 16 elements at a time. */
GF_INLINE T_SSSE3 void ssse3_apply(uint8_t *x, const uint8_t *y, const ssse3_m *m, size_t W,
                                   int muladd) {
    for (size_t v = 0; v < W; v += 64)
        for (size_t h = 0; h < 32; h += 16) {
            __m128i plo, phi;
            ssse3_prod(_mm_loadu_si128((const __m128i *)(y + v + h)),
                       _mm_loadu_si128((const __m128i *)(y + v + 32 + h)), m, &plo, &phi);
            if (muladd) {
                plo = _mm_xor_si128(plo, _mm_loadu_si128((const __m128i *)(x + v + h)));
                phi = _mm_xor_si128(phi, _mm_loadu_si128((const __m128i *)(x + v + 32 + h)));
            }
            _mm_storeu_si128((__m128i *)(x + v + h), plo);
            _mm_storeu_si128((__m128i *)(x + v + 32 + h), phi);
        }
}

GF_INLINE T_SSSE3 void ssse3_mul(uint8_t *x, const uint8_t *y, unsigned log_m, size_t W) {
    ssse3_m m = ssse3_load(log_m);
    ssse3_apply(x, y, &m, W, 0);
}

GF_INLINE T_SSSE3 void ssse3_fft2(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    ssse3_m m = ssse3_load(log_m);
    ssse3_apply(a, b, &m, W, 1);
    ssse3_xor(b, a, W);
}

GF_INLINE T_SSSE3 void ssse3_ifft2(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    ssse3_m m = ssse3_load(log_m);
    ssse3_xor(b, a, W);
    ssse3_apply(a, b, &m, W, 1);
}

#define KNAME(x) ssse3_##x
#define KTARGET T_SSSE3
#include "_gf16_transform.h"
#undef KNAME
#undef KTARGET

#include "_cpu.h"

#endif /* GF_X86 */

static int has_scalar(void) { return 1; }

typedef struct {
    const char *name;
    void (*run)(const gf16_job *);
    int (*supported)(void);
} kernel_desc;

/* Best first: kernels() reports them in this order. */
static const kernel_desc KERNELS[] = {
#if GF_X86
    {"gfni512", gfni512_run, has_gfni512},
    {"gfni256", gfni256_run, has_gfni256},
    {"avx2", avx2_run, has_avx2},
    {"ssse3", ssse3_run, has_ssse3},
#endif
    {"scalar", scalar_run, has_scalar},
};
#define N_KERNELS ((int)(sizeof KERNELS / sizeof KERNELS[0]))

static const kernel_desc *find_kernel(const char *name) {
    for (int i = 0; i < N_KERNELS; i++) {
        if (strcmp(KERNELS[i].name, name) != 0) continue;
        if (KERNELS[i].supported()) return &KERNELS[i];
        PyErr_Format(PyExc_ValueError, "kernel %s is not supported by this CPU", name);
        return NULL;
    }
    PyErr_Format(PyExc_ValueError, "unknown kernel %s", name);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Shapes                                                                                      */

static size_t next_pow2(size_t x) {
    size_t p = 1;
    while (p < x) p <<= 1;
    return p;
}

/* reed-solomon-simd's rule: 1 if high rate, 0 if low rate, -1 if the counts are unsupported. */
static int rate_of(size_t k, size_t r) {
    if (k == 0 || r == 0 || k > GF_ORDER || r > GF_ORDER) return -1;
    size_t kp = next_pow2(k), rp = next_pow2(r);
    size_t smaller = kp < rp ? kp : rp, larger = k > r ? k : r;
    if (smaller + larger > GF_ORDER) return -1;
    if (kp != rp) return kp > rp;
    return k <= r; /* equal chunk sizes: reed-solomon-simd picks the rate that decodes faster */
}

static size_t tile_width(size_t shards, size_t length) {
    size_t w = TILE_BUDGET / shards / SHARD_ALIGN * SHARD_ALIGN;
    if (w < TILE_MIN_WIDTH) w = TILE_MIN_WIDTH;
    return w < length ? w : length;
}

static int parse_shape(Py_ssize_t k, Py_ssize_t r, int *high) {
    if (k < 1 || r < 1 || (*high = rate_of((size_t)k, (size_t)r)) < 0) {
        PyErr_Format(PyExc_ValueError, "unsupported shard counts: %zd original, %zd recovery", k,
                     r);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Buffers                                                                                     */

/* A new bytes object of `size` bytes, not yet written. Large ones are fresh anonymous memory:
 * asking for transparent huge pages before the first write saves most of the page faults, which
 * otherwise cost more than the arithmetic (one fault per 4 KiB of a 100 MiB result). */
static PyObject *new_output(size_t size) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (out && size >= 2 * huge) {
        uintptr_t start = (uintptr_t)PyBytes_AS_STRING(out);
        uintptr_t first = (start + huge - 1) & ~(huge - 1), last = (start + size) & ~(huge - 1);
        if (last > first) (void)madvise((void *)first, last - first, MADV_HUGEPAGE);
    }
#endif
    return out;
}

#include "_extension.h"

/* Acquire every buffer of seq; all must have one length, a positive multiple of 64, which is
 * stored in *length. */
static int buffers_acquire(PyObject *seq, buffer_set *set, Py_ssize_t *length) {
    set->count = 0;
    PyObject *fast = PySequence_Fast(seq, "shards must be a sequence of buffers");
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    set->views = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_buffer));
    set->ptrs = PyMem_Calloc((size_t)(n ? n : 1), sizeof(uint8_t *));
    if (!set->views || !set->ptrs) {
        Py_DECREF(fast);
        buffers_release(set);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, i), &set->views[i],
                               PyBUF_C_CONTIGUOUS) < 0)
            goto fail;
        set->count = i + 1;
        Py_ssize_t len = set->views[i].len;
        if (i == 0) *length = len;
        if (len != *length || len <= 0 || len % SHARD_ALIGN) {
            PyErr_Format(PyExc_ValueError,
                         "shards must share one length, a positive multiple of %d bytes",
                         SHARD_ALIGN);
            goto fail;
        }
        set->ptrs[i] = set->views[i].buf;
    }
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    buffers_release(set);
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points                                                                                */

PyDoc_STRVAR(encode_doc,
             "encode(kernel, originals, recovery_count) -> bytes\n\n"
             "The recovery_count recovery shards of the k original shards (buffers of one length,\n"
             "a multiple of 64), one after the other in a new bytes object.");

static PyObject *gf16_encode(PyObject *module, PyObject *args) {
    const char *name;
    PyObject *seq;
    Py_ssize_t r;
    if (!PyArg_ParseTuple(args, "sOn:encode", &name, &seq, &r)) return NULL;
    const kernel_desc *kd = find_kernel(name);
    if (!kd || tables_init() < 0) return NULL;
    buffer_set in;
    Py_ssize_t length = 0;
    if (buffers_acquire(seq, &in, &length) < 0) return NULL;
    int high;
    if (parse_shape(in.count, r, &high) < 0) {
        buffers_release(&in);
        return NULL;
    }
    size_t k = (size_t)in.count;
    size_t chunk = high ? next_pow2((size_t)r) : next_pow2(k);
    size_t tile = tile_width(2 * chunk, (size_t)length);
    PyObject *out = new_output((size_t)r * (size_t)length);
    uint8_t *scratch = PyMem_RawMalloc(2 * chunk * tile);
    if (!out || !scratch) {
        Py_XDECREF(out);
        PyMem_RawFree(scratch);
        buffers_release(&in);
        return out ? PyErr_NoMemory() : NULL;
    }
    gf16_job job = {0};
    job.high_rate = high;
    job.k = k;
    job.r = (size_t)r;
    job.length = (size_t)length;
    job.chunk = chunk;
    job.tile = tile;
    job.in = in.ptrs;
    job.out = (uint8_t *)PyBytes_AS_STRING(out);
    job.scratch = scratch;
    Py_BEGIN_ALLOW_THREADS kd->run(&job);
    Py_END_ALLOW_THREADS PyMem_RawFree(scratch);
    buffers_release(&in);
    return out;
}

PyDoc_STRVAR(decode_doc,
             "decode(kernel, original_count, recovery_count, indices, shards) -> bytes\n\n"
             "The original_count original shards, one after the other, from the shards given:\n"
             "indices[i] names shards[i], originals first (0..original_count-1), then recovery\n"
             "shards. At least original_count distinct indices are needed.");

static PyObject *gf16_decode(PyObject *module, PyObject *args) {
    const char *name;
    Py_ssize_t k, r;
    PyObject *index_seq, *shard_seq;
    if (!PyArg_ParseTuple(args, "snnOO:decode", &name, &k, &r, &index_seq, &shard_seq))
        return NULL;
    const kernel_desc *kd = find_kernel(name);
    int high;
    if (!kd || parse_shape(k, r, &high) < 0 || tables_init() < 0) return NULL;
    buffer_set in;
    Py_ssize_t length = 0;
    if (buffers_acquire(shard_seq, &in, &length) < 0) return NULL;
    PyObject *out = NULL, *fast = NULL;
    size_t *positions = NULL, *indices = NULL, *lost = NULL;
    uint16_t *erasures = NULL;
    uint8_t *scratch = NULL, *seen = NULL;
    size_t chunk = high ? next_pow2((size_t)r) : next_pow2((size_t)k);
    size_t end = high ? chunk + (size_t)k : chunk + (size_t)r;
    size_t original_base = high ? chunk : 0, recovery_base = high ? 0 : chunk;

    fast = PySequence_Fast(index_seq, "indices must be a sequence of ints");
    if (!fast) goto done;
    if (PySequence_Fast_GET_SIZE(fast) != in.count) {
        PyErr_SetString(PyExc_ValueError, "indices and shards differ in number");
        goto done;
    }
    if (in.count < k) {
        PyErr_Format(PyExc_ValueError, "need %zd shards, got %zd", k, in.count);
        goto done;
    }
    positions = PyMem_Calloc((size_t)in.count, sizeof(size_t));
    indices = PyMem_Calloc((size_t)in.count, sizeof(size_t));
    lost = PyMem_Calloc((size_t)k, sizeof(size_t));
    erasures = PyMem_Calloc(GF_ORDER, sizeof(uint16_t));
    seen = PyMem_Calloc((size_t)(k + r), 1);
    if (!positions || !indices || !lost || !erasures || !seen) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < in.count; i++) {
        Py_ssize_t index = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(fast, i));
        if (index == -1 && PyErr_Occurred()) goto done;
        if (index < 0 || index >= k + r || seen[index]) {
            PyErr_Format(PyExc_ValueError, "shard index %zd is out of range or repeated", index);
            goto done;
        }
        seen[index] = 1;
        indices[i] = (size_t)index;
        positions[i] = index < k ? original_base + (size_t)index
                                 : recovery_base + (size_t)(index - k);
    }
    out = new_output((size_t)k * (size_t)length);
    if (!out) goto done;
    uint8_t *data = (uint8_t *)PyBytes_AS_STRING(out);
    size_t missing = 0;
    for (Py_ssize_t i = 0; i < k; i++)
        if (!seen[i]) lost[missing++] = (size_t)i;
    if (missing == 0) {
        for (Py_ssize_t i = 0; i < in.count; i++)
            if (indices[i] < (size_t)k) memcpy(data + indices[i] * length, in.ptrs[i], length);
        goto done;
    }
    /* The erasure pattern: 1 where a shard is missing, or a position is past the shards (for
     * high rate, the unused recovery positions; for low rate, everything from `end` on). */
    if (high)
        for (size_t p = (size_t)r; p < chunk; p++) erasures[p] = 1;
    for (Py_ssize_t i = 0; i < k; i++)
        if (!seen[i]) erasures[original_base + (size_t)i] = 1;
    for (Py_ssize_t j = 0; j < r; j++)
        if (!seen[k + j]) erasures[recovery_base + (size_t)j] = 1;
    if (!high) {
        /* Low rate's pattern is all ones from `end` on. It is transformed as (pattern - 1),
         * which is zero from `end` on so the truncated transform applies, plus the transform of
         * all ones: 65,536 = 1 (mod 65,535) at position 0, nothing elsewhere. */
        for (size_t p = 0; p < end; p++) erasures[p] = erasures[p] ? 0 : (uint16_t)(GF_MODULUS - 1);
    }
    size_t work_count = next_pow2(end);
    size_t tile = tile_width(work_count, (size_t)length);
    scratch = PyMem_RawMalloc(work_count * tile);
    if (!scratch) {
        Py_CLEAR(out);
        PyErr_NoMemory();
        goto done;
    }
    gf16_job job = {0};
    job.decoding = 1;
    job.high_rate = high;
    job.k = (size_t)k;
    job.r = (size_t)r;
    job.length = (size_t)length;
    job.chunk = chunk;
    job.tile = tile;
    job.in = in.ptrs;
    job.out = data;
    job.scratch = scratch;
    job.work_count = work_count;
    job.end = end;
    job.original_base = original_base;
    job.received = (size_t)in.count;
    job.missing = missing;
    job.positions = positions;
    job.lost = lost;
    job.erasures = erasures;
    Py_BEGIN_ALLOW_THREADS
    /* The error locator's values at every position, from the Walsh transform of the pattern. */
    fwht(erasures, end);
    if (!high) erasures[0] = add_mod(erasures[0], 1);
    for (size_t i = 0; i < GF_ORDER; i++) {
        uint32_t product = (uint32_t)erasures[i] * gf_log_walsh[i];
        erasures[i] = add_mod(product & 0xFFFF, product >> GF_BITS);
    }
    fwht_head(erasures, work_count); /* only the work's positions are needed */
    for (Py_ssize_t i = 0; i < in.count; i++)
        if (indices[i] < (size_t)k) memcpy(data + indices[i] * length, in.ptrs[i], length);
    kd->run(&job);
    Py_END_ALLOW_THREADS
done:
    Py_XDECREF(fast);
    PyMem_Free(positions);
    PyMem_Free(indices);
    PyMem_Free(lost);
    PyMem_Free(erasures);
    PyMem_Free(seen);
    PyMem_RawFree(scratch);
    buffers_release(&in);
    return out;
}

DEFINE_KERNEL_NAMES(gf16_kernels, KERNELS, N_KERNELS)

static PyObject *gf16_supports(PyObject *module, PyObject *args) {
    Py_ssize_t k, r;
    if (!PyArg_ParseTuple(args, "nn:supports", &k, &r)) return NULL;
    return PyBool_FromLong(k >= 1 && r >= 1 && rate_of((size_t)k, (size_t)r) >= 0);
}

static PyObject *gf16_high_rate(PyObject *module, PyObject *args) {
    Py_ssize_t k, r;
    int high;
    if (!PyArg_ParseTuple(args, "nn:high_rate", &k, &r) || parse_shape(k, r, &high) < 0)
        return NULL;
    return PyBool_FromLong(high);
}

static PyMethodDef gf16_methods[] = {
    {"encode", gf16_encode, METH_VARARGS, encode_doc},
    {"decode", gf16_decode, METH_VARARGS, decode_doc},
    {"kernels", gf16_kernels, METH_NOARGS, "The kernels this CPU can run, fastest first."},
    {"supports", gf16_supports, METH_VARARGS,
     "supports(original_count, recovery_count) -> bool: whether the code has this shape."},
    {"high_rate", gf16_high_rate, METH_VARARGS,
     "high_rate(original_count, recovery_count) -> bool: the layout the shape uses."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef gf16_module = {
    PyModuleDef_HEAD_INIT, "_gf16", "Reed-Solomon over GF(2^16) by the additive FFT.", -1,
    gf16_methods,
};

PyMODINIT_FUNC PyInit__gf16(void) {
#if GF_X86
    cpu_feature_set = cpu_features();
#endif
    field_init();
    return PyModule_Create(&gf16_module);
}
