/* The WKV-7 recurrence token by token on a CPU, fp32, for inference (no gradients): per sequence and head,
 *   S_t = S_{t-1} diag(decay_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T,   y_t = S_t r_t,
 *   decay_t = exp(-0.6065306597126334 * sigmoid(w_t)),
 * with the state held in L1 for the whole sequence. Why by hand: the chunked PyTorch form does more FLOPs in
 * many small matmuls and intermediate tensors; the plain recurrence, a head per thread, needs 5.4 GFLOP for 12 layers
 * of a 1,024-token prompt of the 0.1B shape. Inputs [B][T][H][N] contiguous, N a multiple of 16; mask [B][T] (NULL:
 * every step counts; a masked step leaves S as it was). Needs AVX2 and FMA (build.py compiles for this CPU). */
#include <string.h>

#include "simd.h"

/* out[i] = sum_j St[j][i] c[j] for 8 values i (St transposed, row stride N): two sums for odd and even j, so two
 * multiply-adds are in flight. */
static inline __m256 columns8(const float *St, const float *c, int N) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (int j = 0; j < N; j += 2) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(St + j * N), _mm256_broadcast_ss(c + j), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(St + (j + 1) * N), _mm256_broadcast_ss(c + j + 1), s1);
    }
    return _mm256_add_ps(s0, s1);
}

/* One step for 16 values i of the transposed state (two vectors, so each broadcast serves both): each key j's row is
 * read and written once, S^T[j][i] = S^T[j][i] decay_j + sa_i b_j + v_i k_j, while y_i gathers S^T[j][i] r_j and
 * sa_i for the next token gathers S^T[j][i] a'_j (a' NULL: the last token, none needed). */
static inline void update16(float *St, float *sa, const float *v, const float *decay, const float *b, const float *k,
                            const float *r, const float *a_next, float *y, int N) {
    __m256 sa0 = _mm256_loadu_ps(sa), sa1 = _mm256_loadu_ps(sa + 8);
    __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
    __m256 y0 = _mm256_setzero_ps(), y1 = _mm256_setzero_ps(), n0 = _mm256_setzero_ps(), n1 = _mm256_setzero_ps();
    for (int j = 0; j < N; j++) {
        float *row = St + j * N;
        __m256 kj = _mm256_broadcast_ss(k + j), bj = _mm256_broadcast_ss(b + j), dj = _mm256_broadcast_ss(decay + j);
        __m256 rj = _mm256_broadcast_ss(r + j);
        __m256 s0 = _mm256_fmadd_ps(_mm256_loadu_ps(row), dj, _mm256_fmadd_ps(v0, kj, _mm256_mul_ps(sa0, bj)));
        __m256 s1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8), dj, _mm256_fmadd_ps(v1, kj, _mm256_mul_ps(sa1, bj)));
        _mm256_storeu_ps(row, s0);
        _mm256_storeu_ps(row + 8, s1);
        y0 = _mm256_fmadd_ps(s0, rj, y0);
        y1 = _mm256_fmadd_ps(s1, rj, y1);
        if (a_next) {
            __m256 aj = _mm256_broadcast_ss(a_next + j);
            n0 = _mm256_fmadd_ps(s0, aj, n0);
            n1 = _mm256_fmadd_ps(s1, aj, n1);
        }
    }
    _mm256_storeu_ps(y, y0);
    _mm256_storeu_ps(y + 8, y1);
    _mm256_storeu_ps(sa, n0);
    _mm256_storeu_ps(sa + 8, n1);
}

/* A head's six input rows of a token lie H * N floats from the next token's, a new page almost every token with 12
 * heads: read straight from there, the recurrence runs much slower than on one head's contiguous rows. Gathering
 * BLOCK tokens' rows into one buffer first (many independent loads at once) recovers most of that; blocks of 16-64
 * tokens do alike. */
#define BLOCK 32

enum { R, W, K, V, A, BB, INPUTS };

void wkv7_forward(int B, int T, int H, int N, const float *r, const float *w, const float *k, const float *v,
                  const float *a, const float *b, const unsigned char *mask, const float *s_in, float *y,
                  float *s_out) {
    const float *inputs[INPUTS] = {r, w, k, v, a, b};
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * H; bh++) {
        int seq = bh / H, h = bh % H;
        const float *S0 = s_in + (long)bh * N * N;
        float *S = s_out + (long)bh * N * N;
        if (T == 1) { /* a decode step: the state in its own layout */
            long o = (long)bh * N;
            if (mask && !mask[seq]) {
                memcpy(S, S0, sizeof(float) * N * N);
                for (int i = 0; i < N; i++) y[o + i] = dot8(S0 + (long)i * N, r + o, N);
                continue;
            }
            float decay[N];
            wkv7_decays(w + o, decay, N);
            wkv7_step_rows(N, S0, S, r + o, decay, k + o, v + o, a + o, b + o, y + o);
            continue;
        }
        /* transposed (key j, value i), so every product is a multiply-add across values: no horizontal sums */
        float St[N * N], decay[N], sa[N], rows[INPUTS][BLOCK][N];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) St[j * N + i] = S0[i * N + j];
        int sa_ready = 0; /* sa = S a_t, gathered by the previous token's update */
        for (int t0 = 0; t0 < T; t0 += BLOCK) {
            int nt = T - t0 < BLOCK ? T - t0 : BLOCK;
            for (int q = 0; q < INPUTS; q++)
                for (int u = 0; u < nt; u++)
                    memcpy(rows[q][u], inputs[q] + (((long)seq * T + t0 + u) * H + h) * N, sizeof(float) * N);
            for (int u = 0; u < nt; u++) {
                long t = t0 + u, o = ((seq * T + t) * H + h) * N;
                if (mask && !mask[seq * T + t]) {
                    for (int i = 0; i < N; i += 8) _mm256_storeu_ps(y + o + i, columns8(St + i, rows[R][u], N));
                    sa_ready = 0;
                    continue;
                }
                wkv7_decays(rows[W][u], decay, N);
                if (!sa_ready)
                    for (int i = 0; i < N; i += 8) _mm256_storeu_ps(sa + i, columns8(St + i, rows[A][u], N));
                int next = t + 1 < T && (!mask || mask[seq * T + t + 1]);
                const float *a_next = !next ? NULL : u + 1 < nt ? rows[A][u + 1] : a + o + (long)H * N;
                for (int i = 0; i < N; i += 16)
                    update16(St + i, sa + i, rows[V][u] + i, decay, rows[BB][u], rows[K][u], rows[R][u], a_next,
                             y + o + i, N);
                sa_ready = next;
            }
        }
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) S[i * N + j] = St[j * N + i];
    }
}
