/* One RWKV-7 (x070) decode step through every layer in one call, on a CPU: fp16 matrices, fp32 math and state.
 *
 * Why by hand: a one-token step is ~1,500 small PyTorch operations, and on a 2-core CPU their dispatch costs as much
 * as streaming the weights; fbgemm's fp16 product of one row also reads its matrix below the bandwidth a plain sum
 * reaches. Here each layer is a few matrix-vector products that read their fp16 rows once (widened in registers, fp32
 * accumulation) with the element-wise work fused around them, split over OpenMP threads (PyTorch's own OpenMP
 * runtime: the library links the same libgomp). Built at first use by modrwkv/native_kernels.py for the CPU it runs on.
 *
 * Layout: matrices are tiled fp16 (see matvec; a LoRA's down-projection w1 [C][D] is tiled as its transpose [D][C]);
 * vectors fp32; activations [B][C]. The decode step reads the state from one set of buffers and writes another.
 */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__AVX2__) || !defined(__F16C__) || !defined(__FMA__)
#error "fused_decode needs AVX2, F16C and FMA"
#endif

typedef uint16_t half;

typedef struct {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    const float *mix;    /* [6][C]: the token-shift mixes of r, k, w, a, v, g */
    const float *w0, *a0, *v0; /* v0 is NULL in layer 0 */
    const float *k_k, *k_a, *r_k, *lnx_w, *lnx_b, *ffn_mix;
    const half *Wr, *Wk, *Wv, *Wo;             /* [C][C] */
    const half *w1, *a1, *v1, *g1;             /* down: [D][C]; v1 NULL in layer 0 */
    const half *w2, *a2, *v2, *g2;             /* up: [C][D] */
    const half *Fk, *Fv;                       /* [F][C], [C][F] */
} Layer;

typedef struct {
    int L, C, H, N, F, Dw, Da, Dv, Dg;
    const float *ln0_w, *ln0_b;
    const Layer *layers;
} Model;

enum { STORE, TANH, SIGMOID, RELU_SQ, ADD };

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_half8(const half *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static inline float dot(const float *a, const float *b, int n) { /* n % 8 == 0 */
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i < n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    return hsum(_mm256_add_ps(s0, s1));
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

#define KBLOCK 256 /* columns per block in the batched product: the block's rows and B input slices stay in L1 */

/* Four rows of one sequence: the cheapest form at batch 1, where reading the weights is all the cost. */
static void tile_one(const half *w, int K, const float *x, float *y, int op) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int k = 0; k < K; k += 8) {
        const half *c = w + 4 * k;
        __m256 a = _mm256_loadu_ps(x + k);
        s0 = _mm256_fmadd_ps(load_half8(c), a, s0);
        s1 = _mm256_fmadd_ps(load_half8(c + 8), a, s1);
        s2 = _mm256_fmadd_ps(load_half8(c + 16), a, s2);
        s3 = _mm256_fmadd_ps(load_half8(c + 24), a, s3);
    }
    finish(y, hsum(s0), op);
    finish(y + 1, hsum(s1), op);
    finish(y + 2, hsum(s2), op);
    finish(y + 3, hsum(s3), op);
}

/* Four rows of B sequences: block by block, two sequences at a time (eight sums in flight), partial sums kept in
 * `acc` [B][4] between blocks. Widening the weights again for every pair beats widening a block once into a buffer
 * (measured at B = 8, K = 3072 on 2 cores: 59 vs 34-41 GFLOP/s: the buffer's loads were the bottleneck). */
static void tile_batch(const half *w, int K, const float *x, int ldx, float *y, int ldy, int B, int op, __m256 *acc) {
    for (int i = 0; i < 4 * B; i++) acc[i] = _mm256_setzero_ps();
    for (int k0 = 0; k0 < K; k0 += KBLOCK) {
        int k1 = k0 + KBLOCK < K ? k0 + KBLOCK : K;
        for (int b = 0; b < B; b += 2) {
            const float *x0 = x + (long)b * ldx, *x1 = b + 1 < B ? x0 + ldx : x0;
            __m256 *a0 = acc + 4 * b, *a1 = b + 1 < B ? a0 + 4 : acc + 4 * B; /* a lone last row: spare room */
            __m256 s00 = a0[0], s01 = a0[1], s02 = a0[2], s03 = a0[3];
            __m256 s10 = a1[0], s11 = a1[1], s12 = a1[2], s13 = a1[3];
            for (int k = k0; k < k1; k += 8) {
                const half *c = w + 4 * k;
                __m256 w0 = load_half8(c), w1 = load_half8(c + 8), w2 = load_half8(c + 16), w3 = load_half8(c + 24);
                __m256 p = _mm256_loadu_ps(x0 + k), q = _mm256_loadu_ps(x1 + k);
                s00 = _mm256_fmadd_ps(w0, p, s00);
                s01 = _mm256_fmadd_ps(w1, p, s01);
                s02 = _mm256_fmadd_ps(w2, p, s02);
                s03 = _mm256_fmadd_ps(w3, p, s03);
                s10 = _mm256_fmadd_ps(w0, q, s10);
                s11 = _mm256_fmadd_ps(w1, q, s11);
                s12 = _mm256_fmadd_ps(w2, q, s12);
                s13 = _mm256_fmadd_ps(w3, q, s13);
            }
            a0[0] = s00, a0[1] = s01, a0[2] = s02, a0[3] = s03;
            a1[0] = s10, a1[1] = s11, a1[2] = s12, a1[3] = s13;
        }
    }
    for (int b = 0; b < B; b++)
        for (int r = 0; r < 4; r++) finish(y + (long)b * ldy + r, hsum(acc[4 * b + r]), op);
}

