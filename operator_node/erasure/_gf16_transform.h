/*
 * The transforms of the GF(2^16) code over one tile of shards, stamped out once per kernel.
 *
 * _gf16.c includes this file once for each kernel after defining
 *   KNAME(x)   the kernel's name for x (x##_gfni512, ...)
 *   KTARGET    the kernel's target attribute (empty for the scalar kernel)
 * and the kernel's four operations on W bytes (W a multiple of 64):
 *   KNAME(xor)(x, y, W)            x ^= y
 *   KNAME(mul)(x, y, log_m, W)     x = y * exp(log_m)             (x may be y)
 *   KNAME(fft2)(a, b, log_m, W)    a ^= b * exp(log_m); b ^= a    (FFT butterfly)
 *   KNAME(ifft2)(a, b, log_m, W)   b ^= a; a ^= b * exp(log_m)    (inverse butterfly)
 * so the butterflies inline into the loops. A tile holds shard i at base + i * W.
 *
 * Two layers of butterflies are done per pass (radix 4) where the size allows: a tile is read
 * and written half as often as with one layer per pass.
 */

/* Additive FFT of the shards [pos, pos + size), skewed by skew_delta; only the outputs below
 * `truncated` are wanted, so butterfly groups that start at or beyond it are skipped. */
static KTARGET void KNAME(fft)(uint8_t *base, size_t W, size_t pos, size_t size,
                               size_t truncated, size_t skew_delta) {
    size_t dist4 = size, dist = size >> 2;
    for (; dist != 0; dist4 = dist, dist >>= 2) {
        for (size_t r = 0; r < truncated; r += dist4) {
            size_t at = r + dist + skew_delta - 1;
            unsigned m01 = gf_skew[at], m02 = gf_skew[at + dist], m23 = gf_skew[at + 2 * dist];
            for (size_t i = r; i < r + dist; i++) {
                uint8_t *s0 = base + (pos + i) * W, *s1 = s0 + dist * W;
                uint8_t *s2 = s1 + dist * W, *s3 = s2 + dist * W;
                if (m02 == GF_MODULUS) {
                    KNAME(xor)(s2, s0, W);
                    KNAME(xor)(s3, s1, W);
                } else {
                    KNAME(fft2)(s0, s2, m02, W);
                    KNAME(fft2)(s1, s3, m02, W);
                }
                if (m01 == GF_MODULUS) KNAME(xor)(s1, s0, W);
                else KNAME(fft2)(s0, s1, m01, W);
                if (m23 == GF_MODULUS) KNAME(xor)(s3, s2, W);
                else KNAME(fft2)(s2, s3, m23, W);
            }
        }
    }
    if (dist4 == 2) { /* size is an odd power of two: one last layer of single butterflies */
        for (size_t r = 0; r < truncated; r += 2) {
            unsigned m = gf_skew[r + skew_delta];
            uint8_t *a = base + (pos + r) * W, *b = a + W;
            if (m == GF_MODULUS) KNAME(xor)(b, a, W);
            else KNAME(fft2)(a, b, m, W);
        }
    }
}

/* Inverse of fft() for the same size and skew; inputs at or beyond `truncated` must be zero. */
static KTARGET void KNAME(ifft)(uint8_t *base, size_t W, size_t pos, size_t size,
                                size_t truncated, size_t skew_delta) {
    size_t dist = 1, dist4 = 4;
    for (; dist4 <= size; dist = dist4, dist4 <<= 2) {
        for (size_t r = 0; r < truncated; r += dist4) {
            size_t at = r + dist + skew_delta - 1;
            unsigned m01 = gf_skew[at], m02 = gf_skew[at + dist], m23 = gf_skew[at + 2 * dist];
            for (size_t i = r; i < r + dist; i++) {
                uint8_t *s0 = base + (pos + i) * W, *s1 = s0 + dist * W;
                uint8_t *s2 = s1 + dist * W, *s3 = s2 + dist * W;
                if (m01 == GF_MODULUS) KNAME(xor)(s1, s0, W);
                else KNAME(ifft2)(s0, s1, m01, W);
                if (m23 == GF_MODULUS) KNAME(xor)(s3, s2, W);
                else KNAME(ifft2)(s2, s3, m23, W);
                if (m02 == GF_MODULUS) {
                    KNAME(xor)(s2, s0, W);
                    KNAME(xor)(s3, s1, W);
                } else {
                    KNAME(ifft2)(s0, s2, m02, W);
                    KNAME(ifft2)(s1, s3, m02, W);
                }
            }
        }
    }
    if (dist < size) { /* size is an odd power of two: one last layer, a single group */
        unsigned m = gf_skew[dist + skew_delta - 1];
        for (size_t i = 0; i < dist; i++) {
            uint8_t *a = base + (pos + i) * W, *b = a + dist * W;
            if (m == GF_MODULUS) KNAME(xor)(b, a, W);
            else KNAME(ifft2)(a, b, m, W);
        }
    }
}

