/* One RWKV-7 (x070) decode step through every layer in one call, on a CPU: fp16, bf16 or int8 matrices, fp32 math
 * and state. The heads' element-wise work is heads.h, shared with a prompt's ops (cpu_prompt.c).
 *
 * Why by hand: a one-token step is ~1,500 small PyTorch operations, and on a CPU with few cores their dispatch costs
 * as much as streaming the weights; fbgemm's fp16 product of one row also reads its matrix below the bandwidth a
 * plain sum reaches. Here each layer is a few matrix-vector products that read their rows once (widened to fp32 in
 * registers, fp32 accumulation) with the element-wise work fused around them, split over OpenMP threads (PyTorch's
 * own OpenMP runtime: the library links the same libgomp). Built at first use by build.py for the CPU it runs on.
 *
 * bf16 products on CPUs with AVX512_BF16 take bf16-rounded inputs instead (see matvec_pairs).
 *
 * Layout: matrices are tiled (see matvec; a LoRA's down-projection w1 [C][D] is tiled as its transpose [D][C]), the
 * LoRAs in fp16 or bf16, the others in the model's format; vectors fp32; activations [B][C]. The decode step reads
 * the state from one set of buffers and writes another.
 */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__AVX2__) || !defined(__F16C__) || !defined(__FMA__)
#error "the native decode step needs AVX2, F16C and FMA"
#endif

#include "heads.h"

/* A matrix's format: fp16 or bf16 (the upper half of an fp32) values, or int8 with an fp32 scale per row. */
enum { FP16, BF16, INT8 };

typedef struct {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    const float *mix;    /* [6][C]: the token-shift mixes of r, k, w, a, v, g */
    const float *w0, *a0, *v0; /* v0 is NULL in layer 0 */
    const float *k_k, *k_a, *r_k, *lnx_w, *lnx_b, *ffn_mix;
    const void *Wr, *Wk, *Wv, *Wo;             /* [C][C] */
    const void *w1, *a1, *v1, *g1;             /* down: [D][C]; v1 NULL in layer 0 */
    const void *w2, *a2, *v2, *g2;             /* up: [C][D] */
    const void *Fk, *Fv;                       /* [F][C], [C][F] */
    const float *Wr_s, *Wk_s, *Wv_s, *Wo_s, *Fk_s, *Fv_s; /* int8: the rows' scales; NULL otherwise */
} Layer;

typedef struct {
    int L, C, H, N, F, Dw, Da, Dv, Dg;
    int fmt, lora_fmt; /* the format of r, k, v, output and FFN matrices; of the LoRAs (fp16 or bf16) */
    const float *ln0_w, *ln0_b;
    const Layer *layers;
} Model;

enum { STORE, TANH, SIGMOID, RELU_SQ, ADD };

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline __attribute__((always_inline)) int elem_bytes(const int fmt) { return fmt == INT8 ? 1 : 2; }

/* eight weights widened to fp32 */
static inline __attribute__((always_inline)) __m256 widen8(const char *p, const int fmt) {
    if (fmt == INT8) return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return fmt == BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}

static inline void finish(float *y, float v, int op) {
    switch (op) {
    case TANH: *y = tanhf(v); break;
    case SIGMOID: *y = sigmoidf(v); break;
    case RELU_SQ: v = v > 0.0f ? v : 0.0f; *y = v * v; break;
    case ADD: *y += v; break;
    default: *y = v;
    }
}

/* n sums of rows, times their rows' scales (int8; scale NULL otherwise), finished by `op` into y */
static inline void finish_rows(float *y, const float *sums, const float *scale, int n, int op) {
    for (int i = 0; i < n; i++) finish(y + i, scale ? sums[i] * scale[i] : sums[i], op);
}

/* Sixteen rows of one sequence (the tile left over when a thread's share is odd; tile_two takes the rest): four steps
 * of k at a time into separate sums, so eight FMAs are in flight. The next tile is prefetched as this one is read, a
 * tile ahead: int8 tiles, whose bytes are consumed twice as fast as fp16's, otherwise wait on memory. */
