/*
 * BN254 G1 scalar multiplication in C: the arithmetic of a BLS signature (sk * hashToG1(m)), and
 * hashToG1 itself, whose square root costs as much in Python as the multiplication does in C.
 *
 * The field Fp (p = 0x30644e72...d87cfd47, 254 bits) is held in Montgomery form, R = 2^256, as four
 * 64-bit limbs, least significant first; products use unsigned __int128. Every element is kept
 * fully reduced (< p), so zero has one representation and equality is a limb comparison. Points of
 * y^2 = x^3 + 3 are in Jacobian coordinates (X, Y, Z) ~ (X/Z^2, Y/Z^3); Z = 0 is infinity.
 *
 * The multiplication uses fixed 4-bit windows: a table of 0*P .. 15*P, then for each of the 64
 * windows of the 256-bit scalar, from the top: four doublings and one addition of the table entry.
 *
 * What is constant-time (no branch and no memory address depends on the scalar):
 *   - field add/sub/mul (the final conditional subtraction is a mask), the table select (every
 *     entry is read and masked), the point addition, which computes the generic sum and the
 *     doubling and picks among them, the other operand and infinity with masks, so the cases
 *     "accumulator is infinity" (leading zero windows), "table entry is infinity" (zero window),
 *     "equal points" and "opposite points" cost the same as any other;
 *   - the loop itself: always 64 windows, whatever the scalar's value or length;
 *   - the inversion of the final Z (Fermat: a fixed public exponent).
 * What is not:
 *   - the Python side: the scalar arrives as a Python int reduced mod r and turned into 32 bytes by
 *     the interpreter, whose big-integer code is not constant-time, and copies of it stay in memory
 *     we cannot wipe (we wipe only our own stack copies, best effort);
 *   - the input point's validation and encoding: the point is public (the hash of the message);
 *   - hashToG1, a try-and-increment loop on a public digest;
 *   - nothing here guards against fault attacks, and the compiler is trusted not to turn masks back
 *     into branches (a register barrier discourages it). With GCC 12 -O3 on x86-64 the field and
 *     point functions and the scalar loop compile without a conditional jump other than the loop
 *     counters; recheck the generated code after changing the compiler or the flags.
 * This code has not been audited.
 *
 * The input point is checked here (coordinates < p and on the curve) even though the Python
 * G1Point invariant already promises it: the check costs two multiplications, and a point off the
 * curve under a secret scalar is how invalid-curve attacks leak keys. G1 has cofactor 1, so every
 * point on the curve is in the order-r group. The GIL is released around the arithmetic.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef uint64_t fp[4];

typedef struct {
    fp x, y, z;
} jac;

static const fp P_MOD = {0x3c208c16d87cfd47ULL, 0x97816a916871ca8dULL, 0xb85045b68181585dULL,
                         0x30644e72e131a029ULL};
/* -p^-1 mod 2^64, for Montgomery reduction. */
static const uint64_t P_INV_NEG = 0x87d20782e4866389ULL;
/* R^2 mod p, to enter Montgomery form; R mod p (one) and 3R mod p (the curve's b). */
static const fp R2 = {0xf32cfc5b538afa89ULL, 0xb5e71911d44501fbULL, 0x47ab1eff0a417ff6ULL,
                      0x06d89f71cab8351fULL};
static const fp MONT_ONE = {0xd35d438dc58f0d9dULL, 0x0a78eb28f5c70b3dULL, 0x666ea36f7879462cULL,
                            0x0e0a77c19a07df2fULL};
static const fp MONT_B = {0x7a17caa950ad28d7ULL, 0x1f6ac17ae15521b9ULL, 0x334bea4e696bd284ULL,
                          0x2a1f6744ce179d8eULL};

/* ------------------------------------------------------------------------------------------ */
/* Masks                                                                                       */

/* Hides a value from the optimiser so that a mask built from it stays arithmetic, not a branch. */
static inline uint64_t ct_barrier(uint64_t x) {
#if defined(__GNUC__)
    __asm__("" : "+r"(x));
#endif
    return x;
}