/* Formal derivative of the polynomial held in the novel basis by shards [0, count). */
static KTARGET void KNAME(derivative)(uint8_t *base, size_t W, size_t count) {
    for (size_t i = 1; i < count; i++) {
        size_t width = i & (~i + 1); /* lowest set bit of i */
        for (size_t j = 0; j < width; j++)
            KNAME(xor)(base + (i - width + j) * W, base + (i + j) * W, W);
    }
}

static KTARGET void KNAME(encode_tile)(const gf16_job *job, size_t off, size_t W) {
    size_t k = job->k, r = job->r, L = job->length;
    uint8_t *a = job->scratch, *b = job->scratch + job->chunk * W;
    size_t chunk = job->chunk;
    if (!job->high_rate) {
        /* One IFFT of the originals, then one skewed FFT per chunk of recovery shards. */
        for (size_t i = 0; i < k; i++) memcpy(a + i * W, job->in[i] + off, W);
        memset(a + k * W, 0, (chunk - k) * W);
        KNAME(ifft)(a, W, 0, chunk, k, 0);
        for (size_t start = 0; start < r; start += chunk) {
            size_t count = r - start < chunk ? r - start : chunk;
            uint8_t *t = a; /* the last chunk of recovery shards may consume the IFFT's output */
            if (start + chunk < r) {
                memcpy(b, a, chunk * W);
                t = b;
            }
            KNAME(fft)(t, W, 0, chunk, count, start + chunk);
            for (size_t j = 0; j < count; j++) memcpy(job->out + (start + j) * L + off, t + j * W, W);
        }
    } else {
        /* One skewed IFFT per chunk of originals, summed, then one FFT. */
        for (size_t start = 0; start < k; start += chunk) {
            size_t count = k - start < chunk ? k - start : chunk;
            uint8_t *t = start == 0 ? a : b;
            for (size_t i = 0; i < count; i++) memcpy(t + i * W, job->in[start + i] + off, W);
            memset(t + count * W, 0, (chunk - count) * W);
            KNAME(ifft)(t, W, 0, chunk, count, start + chunk);
            if (start) KNAME(xor)(a, b, chunk * W);
        }
        KNAME(fft)(a, W, 0, chunk, r, 0);
        for (size_t j = 0; j < r; j++) memcpy(job->out + j * L + off, a + j * W, W);
    }
}

static KTARGET void KNAME(decode_tile)(const gf16_job *job, size_t off, size_t W) {
    uint8_t *work = job->scratch;
    size_t count = job->work_count, end = job->end;
    const uint16_t *factor = job->erasures;
    memset(work, 0, count * W);
    for (size_t i = 0; i < job->received; i++) {
        size_t p = job->positions[i];
        KNAME(mul)(work + p * W, job->in[i] + off, factor[p], W);
    }
    KNAME(ifft)(work, W, 0, count, end, 0);
    KNAME(derivative)(work, W, count);
    KNAME(fft)(work, W, 0, count, end, 0);
    for (size_t i = 0; i < job->missing; i++) {
        size_t index = job->lost[i], p = index + job->original_base;
        KNAME(mul)(job->out + index * job->length + off, work + p * W,
                   GF_MODULUS - factor[p], W);
    }
}

static KTARGET void KNAME(run)(const gf16_job *job) {
    for (size_t off = 0; off < job->length; off += job->tile) {
        size_t W = job->length - off < job->tile ? job->length - off : job->tile;
        if (job->decoding) KNAME(decode_tile)(job, off, W);
        else KNAME(encode_tile)(job, off, W);
    }
}