static inline __attribute__((always_inline)) void tile_one(const char *w, const float *scale, int K, const float *x,
                                                           float *y, int op, const int fmt) {
    const int col = 16 * elem_bytes(fmt), half = 8 * elem_bytes(fmt); /* a column's bytes; where its rows 8-15 start */
    __m256 lo[4], hi[4];
    for (int u = 0; u < 4; u++) lo[u] = hi[u] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        _mm_prefetch(w + (long)col * (K + k), _MM_HINT_T0); /* four columns of the next tile: one or two lines */
        if (col * 4 > 64) _mm_prefetch(w + (long)col * (K + k) + 64, _MM_HINT_T0);
        for (int u = 0; u < 4; u++) {
            __m256 xk = _mm256_broadcast_ss(x + k + u);
            lo[u] = _mm256_fmadd_ps(widen8(w + (long)col * (k + u), fmt), xk, lo[u]);
            hi[u] = _mm256_fmadd_ps(widen8(w + (long)col * (k + u) + half, fmt), xk, hi[u]);
        }
    }
    for (; k < K; k++) {
        __m256 xk = _mm256_broadcast_ss(x + k);
        lo[0] = _mm256_fmadd_ps(widen8(w + (long)col * k, fmt), xk, lo[0]);
        hi[0] = _mm256_fmadd_ps(widen8(w + (long)col * k + half, fmt), xk, hi[0]);
    }
    float t[16];
    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(lo[0], lo[1]), _mm256_add_ps(lo[2], lo[3])));
    _mm256_storeu_ps(t + 8, _mm256_add_ps(_mm256_add_ps(hi[0], hi[1]), _mm256_add_ps(hi[2], hi[3])));
    finish_rows(y, t, scale, 16, op);
}

/* Two tiles at once, a and b, from two places in memory, for NB = 1 or 2 sequences (inputs x[ld k + b]: ld 1 for
 * one sequence's own inputs, 8 for a packed pair): one thread reading two streams keeps more reads in flight than one
 * stream with prefetches a tile ahead, reaching the bandwidth of a plain vector sum of the same bytes. int8 tiles,
 * half the bytes for the same work, still gain from prefetching the next tiles (fp16 tiles lose). Eight sums either
 * way: one sequence takes two columns a step. */
static inline __attribute__((always_inline)) void tile_two(const char *wa, const char *wb, const float *sa,
                                                           const float *sb, int K, const float *x, const int ld,
                                                           float *ya, float *yb, int ldy, int op, const int NB,
                                                           const int fmt) {
    const int col = 16 * elem_bytes(fmt), half = 8 * elem_bytes(fmt), U = 2 / NB; /* columns a step */
    __m256 la[2], ha[2], lb[2], hb[2];
    for (int j = 0; j < 2; j++) la[j] = ha[j] = lb[j] = hb[j] = _mm256_setzero_ps();
    int k = 0;
    for (; k + U <= K; k += U) {
        if (fmt == INT8 && (k & 3) == 0) { /* the next tiles' four columns: one line each */
            _mm_prefetch(wa + (long)col * (K + k), _MM_HINT_T0);
            _mm_prefetch(wb + (long)col * (K + k), _MM_HINT_T0);
        }
        for (int u = 0; u < U; u++) {
            const long at = (long)col * (k + u);
            const __m256 a0 = widen8(wa + at, fmt), a1 = widen8(wa + at + half, fmt);
            const __m256 b0 = widen8(wb + at, fmt), b1 = widen8(wb + at + half, fmt);
            for (int b = 0; b < NB; b++) {
                const int j = u * NB + b;
                __m256 xk = _mm256_broadcast_ss(x + (long)ld * (k + u) + b);
                la[j] = _mm256_fmadd_ps(a0, xk, la[j]);
                ha[j] = _mm256_fmadd_ps(a1, xk, ha[j]);
                lb[j] = _mm256_fmadd_ps(b0, xk, lb[j]);
                hb[j] = _mm256_fmadd_ps(b1, xk, hb[j]);
            }
        }
    }
    if (k < K) { /* one sequence, K odd */
        const long at = (long)col * k;
        __m256 xk = _mm256_broadcast_ss(x + (long)ld * k);
        la[0] = _mm256_fmadd_ps(widen8(wa + at, fmt), xk, la[0]);
        ha[0] = _mm256_fmadd_ps(widen8(wa + at + half, fmt), xk, ha[0]);
        lb[0] = _mm256_fmadd_ps(widen8(wb + at, fmt), xk, lb[0]);
        hb[0] = _mm256_fmadd_ps(widen8(wb + at + half, fmt), xk, hb[0]);
    }
    if (NB == 1) {
        la[0] = _mm256_add_ps(la[0], la[1]), ha[0] = _mm256_add_ps(ha[0], ha[1]);
        lb[0] = _mm256_add_ps(lb[0], lb[1]), hb[0] = _mm256_add_ps(hb[0], hb[1]);
    }
    float t[2 * 32]; /* stored with constant indices, so the sums stay in registers */
    for (int b = 0; b < NB; b++) {
        _mm256_storeu_ps(t + 32 * b, la[b]);
        _mm256_storeu_ps(t + 32 * b + 8, ha[b]);
        _mm256_storeu_ps(t + 32 * b + 16, lb[b]);
        _mm256_storeu_ps(t + 32 * b + 24, hb[b]);
    }
    for (int b = 0; b < NB; b++) {
        finish_rows(ya + (long)b * ldy, t + 32 * b, sa, 16, op);
        finish_rows(yb + (long)b * ldy, t + 32 * b + 16, sb, 16, op);
    }
}

