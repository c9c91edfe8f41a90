/* One RWKV-7 (x070) time-mix head's element-wise work for one token, shared by the CPU decode step (cpu_decode.c)
 * and a prompt's element-wise ops (cpu_prompt.c): token-shift mixes, the recurrence's inputs, the gated output. */
#ifndef RWKV7_HEADS_H
#define RWKV7_HEADS_H

#include <math.h>

#include "simd.h"

#define GROUP_NORM_EPS 64e-5f /* BlinkDL: ln_x eps is head_size * 1e-5 */

/* One token's n token-shift mixes: out[m * stride + c] = x[c] + (prev[c] - x[c]) mix[m][c], C a multiple of 8. */
static inline void mix_row(const float *x, const float *prev, const float *mix, int n, int C, long stride,
                           float *out) {
    for (int c = 0; c < C; c += 8) {
        __m256 xc = _mm256_loadu_ps(x + c), d = _mm256_sub_ps(_mm256_loadu_ps(prev + c), xc);
        for (int m = 0; m < n; m++)
            _mm256_storeu_ps(out + m * stride + c, _mm256_fmadd_ps(d, _mm256_loadu_ps(mix + (long)m * C + c), xc));
    }
}

/* The recurrence's inputs for one head of one token (every pointer at the head's first channel): w becomes the decay's
 * pre-activation (w0 + its LoRA's output), k the rescaled key, v the value mixed with layer 0's (v0 NULL: layer 0,
 * unchanged); al, the a LoRA's output, becomes the update's a (-kk, the normalised key) and ub its b (kk a).
 * al may be ua. */
static inline void head_inputs(int N, const float *w0, const float *a0, const float *v0, const float *k_k,
                               const float *k_a, float *w, float *k, float *v, const float *v_first, const float *al,
                               const float *vl, float *ua, float *ub) {
    float a[N], kk[N];
    __m256 sq = _mm256_setzero_ps();
    for (int j = 0; j < N; j += 8) {
        _mm256_storeu_ps(w + j, _mm256_add_ps(_mm256_loadu_ps(w0 + j), _mm256_loadu_ps(w + j)));
        _mm256_storeu_ps(a + j, sigmoid8(_mm256_add_ps(_mm256_loadu_ps(a0 + j), _mm256_loadu_ps(al + j))));
        __m256 kj = _mm256_mul_ps(_mm256_loadu_ps(k + j), _mm256_loadu_ps(k_k + j));
        _mm256_storeu_ps(kk + j, kj);
        sq = _mm256_fmadd_ps(kj, kj, sq);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / fmaxf(sqrtf(hsum8(sq)), 1e-12f)), one = _mm256_set1_ps(1.0f);
    for (int j = 0; j < N; j += 8) {
        __m256 aj = _mm256_loadu_ps(a + j), kj = _mm256_loadu_ps(k + j);
        __m256 kkj = _mm256_mul_ps(_mm256_loadu_ps(kk + j), inv);
        /* k (1 + (a - 1) k_a), as k + (k k_a)(a - 1) */
        __m256 kka = _mm256_mul_ps(kj, _mm256_loadu_ps(k_a + j));
        _mm256_storeu_ps(k + j, _mm256_fmadd_ps(kka, _mm256_sub_ps(aj, one), kj));
        _mm256_storeu_ps(ub + j, _mm256_mul_ps(kkj, aj));
        _mm256_storeu_ps(ua + j, _mm256_sub_ps(_mm256_setzero_ps(), kkj));
    }
    if (v0)
        for (int i = 0; i < N; i += 8) {
            __m256 vi = _mm256_loadu_ps(v + i);
            __m256 mix = sigmoid8(_mm256_add_ps(_mm256_loadu_ps(v0 + i), _mm256_loadu_ps(vl + i)));
            _mm256_storeu_ps(v + i, _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(v_first + i), vi), mix, vi));
        }
}

/* One head's output of one token from its WKV output y: group norm, plus the bonus (r . (k r_k)) v, times the gate g.
 * out may be y. */
static inline void head_output(int N, const float *lnx_w, const float *lnx_b, const float *r_k, const float *y,
                               const float *r, const float *k, const float *v, const float *g, float *out) {
    __m256 s = _mm256_setzero_ps(), bs = _mm256_setzero_ps();
    for (int i = 0; i < N; i += 8) {
        s = _mm256_add_ps(s, _mm256_loadu_ps(y + i));
        __m256 rk = _mm256_mul_ps(_mm256_loadu_ps(r + i), _mm256_loadu_ps(k + i));
        bs = _mm256_fmadd_ps(rk, _mm256_loadu_ps(r_k + i), bs);
    }
    const __m256 mean = _mm256_set1_ps(hsum8(s) / N), bonus = _mm256_set1_ps(hsum8(bs));
    __m256 sq = _mm256_setzero_ps();
    for (int i = 0; i < N; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(y + i), mean);
        sq = _mm256_fmadd_ps(d, d, sq);
    }
    const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(hsum8(sq) / N + GROUP_NORM_EPS));
    for (int i = 0; i < N; i += 8) {
        __m256 norm = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(y + i), mean), scale),
                                      _mm256_loadu_ps(lnx_w + i), _mm256_loadu_ps(lnx_b + i));
        __m256 yi = _mm256_fmadd_ps(bonus, _mm256_loadu_ps(v + i), norm);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(yi, _mm256_loadu_ps(g + i)));
    }
}

#endif