/* All ones if bit is 1, zero if it is 0 (bit must be 0 or 1). */
static inline uint64_t ct_mask(uint64_t bit) { return (uint64_t)0 - ct_barrier(bit); }

/* All ones if x == 0, else zero. */
static inline uint64_t ct_is_zero_u64(uint64_t x) { return ct_mask((~x & (x - 1)) >> 63); }

static inline uint64_t fp_is_zero(const fp a) { return ct_is_zero_u64(a[0] | a[1] | a[2] | a[3]); }

/* r = mask ? a : r, for every limb. */
static inline void fp_cmov(fp r, const fp a, uint64_t mask) {
    for (int i = 0; i < 4; i++) r[i] ^= mask & (r[i] ^ a[i]);
}

static inline void jac_cmov(jac *r, const jac *a, uint64_t mask) {
    fp_cmov(r->x, a->x, mask);
    fp_cmov(r->y, a->y, mask);
    fp_cmov(r->z, a->z, mask);
}

/* Overwrites memory the compiler may not elide; for stack copies of secrets. */
static void wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) *v++ = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Fp in Montgomery form                                                                       */

/*
 * Add and subtract with carry. On x86-64 the compiler intrinsics become adc/sbb chains; elsewhere
 * a 128-bit sum does the same job. Both are branch-free.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#include <x86intrin.h>
static inline uint64_t addc(uint64_t a, uint64_t b, unsigned char *carry) {
    unsigned long long out;
    *carry = _addcarry_u64(*carry, a, b, &out);
    return out;
}
static inline uint64_t subb(uint64_t a, uint64_t b, unsigned char *borrow) {
    unsigned long long out;
    *borrow = _subborrow_u64(*borrow, a, b, &out);
    return out;
}
#else
static inline uint64_t addc(uint64_t a, uint64_t b, unsigned char *carry) {
    u128 s = (u128)a + b + *carry;
    *carry = (unsigned char)(s >> 64);
    return (uint64_t)s;
}
static inline uint64_t subb(uint64_t a, uint64_t b, unsigned char *borrow) {
    u128 d = (u128)a - b - *borrow;
    *borrow = (unsigned char)((d >> 64) & 1);
    return (uint64_t)d;
}
#endif

/* r = t - p if t >= p, else t, for t < 2p. */
static inline void fp_reduce_once(fp r, uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3) {
    unsigned char borrow = 0;
    uint64_t s0 = subb(t0, P_MOD[0], &borrow);
    uint64_t s1 = subb(t1, P_MOD[1], &borrow);
    uint64_t s2 = subb(t2, P_MOD[2], &borrow);
    uint64_t s3 = subb(t3, P_MOD[3], &borrow);
    /* A final borrow means t < p: keep t. */
    uint64_t keep = ct_mask(borrow);
    r[0] = (t0 & keep) | (s0 & ~keep);
    r[1] = (t1 & keep) | (s1 & ~keep);
    r[2] = (t2 & keep) | (s2 & ~keep);
    r[3] = (t3 & keep) | (s3 & ~keep);
}

/* a + b < 2p < 2^255: no carry leaves the top limb. */
static inline void fp_add(fp r, const fp a, const fp b) {
    unsigned char carry = 0;
    uint64_t t0 = addc(a[0], b[0], &carry);
    uint64_t t1 = addc(a[1], b[1], &carry);
    uint64_t t2 = addc(a[2], b[2], &carry);
    uint64_t t3 = addc(a[3], b[3], &carry);
    fp_reduce_once(r, t0, t1, t2, t3);
}

/* On a borrow the difference wrapped around 2^256: add p back (masked, always computed). */
static inline void fp_sub(fp r, const fp a, const fp b) {
    unsigned char borrow = 0, carry = 0;
    uint64_t t0 = subb(a[0], b[0], &borrow);
    uint64_t t1 = subb(a[1], b[1], &borrow);
    uint64_t t2 = subb(a[2], b[2], &borrow);
    uint64_t t3 = subb(a[3], b[3], &borrow);
    uint64_t add = ct_mask(borrow);
    r[0] = addc(t0, P_MOD[0] & add, &carry);
    r[1] = addc(t1, P_MOD[1] & add, &carry);
    r[2] = addc(t2, P_MOD[2] & add, &carry);
    r[3] = addc(t3, P_MOD[3] & add, &carry);
}