/* The inputs of a batch packed for tile_four, [B / 8 groups][K][8]: a column's eight inputs side by side, so the
 * micro-kernel broadcasts them from one pointer at constant offsets (eight row pointers spill out of registers and
 * slow every product down). Missing sequences of the last group are zeros. */
static void pack_inputs(const float *x, int ldx, int B, int K, float *xT) {
    for (int g = 0; g * 8 < B; g++)
        for (int b = 0; b < 8; b++) {
            const int seq = g * 8 + b;
            float *dst = xT + (long)g * K * 8 + b;
            for (int k = 0; k < K; k++) dst[8L * k] = seq < B ? x[(long)seq * ldx + k] : 0.0f;
        }
}

/* A whole tile (sixteen rows) for NB <= 4 sequences, nb of them real, their inputs packed (xT: the first's, in a
 * [K][8] pack): each pair of widened columns meets every sequence's inputs (broadcast), 2 NB sums in flight and no
 * horizontal sums, like a GEMM micro-kernel. Inlined with NB a constant, so the sums stay in registers.
 *
 * Batched products do enough work per weight that the hardware prefetcher alone left them waiting on memory. The
 * passes over a tile (one per four sequences, the second from cache) prefetch the next tile between them (`next`:
 * this pass's share of it, `share` bytes per column), spread evenly over their columns: prefetching a fixed distance
 * ahead left memory idle during a second pass. A thread's last tile prefetches past its share, and past a matrix's
 * end, which only prefetches: it never faults.
 *
 * Sixteen rows by four sequences, two columns a step, rather than eight rows by eight sequences a column a step (nine
 * loads for eight multiply-adds): fewer loads per multiply-add, both for matrices in cache and for the vocabulary
 * head streamed from memory. */
