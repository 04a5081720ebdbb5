/*
 * A 256-bit kernel's four operations (see _gf16_transform.h), stamped out once per kernel.
 *
 * _gf16.c includes this file after defining KNAME, KTARGET and the kernel's product:
 *   KNAME(m)                        the prepared constant (matrices or nibble tables)
 *   KNAME(load)(log_m)              prepares it
 *   KNAME(prod)(lo, hi, &m, &plo, &phi)   the product of 32 elements (low bytes, high bytes)
 * A 64-byte block is one vector of low bytes and one of high bytes.
 */

GF_INLINE KTARGET void KNAME(xor)(uint8_t *x, const uint8_t *y, size_t W) {
    for (size_t v = 0; v < W; v += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(x + v));
        __m256i b = _mm256_loadu_si256((const __m256i *)(y + v));
        _mm256_storeu_si256((__m256i *)(x + v), _mm256_xor_si256(a, b));
    }
}

GF_INLINE KTARGET void KNAME(mul)(uint8_t *x, const uint8_t *y, unsigned log_m, size_t W) {
    KNAME(m) m = KNAME(load)(log_m);
    for (size_t v = 0; v < W; v += 64) {
        __m256i lo, hi;
        KNAME(prod)(_mm256_loadu_si256((const __m256i *)(y + v)),
                    _mm256_loadu_si256((const __m256i *)(y + v + 32)), &m, &lo, &hi);
        _mm256_storeu_si256((__m256i *)(x + v), lo);
        _mm256_storeu_si256((__m256i *)(x + v + 32), hi);
    }
}

GF_INLINE KTARGET void KNAME(fft2)(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    KNAME(m) m = KNAME(load)(log_m);
    for (size_t v = 0; v < W; v += 64) {
        __m256i ylo = _mm256_loadu_si256((const __m256i *)(b + v));
        __m256i yhi = _mm256_loadu_si256((const __m256i *)(b + v + 32));
        __m256i plo, phi;
        KNAME(prod)(ylo, yhi, &m, &plo, &phi);
        __m256i xlo = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + v)), plo);
        __m256i xhi = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + v + 32)), phi);
        _mm256_storeu_si256((__m256i *)(a + v), xlo);
        _mm256_storeu_si256((__m256i *)(a + v + 32), xhi);
        _mm256_storeu_si256((__m256i *)(b + v), _mm256_xor_si256(ylo, xlo));
        _mm256_storeu_si256((__m256i *)(b + v + 32), _mm256_xor_si256(yhi, xhi));
    }
}

GF_INLINE KTARGET void KNAME(ifft2)(uint8_t *a, uint8_t *b, unsigned log_m, size_t W) {
    KNAME(m) m = KNAME(load)(log_m);
    for (size_t v = 0; v < W; v += 64) {
        __m256i xlo = _mm256_loadu_si256((const __m256i *)(a + v));
        __m256i xhi = _mm256_loadu_si256((const __m256i *)(a + v + 32));
        __m256i ylo = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + v)), xlo);
        __m256i yhi = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + v + 32)), xhi);
        __m256i plo, phi;
        KNAME(prod)(ylo, yhi, &m, &plo, &phi);
        _mm256_storeu_si256((__m256i *)(b + v), ylo);
        _mm256_storeu_si256((__m256i *)(b + v + 32), yhi);
        _mm256_storeu_si256((__m256i *)(a + v), _mm256_xor_si256(xlo, plo));
        _mm256_storeu_si256((__m256i *)(a + v + 32), _mm256_xor_si256(xhi, phi));
    }
}