static inline void fp_dbl(fp r, const fp a) { fp_add(r, a, a); }

/* hi:lo = a * b + c + d; cannot overflow 128 bits. */
static inline uint64_t mac(uint64_t *hi, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    u128 x = (u128)a * b + c + d;
    *hi = (uint64_t)(x >> 64);
    return (uint64_t)x;
}

/*
 * One round of CIOS Montgomery multiplication: t = (t + a * bi + m * p) / 2^64. Because p's top
 * limb is below 2^62, the two carry chains can be merged at the end without a fifth limb (the
 * running value stays below 2p); the same shortcut is used by common BN254 implementations.
 */
#define FP_MUL_ROUND(bi)                                   \
    do {                                                   \
        uint64_t c, c2, m;                                 \
        t0 = mac(&c, a[0], (bi), t0, 0);                   \
        m = t0 * P_INV_NEG;                                \
        (void)mac(&c2, m, P_MOD[0], t0, 0);                \
        t1 = mac(&c, a[1], (bi), t1, c);                   \
        t0 = mac(&c2, m, P_MOD[1], t1, c2);                \
        t2 = mac(&c, a[2], (bi), t2, c);                   \
        t1 = mac(&c2, m, P_MOD[2], t2, c2);                \
        t3 = mac(&c, a[3], (bi), t3, c);                   \
        t2 = mac(&c2, m, P_MOD[3], t3, c2);                \
        t3 = c + c2;                                       \
    } while (0)

/* r = a * b / R mod p; a and b fully reduced, r may alias either. */
static inline void fp_mul(fp r, const fp a, const fp b) {
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    const uint64_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
    FP_MUL_ROUND(b0);
    FP_MUL_ROUND(b1);
    FP_MUL_ROUND(b2);
    FP_MUL_ROUND(b3);
    fp_reduce_once(r, t0, t1, t2, t3);
}

/* A dedicated squaring (10 products instead of 16) measured no faster here: the time goes to
 * carry chains, not multiplications, so squaring is a plain multiplication. */
static inline void fp_sqr(fp r, const fp a) { fp_mul(r, a, a); }

/* r = a^e for a public exponent e (limbs, least significant first): branching on its bits leaks
 * nothing about a. */
static void fp_pow(fp r, const fp a, const uint64_t e[4]) {
    fp acc, base;
    memcpy(acc, MONT_ONE, sizeof(fp));
    memcpy(base, a, sizeof(fp));
    for (int bit = 255; bit >= 0; bit--) {
        fp_sqr(acc, acc);
        if ((e[bit / 64] >> (bit % 64)) & 1) fp_mul(acc, acc, base);
    }
    memcpy(r, acc, sizeof(fp));
}

/* a^(p-2) = a^-1 (0 for 0). */
static void fp_inv(fp r, const fp a) {
    static const uint64_t p_minus_2[4] = {0x3c208c16d87cfd45ULL, 0x97816a916871ca8dULL,
                                          0xb85045b68181585dULL, 0x30644e72e131a029ULL};
    fp_pow(r, a, p_minus_2);
}

/* a^((p+1)/4): a square root of a whenever a is a square, as p = 3 mod 4. */
static void fp_sqrt_candidate(fp r, const fp a) {
    static const uint64_t p_plus_1_over_4[4] = {0x4f082305b61f3f52ULL, 0x65e05aa45a1c72a3ULL,
                                                0x6e14116da0605617ULL, 0x0c19139cb84c680aULL};
    fp_pow(r, a, p_plus_1_over_4);
}

/* 32 big-endian bytes -> limbs (no reduction). */
static void limbs_from_be(fp r, const unsigned char *in) {
    for (int i = 0; i < 4; i++) {
        uint64_t w = 0;
        for (int j = 0; j < 8; j++) w = (w << 8) | in[(3 - i) * 8 + j];
        r[i] = w;
    }
}