static inline __attribute__((always_inline)) void tile_four(const char *w, const float *scale, int K, const float *xT,
                                                            float *y, int ldy, int nb, int op, const char *next,
                                                            const int share, const int NB, const int fmt) {
    const int col = 16 * elem_bytes(fmt), half = 8 * elem_bytes(fmt);
    __m256 lo[4], hi[4];
    for (int b = 0; b < NB; b++) lo[b] = hi[b] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 2 <= K; k += 2) {
        _mm_prefetch(next + (long)share * k, _MM_HINT_T0);
        const char *c0 = w + (long)col * k, *c1 = c0 + col;
        __m256 l0 = widen8(c0, fmt), h0 = widen8(c0 + half, fmt), l1 = widen8(c1, fmt), h1 = widen8(c1 + half, fmt);
        for (int b = 0; b < NB; b++) {
            __m256 x0 = _mm256_broadcast_ss(xT + 8L * k + b);
            lo[b] = _mm256_fmadd_ps(l0, x0, lo[b]);
            hi[b] = _mm256_fmadd_ps(h0, x0, hi[b]);
        }
        for (int b = 0; b < NB; b++) {
            __m256 x1 = _mm256_broadcast_ss(xT + 8L * k + 8 + b);
            lo[b] = _mm256_fmadd_ps(l1, x1, lo[b]);
            hi[b] = _mm256_fmadd_ps(h1, x1, hi[b]);
        }
    }
    if (k < K) {
        __m256 l0 = widen8(w + (long)col * k, fmt), h0 = widen8(w + (long)col * k + half, fmt);
        for (int b = 0; b < NB; b++) {
            __m256 x0 = _mm256_broadcast_ss(xT + 8L * k + b);
            lo[b] = _mm256_fmadd_ps(l0, x0, lo[b]);
            hi[b] = _mm256_fmadd_ps(h0, x0, hi[b]);
        }
    }
    float t[4 * 16]; /* stored with constant indices: indexing the sums by nb would keep them in memory in the loop */
    for (int b = 0; b < NB; b++) {
        _mm256_storeu_ps(t + 16 * b, lo[b]);
        _mm256_storeu_ps(t + 16 * b + 8, hi[b]);
    }
    for (int b = 0; b < nb; b++) finish_rows(y + (long)b * ldy, t + 16 * b, scale, 16, op);
}

/* One tile for nb <= 8 sequences (a group of the packed inputs): a pass per four of them. */
static inline __attribute__((always_inline)) void tile_batch(const char *w, const float *scale, int K,
                                                             const float *xT, float *y, int ldy, int nb, int op,
                                                             const int fmt) {
    const int col = 16 * elem_bytes(fmt), passes = (nb + 3) / 4, share = col / passes;
    for (int g = 0; g < nb; g += 4) {
        const char *next = w + (long)col * K + (long)share * K * (g / 4);
        const int n = nb - g < 4 ? nb - g : 4;
        if (n <= 2) tile_four(w, scale, K, xT + g, y + (long)g * ldy, ldy, n, op, next, share, 2, fmt);
        else tile_four(w, scale, K, xT + g, y + (long)g * ldy, ldy, n, op, next, share, 4, fmt);
    }
}

#if defined(__AVX512BF16__) && defined(__AVX512F__)
/* bf16 matrices on CPUs with AVX512_BF16: each product instruction (vdpbf16ps) multiplies sixteen rows by two columns,
 * bf16 weights times bf16-rounded inputs, summed in fp32 (what the bf16 prompt's GEMMs compute); widening the weights
 * to fp32 for FMAs instead left a batch-8 step compute-bound. Tiles hold pairs of columns: [rows / 16][K / 2][16][2]
 * (K even), so one 64-byte load is one instruction's weights. */
#define BF16_PAIRS 1

/* x [K] (K even) rounded to bf16, two inputs per 32-bit word: the operand a pair of columns broadcasts */
static void to_pairs(const float *x, int K, uint32_t *xp) {
    for (int k = 0; k < K; k += 32) {
        const int n = K - k < 32 ? K - k : 32;
        const __mmask16 lo = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
        const __mmask16 hi = n >= 32 ? 0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
        const __mmask16 words = n == 32 ? 0xFFFF : (__mmask16)((1u << (n / 2)) - 1);
        __m512bh p = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + k + 16), _mm512_maskz_loadu_ps(lo, x + k));
        _mm512_mask_storeu_epi32(xp + k / 2, words, (__m512i)p);
    }
}

/* One tile (sixteen rows) for NB <= 8 sequences, nb of them real, their input pairs K / 2 words apart: a sum per
 * sequence in one register; the next tile (`next`) is prefetched a line per pair of columns as this one is read. */
