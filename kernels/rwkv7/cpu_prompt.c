/* A prompt's element-wise time-mix work on a CPU, between PyTorch's matrix products and the prompt recurrence
 * (cpu_recurrence.c). Why by hand: as ~25 PyTorch operations per layer, each a pass over [T][C] or more, it is a
 * sizeable share of a prompt on a CPU; here it is three passes. Activations fp32 [rows][C], C = H N.
 * Built at first use by build.py for the CPU it runs on. */
#include <omp.h>

#include "heads.h"

/* out [n][B][T][C] = x + (x of the token before - x) mix[m] for the n mixes [n][C]; the token before t = 0 is
 * shift [B][C]. */
void rwkv7_token_shift(int B, int T, int C, int n, const float *x, const float *shift, const float *mix, float *out) {
    const long rows = (long)B * T;
#pragma omp parallel for schedule(static)
    for (long bt = 0; bt < rows; bt++) {
        const float *cur = x + bt * C, *prev = bt % T ? cur - C : shift + bt / T * C;
        mix_row(cur, prev, mix, n, C, rows * C, out + bt * C);
    }
}

/* head_inputs for every head of `rows` tokens, in place: w, k, v (v0, v_first and vl NULL in layer 0) and a, which
 * becomes the update's a; its b into b. */
void rwkv7_attention_inputs(int rows, int H, int N, const float *w0, const float *a0, const float *v0,
                            const float *k_k, const float *k_a, float *w, float *k, float *v, const float *v_first,
                            float *a, const float *vl, float *b) {
#pragma omp parallel for schedule(static)
    for (long rh = 0; rh < (long)rows * H; rh++) {
        const long o = rh * N;
        const int c = (int)(rh % H) * N;
        head_inputs(N, w0 + c, a0 + c, v0 ? v0 + c : NULL, k_k + c, k_a + c, w + o, k + o, v + o,
                    v_first ? v_first + o : NULL, a + o, vl ? vl + o : NULL, a + o, b + o);
    }
}

/* head_output for every head of `rows` tokens, written over y. */
void rwkv7_attention_output(int rows, int H, int N, const float *lnx_w, const float *lnx_b, const float *r_k, float *y,
                            const float *r, const float *k, const float *v, const float *g) {
#pragma omp parallel for schedule(static)
    for (long rh = 0; rh < (long)rows * H; rh++) {
        const long o = rh * N;
        const int c = (int)(rh % H) * N;
        head_output(N, lnx_w + c, lnx_b + c, r_k + c, y + o, r + o, k + o, v + o, g + o, y + o);
    }
}