static void limbs_to_be(unsigned char *out, const fp a) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) out[(3 - i) * 8 + j] = (unsigned char)(a[i] >> (56 - 8 * j));
}

/* Public values only: a variable-time comparison with p. */
static int below_p(const fp a) {
    for (int i = 3; i >= 0; i--) {
        if (a[i] != P_MOD[i]) return a[i] < P_MOD[i];
    }
    return 0;
}

static void fp_to_mont(fp r, const fp a) { fp_mul(r, a, R2); }

static void fp_from_mont(fp r, const fp a) {
    static const fp one = {1, 0, 0, 0};
    fp_mul(r, a, one);
}

/* ------------------------------------------------------------------------------------------ */
/* Points                                                                                      */

/*
 * r = 2a (dbl-2009-l, a = 0). Z3 = 2*Y1*Z1 keeps infinity at Z = 0 with no test; Y1 = 0 cannot
 * occur on this curve (its order is the odd prime r, so it has no point of order 2).
 */
static void jac_dbl(jac *r, const jac *a) {
    fp A, B, C, D, E, F, t;
    fp_sqr(A, a->x);
    fp_sqr(B, a->y);
    fp_sqr(C, B);
    fp_add(t, a->x, B);
    fp_sqr(t, t);
    fp_sub(t, t, A);
    fp_sub(t, t, C);
    fp_dbl(D, t);
    fp_dbl(E, A);
    fp_add(E, E, A);
    fp_sqr(F, E);
    fp_mul(r->z, a->y, a->z); /* before r->x/r->y: r may be a */
    fp_dbl(r->z, r->z);
    fp_dbl(t, D);
    fp_sub(r->x, F, t);
    fp_sub(t, D, r->x);
    fp_mul(t, E, t);
    fp_dbl(C, C);
    fp_dbl(C, C);
    fp_dbl(C, C);
    fp_sub(r->y, t, C);
}

/*
 * r = a + b for any a, b, without branches (add-2007-bl plus masked selects). The generic formula
 * fails in three cases, each detected with masks and patched by a select of a value computed
 * anyway: a = b (H = 0 and S2 - S1 = 0: take the doubling), a infinite (take b), b infinite (take
 * a). For a = -b the formula itself gives Z3 = 0, infinity. r may alias a or b.
 */
static void jac_add(jac *r, const jac *a, const jac *b) {
    fp z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
    jac sum, twice;
    fp_sqr(z1z1, a->z);
    fp_sqr(z2z2, b->z);
    fp_mul(u1, a->x, z2z2);
    fp_mul(u2, b->x, z1z1);
    fp_mul(s1, a->y, b->z);
    fp_mul(s1, s1, z2z2);
    fp_mul(s2, b->y, a->z);
    fp_mul(s2, s2, z1z1);
    fp_sub(h, u2, u1);
    fp_sub(rr, s2, s1);
    uint64_t same = fp_is_zero(h) & fp_is_zero(rr);
    fp_dbl(rr, rr);
    fp_dbl(i, h);
    fp_sqr(i, i);
    fp_mul(j, h, i);
    fp_mul(v, u1, i);
    fp_sqr(sum.x, rr);
    fp_sub(sum.x, sum.x, j);
    fp_sub(sum.x, sum.x, v);
    fp_sub(sum.x, sum.x, v);
    fp_sub(t, v, sum.x);
    fp_mul(t, rr, t);
    fp_mul(s1, s1, j);
    fp_dbl(s1, s1);
    fp_sub(sum.y, t, s1);
    fp_add(t, a->z, b->z);
    fp_sqr(t, t);
    fp_sub(t, t, z1z1);
    fp_sub(t, t, z2z2);
    fp_mul(sum.z, t, h);

    jac_dbl(&twice, a);
    uint64_t a_inf = fp_is_zero(a->z), b_inf = fp_is_zero(b->z);
    jac_cmov(&sum, &twice, same);
    jac_cmov(&sum, b, a_inf);
    jac_cmov(&sum, a, b_inf & ~a_inf);
    *r = sum;
}