static inline __attribute__((always_inline)) void tile_pairs(const uint32_t *w, int K2, const uint32_t *xp, float *y,
                                                             int ldy, int nb, int op, const char *next, const int NB) {
    __m512 acc[8];
    for (int b = 0; b < NB; b++) acc[b] = _mm512_setzero_ps();
    for (int j = 0; j < K2; j++) {
        _mm_prefetch(next + 64L * j, _MM_HINT_T0);
        const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + 16L * j);
        for (int b = 0; b < NB; b++)
            acc[b] = _mm512_dpbf16_ps(acc[b], wv, (__m512bh)_mm512_set1_epi32((int)xp[(long)b * K2 + j]));
    }
    float t[16];
    for (int b = 0; b < nb; b++) {
        _mm512_storeu_ps(t, acc[b]);
        finish_rows(y + (long)b * ldy, t, NULL, 16, op);
    }
}

/* Two tiles of one sequence at once, two streams in flight (as tile_two does for the other formats), each with two
 * sums (even and odd pairs of columns) so that four products are in flight. */
static inline __attribute__((always_inline)) void tile_pairs_two(const uint32_t *wa, const uint32_t *wb, int K2,
                                                                 const uint32_t *xp, float *ya, float *yb, int op) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int j = 0;
    for (; j + 2 <= K2; j += 2) {
        const __m512bh x0 = (__m512bh)_mm512_set1_epi32((int)xp[j]), x1 = (__m512bh)_mm512_set1_epi32((int)xp[j + 1]);
        a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(wa + 16L * j), x0);
        b0 = _mm512_dpbf16_ps(b0, (__m512bh)_mm512_loadu_si512(wb + 16L * j), x0);
        a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(wa + 16L * j + 16), x1);
        b1 = _mm512_dpbf16_ps(b1, (__m512bh)_mm512_loadu_si512(wb + 16L * j + 16), x1);
    }
    if (j < K2) {
        const __m512bh x0 = (__m512bh)_mm512_set1_epi32((int)xp[j]);
        a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(wa + 16L * j), x0);
        b0 = _mm512_dpbf16_ps(b0, (__m512bh)_mm512_loadu_si512(wb + 16L * j), x0);
    }
    float t[32];
    _mm512_storeu_ps(t, _mm512_add_ps(a0, a1));
    _mm512_storeu_ps(t + 16, _mm512_add_ps(b0, b1));
    finish_rows(ya, t, NULL, 16, op);
    finish_rows(yb, t + 16, NULL, 16, op);
}

/* matvec_of for bf16 pair tiles: this thread's share of the tiles; one sequence takes the share's two halves side by
 * side, a batch eight sequences a pass; xp: room for B * K / 2 words, this thread's */
static void matvec_pairs(const void *W, int rows, int K, const float *x, int ldx, float *y, int ldy, int B, int op,
                         uint32_t *xp) {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num(), tiles = rows / 16, K2 = K / 2;
    int t0 = (int)((long)tiles * t / nt);
    const int t1 = (int)((long)tiles * (t + 1) / nt);
    const long words = 16L * K2; /* a tile's */
    for (int b = 0; b < B; b++) to_pairs(x + (long)b * ldx, K, xp + (long)b * K2);
    if (B == 1) {
        const int h = (t1 - t0) / 2;
        for (int i = t0; i < t0 + h; i++)
            tile_pairs_two((const uint32_t *)W + words * i, (const uint32_t *)W + words * (i + h), K2, xp, y + 16 * i,
                           y + 16 * (i + h), op);
        t0 += 2 * h; /* an odd tile left: below */
    }
    for (int tile = t0; tile < t1; tile++) {
        const uint32_t *w = (const uint32_t *)W + words * tile;
        const char *next = (const char *)(w + words);
        for (int b = 0; b < B; b += 8) {
            const int nb = B - b < 8 ? B - b : 8;
            const uint32_t *xb = xp + (long)b * K2;
            float *yb = y + (long)b * ldy + 16 * tile;
            if (nb == 1) tile_pairs(w, K2, xb, yb, ldy, nb, op, next, 1);
            else if (nb == 2) tile_pairs(w, K2, xb, yb, ldy, nb, op, next, 2);
            else if (nb <= 4) tile_pairs(w, K2, xb, yb, ldy, nb, op, next, 4);
            else tile_pairs(w, K2, xb, yb, ldy, nb, op, next, 8);
        }
    }
}
#else
#define BF16_PAIRS 0
#endif