/* y[b][j] (op)= W[j] . x[b] for this thread's share of the rows j. W is packed in tiles of four rows, interleaved
 * by eight columns ([rows / 4][K / 8][4][8]), so each thread reads one sequential stream; rows % 4 == K % 8 == 0. */
static void matvec(const half *W, int rows, int K, const float *x, int ldx, float *y, int ldy, int B, int op) {
    int nt = omp_get_num_threads(), t = omp_get_thread_num(), tiles = rows / 4;
    int t0 = (int)((long)tiles * t / nt), t1 = (int)((long)tiles * (t + 1) / nt);
    if (B == 1) {
        for (int tile = t0; tile < t1; tile++) tile_one(W + (long)tile * 4 * K, K, x, y + 4 * tile, op);
        return;
    }
    __m256 acc[4 * B + 4];
    for (int tile = t0; tile < t1; tile++) tile_batch(W + (long)tile * 4 * K, K, x, ldx, y + 4 * tile, ldy, B, op, acc);
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
#define GROUP_NORM_EPS 64e-5f
#define DECAY_SCALE 0.6065306597126334f

/* One head of one sequence: decay, a, the normalised key, the value mix, the WKV update, the head's group norm and
 * bonus, times the gate: yg[N]. The state S is [N][N] (value i, key j). */
static void head_step(const Layer *ly, int layer, int h, int N, float *r, float *k, float *v, const float *v_first,
                      const float *wl, const float *al, const float *vl, const float *gl, const float *S_in,
                      float *S_out, float *yg) {
    int o = h * N;
    float decay[N], kk[N], bb[N], y[N], sa[N];
    float norm = 0.0f;
    for (int j = 0; j < N; j++) {
        float a = sigmoidf(ly->a0[o + j] + al[j]);
        decay[j] = expf(-DECAY_SCALE * sigmoidf(ly->w0[o + j] + wl[j]));
        kk[j] = k[j] * ly->k_k[o + j];
        norm += kk[j] * kk[j];
        k[j] = k[j] + (k[j] * ly->k_a[o + j]) * (a - 1.0f);
        bb[j] = a; /* times kk once it is normalised */
    }
    float inv = 1.0f / fmaxf(sqrtf(norm), 1e-12f);
    for (int j = 0; j < N; j++) {
        kk[j] *= inv;
        bb[j] *= kk[j];
        kk[j] = -kk[j];
    }
    if (layer > 0)
        for (int i = 0; i < N; i++) v[i] = v[i] + (v_first[o + i] - v[i]) * sigmoidf(ly->v0[o + i] + vl[i]);
    for (int i = 0; i < N; i++) sa[i] = dot(S_in + i * N, kk, N);
    for (int i = 0; i < N; i++) {
        const float *s = S_in + i * N;
        float *d = S_out + i * N;
        for (int j = 0; j < N; j++) d[j] = s[j] * decay[j] + sa[i] * bb[j] + v[i] * k[j];
        y[i] = dot(d, r, N);
    }
    float mean = 0.0f, var = 0.0f, bonus = 0.0f;
    for (int i = 0; i < N; i++) mean += y[i];
    mean /= N;
    for (int i = 0; i < N; i++) var += (y[i] - mean) * (y[i] - mean);
    float scale = 1.0f / sqrtf(var / N + GROUP_NORM_EPS);
    for (int j = 0; j < N; j++) bonus += r[j] * k[j] * ly->r_k[o + j];
    for (int i = 0; i < N; i++)
        yg[i] = ((y[i] - mean) * scale * ly->lnx_w[o + i] + ly->lnx_b[o + i] + bonus * v[i]) * gl[i];
}

/* x [B][C]: the embeddings in, the last layer's output out. State in: att/ffn shift [L][B][C], wkv [L][B][H][N][N];
 * the new state goes to the *_out buffers (which may not alias the inputs). */
int rwkv7_decode(const Model *m, int B, float *x, const float *att_in, const float *ffn_in, const float *wkv_in,
                 float *att_out, float *ffn_out, float *wkv_out) {
    const int C = m->C, H = m->H, N = m->N, F = m->F, D = m->Dw + m->Da + m->Dv + m->Dg;
    /* scratch per sequence: six mixes, r, k, v, v_first, four LoRA outputs, the gated head output, the hidden */
    const long per = 15L * C + D + (F > D ? F : D);
    float *buf = malloc(sizeof(float) * per * B);
    if (!buf) return 1;
    float *mixes = buf, *r = mixes + 6L * B * C, *k = r + (long)B * C, *v = k + (long)B * C;
    float *v_first = v + (long)B * C, *wl = v_first + (long)B * C, *al = wl + (long)B * C, *vl = al + (long)B * C;
    float *gl = vl + (long)B * C, *yg = gl + (long)B * C, *hid = yg + (long)B * C;
    const long state = (long)B * H * N * N;

#pragma omp parallel
    for (int l = 0; l < m->L; l++) {
        const Layer *ly = &m->layers[l];
        float *xa = att_out + (long)l * B * C, *xf = ffn_out + (long)l * B * C;
        const float *xa_prev = att_in + (long)l * B * C, *xf_prev = ffn_in + (long)l * B * C;
#pragma omp single
        for (int b = 0; b < B; b++) {
            float *xb = x + (long)b * C;
            if (l == 0) layer_norm(xb, m->ln0_w, m->ln0_b, xb, C, LN_EPS);
            layer_norm(xb, ly->ln1_w, ly->ln1_b, xa + (long)b * C, C, LN_EPS);
            for (int i = 0; i < 6; i++)
                for (int c = 0; c < C; c++) {
                    float cur = xa[(long)b * C + c];
                    mixes[((long)i * B + b) * C + c] = cur + (xa_prev[(long)b * C + c] - cur) * ly->mix[i * C + c];
                }
        }
        /* down: r, k, v and the LoRA hiddens (tanh for the decay, sigmoid for the gate), one barrier for all */
        const float *mr = mixes, *mk = mixes + (long)B * C, *mw = mixes + 2L * B * C, *ma = mixes + 3L * B * C;
        const float *mv = mixes + 4L * B * C, *mg = mixes + 5L * B * C;
        float *hw = hid, *ha = hw + m->Dw, *hv = ha + m->Da, *hg = hv + m->Dv; /* row stride D */
        matvec(ly->Wr, C, C, mr, C, r, C, B, STORE);
        matvec(ly->Wk, C, C, mk, C, k, C, B, STORE);
        matvec(ly->Wv, C, C, mv, C, v, C, B, STORE);
        matvec(ly->w1, m->Dw, C, mw, C, hw, D, B, TANH);
        matvec(ly->a1, m->Da, C, ma, C, ha, D, B, STORE);
        if (l > 0) matvec(ly->v1, m->Dv, C, mv, C, hv, D, B, STORE);
        matvec(ly->g1, m->Dg, C, mg, C, hg, D, B, SIGMOID);
#pragma omp barrier
        matvec(ly->w2, C, m->Dw, hw, D, wl, C, B, STORE);
        matvec(ly->a2, C, m->Da, ha, D, al, C, B, STORE);
        if (l > 0) matvec(ly->v2, C, m->Dv, hv, D, vl, C, B, STORE);
        matvec(ly->g2, C, m->Dg, hg, D, gl, C, B, STORE);
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
        matvec(ly->Wo, C, C, yg, C, x, C, B, ADD);
#pragma omp barrier
#pragma omp single
        for (int b = 0; b < B; b++) {
            layer_norm(x + (long)b * C, ly->ln2_w, ly->ln2_b, xf + (long)b * C, C, LN_EPS);
            for (int c = 0; c < C; c++) {
                float cur = xf[(long)b * C + c];
                mixes[(long)b * C + c] = cur + (xf_prev[(long)b * C + c] - cur) * ly->ffn_mix[c];
            }
        }
        matvec(ly->Fk, F, C, mixes, C, hid, F, B, RELU_SQ);
#pragma omp barrier
        matvec(ly->Fv, C, F, hid, F, x, C, B, ADD);
#pragma omp barrier
    }
    free(buf);
    return 0;
}