/* out = table[index] for index < 16, reading every entry so the address does not reveal it. */
static void table_select(jac *out, const jac table[16], uint64_t index) {
    memset(out, 0, sizeof(*out));
    for (uint64_t k = 0; k < 16; k++) jac_cmov(out, &table[k], ct_is_zero_u64(k ^ index));
}

/*
 * r = k * P for an affine point P (Montgomery coordinates) and a 256-bit scalar k (limbs, least
 * significant first). Any k < 2^256 is handled, including multiples of r.
 */
static void g1_mul_ct(jac *r, const fp px, const fp py, const fp k) {
    jac table[16], acc, pick;
    memcpy(table[0].x, MONT_ONE, sizeof(fp));
    memcpy(table[0].y, MONT_ONE, sizeof(fp));
    memset(table[0].z, 0, sizeof(fp));
    memcpy(table[1].x, px, sizeof(fp));
    memcpy(table[1].y, py, sizeof(fp));
    memcpy(table[1].z, MONT_ONE, sizeof(fp));
    jac_dbl(&table[2], &table[1]);
    for (int m = 3; m < 16; m++) jac_add(&table[m], &table[m - 1], &table[1]);

    acc = table[0];
    for (int w = 63; w >= 0; w--) {
        for (int d = 0; d < 4; d++) jac_dbl(&acc, &acc);
        uint64_t digit = (k[w / 16] >> (4 * (w % 16))) & 15;
        table_select(&pick, table, digit);
        jac_add(&acc, &acc, &pick);
    }
    *r = acc;
    wipe(&acc, sizeof(acc));
    wipe(&pick, sizeof(pick));
}

/* (X/Z^2, Y/Z^3) out of Montgomery form as 64 big-endian bytes; infinity gives 64 zero bytes. */
static void jac_to_affine_be(unsigned char out[64], const jac *a) {
    fp zinv, zinv2, x, y;
    fp_inv(zinv, a->z);
    fp_sqr(zinv2, zinv);
    fp_mul(x, a->x, zinv2);
    fp_mul(y, a->y, zinv2);
    fp_mul(y, y, zinv);
    fp_from_mont(x, x);
    fp_from_mont(y, y);
    limbs_to_be(out, x);
    limbs_to_be(out + 32, y);
}

/*
 * BN254.hashToG1 of eigenlayer-middleware: x = digest mod p; until x^3 + 3 is a square, x = x + 1;
 * y = (x^3 + 3)^((p+1)/4), the root the exponentiation gives (never negated). The digest is public
 * (a message hash), so this loop is variable-time by design. out: 64 big-endian bytes X || Y.
 */
static void hash_to_g1_be(unsigned char out[64], const unsigned char digest[32]) {
    fp x, beta, y, check;
    limbs_from_be(x, digest);
    while (!below_p(x)) {
        unsigned char borrow = 0;
        for (int i = 0; i < 4; i++) x[i] = subb(x[i], P_MOD[i], &borrow);
    }
    fp_to_mont(x, x);
    for (;;) {
        fp_sqr(beta, x);
        fp_mul(beta, beta, x);
        fp_add(beta, beta, MONT_B);
        fp_sqrt_candidate(y, beta);
        fp_sqr(check, y);
        if (memcmp(check, beta, sizeof(fp)) == 0) break;
        fp_add(x, x, MONT_ONE);
    }
    fp_from_mont(x, x);
    fp_from_mont(y, y);
    limbs_to_be(out, x);
    limbs_to_be(out + 32, y);
}

/* ------------------------------------------------------------------------------------------ */
/* Python binding                                                                              */

PyDoc_STRVAR(g1_multiply_doc,
             "g1_multiply(point, scalar, /) -> bytes\n\n"
             "scalar * point on BN254 G1. point: 64 bytes X || Y (big-endian words) of an affine\n"
             "point on the curve (not infinity); scalar: 32 bytes big-endian, any value below\n"
             "2^256. Returns 64 bytes X || Y, all zero for infinity. Raises TypeError if an\n"
             "argument is not bytes and ValueError for a wrong length, a coordinate not below p\n"
             "or a point off the curve. Constant-time in the scalar; releases the GIL.");