/* y[b][j] (op)= scale[j] W[j] . x[b] for this thread's share of the rows j (scale NULL: 1). W is packed in tiles of
 * sixteen rows, column by column ([rows / 16][K][16]), so each thread reads one sequential stream; rows % 16 == 0.
 * xT: this thread's room for the packed inputs of a batch (B > 1), ceil(B / 8) * 8 * K floats. */
static inline __attribute__((always_inline)) void matvec_of(const void *W, const float *scale, int rows, int K,
                                                            const float *x, int ldx, float *y, int ldy, int B, int op,
                                                            float *xT, const int fmt) {
    int nt = omp_get_num_threads(), t = omp_get_thread_num(), tiles = rows / 16;
    int t0 = (int)((long)tiles * t / nt), t1 = (int)((long)tiles * (t + 1) / nt);
    const long bytes = 16L * K * elem_bytes(fmt); /* a tile's */
    if (B > 1) pack_inputs(x, ldx, B, K, xT);
    /* the share's first and second halves side by side, then an odd tile left over; not for int8 pairs: widening
     * int8 costs more, and two streams at a time make their step slower */
    if (B == 1 || (B == 2 && fmt != INT8)) {
        const int h = (t1 - t0) / 2;
        for (int i = t0; i < t0 + h; i++) {
            const char *wa = (const char *)W + i * bytes, *wb = wa + h * bytes;
            const float *sa = scale ? scale + 16 * i : NULL, *sb = scale ? scale + 16 * (i + h) : NULL;
            if (B == 1) tile_two(wa, wb, sa, sb, K, x, 1, y + 16 * i, y + 16 * (i + h), ldy, op, 1, fmt);
            else tile_two(wa, wb, sa, sb, K, xT, 8, y + 16 * i, y + 16 * (i + h), ldy, op, 2, fmt);
        }
        if ((t1 - t0) % 2 == 0) return;
        if (B == 1) {
            tile_one((const char *)W + (t1 - 1) * bytes, scale ? scale + 16 * (t1 - 1) : NULL, K, x,
                     y + 16 * (t1 - 1), op, fmt);
            return;
        }
        t0 = t1 - 1; /* a pair's odd tile: below */
    }
    for (int tile = t0; tile < t1; tile++) {
        const char *w = (const char *)W + tile * bytes;
        const float *s = scale ? scale + 16 * tile : NULL;
        for (int b = 0; b < B; b += 8)
            tile_batch(w, s, K, xT + (long)b * K, y + (long)b * ldy + 16 * tile, ldy, B - b < 8 ? B - b : 8, op, fmt);
    }
}

/* matvec_of compiled for each format */
static void matvec(const void *W, const float *scale, int rows, int K, const float *x, int ldx, float *y, int ldy,
                   int B, int op, float *xT, int fmt) {
    if (fmt == INT8) matvec_of(W, scale, rows, K, x, ldx, y, ldy, B, op, xT, INT8);
#if BF16_PAIRS
    else if (fmt == BF16) matvec_pairs(W, rows, K, x, ldx, y, ldy, B, op, (uint32_t *)xT);
#else
    else if (fmt == BF16) matvec_of(W, NULL, rows, K, x, ldx, y, ldy, B, op, xT, BF16);
#endif
    else matvec_of(W, NULL, rows, K, x, ldx, y, ldy, B, op, xT, FP16);
}

/* Room for each thread's packed inputs (see matvec_of; bf16 pairs take half as many words) of B sequences of up to
 * K inputs, for products in the formats fmt and fmt2; NULL for one sequence (none needed, except by bf16 pairs) or
 * when out of memory (*failed set). */
static float *input_packs(int B, int K, int fmt, int fmt2, long *per_thread, int *failed) {
    *per_thread = (long)((B + 7) / 8) * 8 * K;
    if (B == 1 && !(BF16_PAIRS && (fmt == BF16 || fmt2 == BF16))) return NULL;
    float *packs = malloc(sizeof(float) * *per_thread * omp_get_max_threads());
    *failed = packs == NULL;
    return packs;
}

