/* AVX2 pieces of the WKV-7 recurrence on a CPU, shared by the prompt recurrence (cpu_recurrence.c) and the one-token
 * decode step (cpu_decode.c): the decay, and one token's update of a head's state in its stored layout.
 *   S' = S diag(decay) + (S a) b^T + v k^T,   y = S' r,   decay = exp(-0.6065306597126334 * sigmoid(w)),
 * S [N][N] indexed (value i, key j); N a multiple of 8; fp32. */
#ifndef WKV7_SIMD_H
#define WKV7_SIMD_H

#include <immintrin.h>

#if !defined(__AVX2__) || !defined(__FMA__)
#error "the WKV-7 kernels need AVX2 and FMA"
#endif

#define WKV7_DECAY_SCALE 0.6065306597126334f

/* exp for 8 floats, within 2 ulp of expf over the range used here (Cephes' polynomial on [-ln2/2, ln2/2]): the
 * decay takes two exponentials per key, and glibc's expf, called one at a time, takes a large share of the prompt
 * kernel's time. */
static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* decay[j] = exp(-0.6065 * sigmoid(w[j])) for one token's N keys */
static inline void wkv7_decays(const float *w, float *decay, int N) {
    for (int j = 0; j < N; j += 8)
        _mm256_storeu_ps(decay + j,
                         exp8(_mm256_mul_ps(_mm256_set1_ps(-WKV7_DECAY_SCALE), sigmoid8(_mm256_loadu_ps(w + j)))));
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float dot8(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i < n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    return hsum8(_mm256_add_ps(s0, s1));
}

/* One token of one head from S_in to S_out (which may be the same buffer): each row i of the state (a value) is read
 * once for S a and once for the update, whose new row gives y_i. A single token does not pay for the transposed
 * layout the prompt kernel keeps in L1 over many tokens. */
static inline void wkv7_step_rows(int N, const float *S_in, float *S_out, const float *r, const float *decay,
                                  const float *k, const float *v, const float *a, const float *b, float *y) {
    for (int i = 0; i < N; i++) {
        const float *s = S_in + (long)i * N;
        float *d = S_out + (long)i * N;
        __m256 sa = _mm256_set1_ps(dot8(s, a, N)), vi = _mm256_set1_ps(v[i]);
        __m256 y0 = _mm256_setzero_ps();
        for (int j = 0; j < N; j += 8) {
            __m256 fresh = _mm256_fmadd_ps(sa, _mm256_loadu_ps(b + j), _mm256_mul_ps(vi, _mm256_loadu_ps(k + j)));
            __m256 n = _mm256_fmadd_ps(_mm256_loadu_ps(s + j), _mm256_loadu_ps(decay + j), fresh);
            _mm256_storeu_ps(d + j, n);
            y0 = _mm256_fmadd_ps(n, _mm256_loadu_ps(r + j), y0);
        }
        y[i] = hsum8(y0);
    }
}

#endif