/* Reads and checks the point; returns 0, or -1 with ValueError set. */
static int parse_point(fp x, fp y, const unsigned char *in) {
    fp lhs, rhs;
    limbs_from_be(x, in);
    limbs_from_be(y, in + 32);
    if (!below_p(x) || !below_p(y)) {
        PyErr_SetString(PyExc_ValueError, "G1 coordinate is not below the field modulus");
        return -1;
    }
    fp_to_mont(x, x);
    fp_to_mont(y, y);
    fp_sqr(lhs, y);
    fp_sqr(rhs, x);
    fp_mul(rhs, rhs, x);
    fp_add(rhs, rhs, MONT_B);
    if (memcmp(lhs, rhs, sizeof(fp)) != 0) {
        PyErr_SetString(PyExc_ValueError, "G1 point is not on the curve y^2 = x^3 + 3");
        return -1;
    }
    return 0;
}

static PyObject *bn254_g1_multiply(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "g1_multiply takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!PyBytes_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "g1_multiply takes bytes (point, scalar)");
        return NULL;
    }
    if (PyBytes_GET_SIZE(args[0]) != 64 || PyBytes_GET_SIZE(args[1]) != 32) {
        PyErr_SetString(PyExc_ValueError, "g1_multiply takes a 64-byte point and a 32-byte scalar");
        return NULL;
    }
    fp x, y, k;
    if (parse_point(x, y, (const unsigned char *)PyBytes_AS_STRING(args[0])) < 0) return NULL;
    limbs_from_be(k, (const unsigned char *)PyBytes_AS_STRING(args[1]));

    PyObject *out = PyBytes_FromStringAndSize(NULL, 64);
    if (out == NULL) {
        wipe(k, sizeof(k));
        return NULL;
    }
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    jac result;
    Py_BEGIN_ALLOW_THREADS
    g1_mul_ct(&result, x, y, k);
    jac_to_affine_be(dst, &result);
    Py_END_ALLOW_THREADS
    wipe(k, sizeof(k));
    return out;
}

PyDoc_STRVAR(hash_to_g1_doc,
             "hash_to_g1(digest, /) -> bytes\n\n"
             "BN254.hashToG1 (try-and-increment) of a 32-byte digest as 64 bytes X || Y.\n"
             "Raises TypeError if digest is not bytes, ValueError if not 32 bytes. Variable-time\n"
             "(the digest is public); releases the GIL.");

static PyObject *bn254_hash_to_g1(PyObject *self, PyObject *digest) {
    (void)self;
    if (!PyBytes_Check(digest)) {
        PyErr_SetString(PyExc_TypeError, "hash_to_g1 takes bytes");
        return NULL;
    }
    if (PyBytes_GET_SIZE(digest) != 32) {
        PyErr_SetString(PyExc_ValueError, "hash_to_g1 takes a 32-byte digest");
        return NULL;
    }
    unsigned char in[32];
    memcpy(in, PyBytes_AS_STRING(digest), 32);
    PyObject *out = PyBytes_FromStringAndSize(NULL, 64);
    if (out == NULL) return NULL;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    hash_to_g1_be(dst, in);
    Py_END_ALLOW_THREADS
    return out;
}

static PyMethodDef bn254_methods[] = {
    {"g1_multiply", (PyCFunction)(void (*)(void))bn254_g1_multiply, METH_FASTCALL,
     g1_multiply_doc},
    {"hash_to_g1", bn254_hash_to_g1, METH_O, hash_to_g1_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef bn254_module = {
    PyModuleDef_HEAD_INIT, "_bn254", "BN254 G1 scalar multiplication (constant-time in the scalar) and hash-to-G1.",
    -1, bn254_methods,
};

PyMODINIT_FUNC PyInit__bn254(void) { return PyModule_Create(&bn254_module); }