static void layer_norm(const float *x, const float *w, const float *b, float *y, int C, float eps) {
    float mean = 0.0f, var = 0.0f;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    float inv = 1.0f / sqrtf(var / C + eps);
    for (int i = 0; i < C; i++) y[i] = (x[i] - mean) * inv * w[i] + b[i];
}

#define LN_EPS 1e-5f
/* One head of one sequence's decode step: its inputs, the WKV update (simd.h), its gated output yg[N]. The state
 * S is [N][N] (value i, key j); w, k, v and al are scratch the step may overwrite. */
static void head_step(const Layer *ly, int layer, int h, int N, float *r, float *k, float *v, const float *v_first,
                      float *w, float *al, const float *vl, const float *gl, const float *S_in, float *S_out,
                      float *yg) {
    const int o = h * N;
    float decay[N], b[N], y[N];
    head_inputs(N, ly->w0 + o, ly->a0 + o, layer > 0 ? ly->v0 + o : NULL, ly->k_k + o, ly->k_a + o, w, k, v,
                v_first + o, al, vl, al, b);
    wkv7_decays(w, decay, N);
    wkv7_step_rows(N, S_in, S_out, r, decay, k, v, al, b, y);
    head_output(N, ly->lnx_w + o, ly->lnx_b + o, ly->r_k + o, y, r, k, v, gl, yg);
}

/* x [B][C]: the embeddings in, the last layer's output out. State in: att/ffn shift [L][B][C], wkv [L][B][H][N][N];
 * the new state goes to the *_out buffers (which may not alias the inputs). */
int rwkv7_decode(const Model *m, int B, float *x, const float *att_in, const float *ffn_in, const float *wkv_in,
                 float *att_out, float *ffn_out, float *wkv_out) {
    const int C = m->C, H = m->H, N = m->N, F = m->F, D = m->Dw + m->Da + m->Dv + m->Dg;
    /* scratch per sequence: six mixes, r, k, v, v_first, four LoRA outputs, the gated head output (15 x C), then the
     * LoRA hiddens (D) or the FFN's (F) */
    const long per = 15L * C + (F > D ? F : D);
    float *buf = malloc(sizeof(float) * per * B);
    int Kmax = C > F ? C : F, failed = 0;
    long pack;
    float *packs = input_packs(B, Kmax > D ? Kmax : D, m->fmt, m->lora_fmt, &pack, &failed);
    if (!buf || failed) {
        free(buf);
        free(packs);
        return 1;
    }
    float *mixes = buf, *r = mixes + 6L * B * C, *k = r + (long)B * C, *v = k + (long)B * C;
    float *v_first = v + (long)B * C, *wl = v_first + (long)B * C, *al = wl + (long)B * C, *vl = al + (long)B * C;
    float *gl = vl + (long)B * C, *yg = gl + (long)B * C, *hid = yg + (long)B * C;
    const long state = (long)B * H * N * N;

#pragma omp parallel
    for (int l = 0; l < m->L; l++) {
        float *xT = packs ? packs + pack * omp_get_thread_num() : NULL;
        const Layer *ly = &m->layers[l];
        float *xa = att_out + (long)l * B * C, *xf = ffn_out + (long)l * B * C;
        const float *xa_prev = att_in + (long)l * B * C, *xf_prev = ffn_in + (long)l * B * C;
#pragma omp for schedule(static) /* each sequence's norms and mixes on its own thread */
        for (int b = 0; b < B; b++) {
            float *xb = x + (long)b * C;
            if (l == 0) layer_norm(xb, m->ln0_w, m->ln0_b, xb, C, LN_EPS);
            layer_norm(xb, ly->ln1_w, ly->ln1_b, xa + (long)b * C, C, LN_EPS);
            mix_row(xa + (long)b * C, xa_prev + (long)b * C, ly->mix, 6, C, (long)B * C, mixes + (long)b * C);
        }
        /* down: r, k, v and the LoRA hiddens (tanh for the decay, sigmoid for the gate), one barrier for all */
        const float *mr = mixes, *mk = mixes + (long)B * C, *mw = mixes + 2L * B * C, *ma = mixes + 3L * B * C;
        const float *mv = mixes + 4L * B * C, *mg = mixes + 5L * B * C;
        float *hw = hid, *ha = hw + m->Dw, *hv = ha + m->Da, *hg = hv + m->Dv; /* row stride D */
        matvec(ly->Wr, ly->Wr_s, C, C, mr, C, r, C, B, STORE, xT, m->fmt);
        matvec(ly->Wk, ly->Wk_s, C, C, mk, C, k, C, B, STORE, xT, m->fmt);
        matvec(ly->Wv, ly->Wv_s, C, C, mv, C, v, C, B, STORE, xT, m->fmt);
        matvec(ly->w1, NULL, m->Dw, C, mw, C, hw, D, B, TANH, xT, m->lora_fmt);
        matvec(ly->a1, NULL, m->Da, C, ma, C, ha, D, B, STORE, xT, m->lora_fmt);
        if (l > 0) matvec(ly->v1, NULL, m->Dv, C, mv, C, hv, D, B, STORE, xT, m->lora_fmt);
        matvec(ly->g1, NULL, m->Dg, C, mg, C, hg, D, B, SIGMOID, xT, m->lora_fmt);
#pragma omp barrier
        matvec(ly->w2, NULL, C, m->Dw, hw, D, wl, C, B, STORE, xT, m->lora_fmt);
        matvec(ly->a2, NULL, C, m->Da, ha, D, al, C, B, STORE, xT, m->lora_fmt);
        if (l > 0) matvec(ly->v2, NULL, C, m->Dv, hv, D, vl, C, B, STORE, xT, m->lora_fmt);
        matvec(ly->g2, NULL, C, m->Dg, hg, D, gl, C, B, STORE, xT, m->lora_fmt);
#pragma omp barrier
        if (l == 0) {
#pragma omp single
            memcpy(v_first, v, sizeof(float) * B * C);
        }
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            long o = (long)b * C + (long)h * N;
            head_step(ly, l, h, N, r + o, k + o, v + o, v_first + (long)b * C, wl + o, al + o, vl + o, gl + o,
                      wkv_in + l * state + (long)bh * N * N, wkv_out + l * state + (long)bh * N * N, yg + o);
        }
        matvec(ly->Wo, ly->Wo_s, C, C, yg, C, x, C, B, ADD, xT, m->fmt);
#pragma omp barrier
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            layer_norm(x + (long)b * C, ly->ln2_w, ly->ln2_b, xf + (long)b * C, C, LN_EPS);
            mix_row(xf + (long)b * C, xf_prev + (long)b * C, ly->ffn_mix, 1, C, 0, mixes + (long)b * C);
        }
        matvec(ly->Fk, ly->Fk_s, F, C, mixes, C, hid, F, B, RELU_SQ, xT, m->fmt);
#pragma omp barrier
        matvec(ly->Fv, ly->Fv_s, C, F, hid, F, x, C, B, ADD, xT, m->fmt);
#pragma omp barrier
    }
    free(buf);
    free(packs);
    return 0;
}



/* Whether bf16 matrices are tiled in pairs of columns (see matvec_pairs) by this build. */
int rwkv7_bf16_pairs(void) { return BF16_PAIRS; }

/* y [B][rows] = x [B][K] . W^T (times the rows' scales for int8) for a tiled W, on all threads: the vocabulary head
 * of a decode step. */
int rwkv7_matvec(const void *W, const float *scale, int rows, int K, const float *x, float *y, int B, int fmt) {
    long pack;
    int failed = 0;
    float *packs = input_packs(B, K, fmt, fmt, &pack, &failed);
    if (failed) return 1;
#pragma omp parallel
    matvec(W, scale, rows, K, x, K, y, rows, B, STORE, packs ? packs + pack * omp_get_thread_num() : NULL, fmt);
    free(packs);
    return 0;
}
