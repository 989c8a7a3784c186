#include "backend/cuda/prefill_attention.h"

#include "backend/cuda/matmul.h"
#include "common/error.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>

namespace orcd::cuda {
namespace {

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

PrefillAttentionPlan plan_prefill_attention(uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t max_batch,
                                            uint32_t n_ctx, uint64_t cap) {
    PrefillAttentionPlan p;
    p.n_head = n_head;
    p.n_head_kv = n_head_kv;
    p.head_dim = head_dim;
    p.max_batch = max_batch;
    p.n_ctx = n_ctx;
    if (max_batch < 2 || n_head == 0 || n_head_kv == 0 || n_head % n_head_kv != 0 || head_dim == 0 || n_ctx == 0)
        return p;
    const uint64_t group = n_head / n_head_kv;
    const uint64_t key_ld = align_up(n_ctx, 8);
    const uint64_t q_row = uint64_t(n_head) * head_dim;
    if (key_ld > INT_MAX || q_row > INT_MAX) return p;
    const uint64_t q_bytes = align_up(uint64_t(max_batch) * q_row * 2, 256);
    // S (F32) and P (F16) of one KV head's query heads.
    const uint64_t per_kv = group * max_batch * key_ld * 6;
    if (q_bytes + per_kv + 512 > cap) return p;  // 512: the two 256-byte roundings
    const uint64_t fit = std::min<uint64_t>((cap - q_bytes - 512) / per_kv, n_head_kv);
    // Equal passes: ceil(n_head_kv / passes) KV heads each.
    const uint64_t passes = (n_head_kv + fit - 1) / fit;
    p.kv_per_pass = uint32_t((n_head_kv + passes - 1) / passes);
    p.key_ld = key_ld;
    const uint64_t rows = uint64_t(p.kv_per_pass) * group * max_batch * key_ld;
    p.s_offset = q_bytes;
    p.p_offset = p.s_offset + align_up(rows * 4, 256);
    p.bytes = p.p_offset + align_up(rows * 2, 256);
    return p;
}

void prefill_attention(Gemm& gemm, const PrefillAttentionPlan& plan, void* ws, float* out, const float* q,
                       const f16_bits* k, const f16_bits* v, uint32_t n_tokens, uint32_t pos0,
                       const AttentionParams& params) {
    if (!plan.enabled() || !ws || n_tokens > plan.max_batch || uint64_t(pos0) + n_tokens > plan.n_ctx)
        fail(ORCD_INTERNAL, "prefill_attention: " + std::to_string(n_tokens) + " tokens at " + std::to_string(pos0) +
                                " outside the plan");
    if (n_tokens == 0) return;
    cudaStream_t s = gemm.stream();
    const uint32_t hd = plan.head_dim, n_kv = plan.n_head_kv, group = plan.n_head / plan.n_head_kv;
    const uint32_t n_keys = pos0 + n_tokens;
    // Rows of S and P padded to 8 elements: 16-byte aligned F16 rows for the
    // tensor-core kernels; the padding is never read (k = n_keys).
    const uint64_t ld = align_up(n_keys, 8);
    const long long kv_row = (long long)n_kv * hd, q_row = (long long)plan.n_head * hd;
    const long long head_block = (long long)n_tokens * (long long)ld;  // S/P elements of one query head
    uint8_t* base = static_cast<uint8_t*>(ws);
    f16_bits* q16 = reinterpret_cast<f16_bits*>(base);
    float* S = reinterpret_cast<float*>(base + plan.s_offset);
    f16_bits* P = reinterpret_cast<f16_bits*>(base + plan.p_offset);
    const float scale = params.scale > 0.0f ? params.scale : 1.0f / std::sqrt(float(hd));

    to_f16(q16, q, uint64_t(n_tokens) * uint64_t(q_row), s);
    // Within a pass, query head (g0 + b) * group + i sits at local head
    // b * group + i of S and P; the batch runs over b (the KV heads), so for
    // a fixed i every operand has a uniform stride.
    for (uint32_t g0 = 0; g0 < n_kv; g0 += plan.kv_per_pass) {
        const int n_b = int(std::min(plan.kv_per_pass, n_kv - g0));
        for (uint32_t i = 0; i < group; ++i) {
            const uint64_t h = uint64_t(g0) * group + i;
            // S(j, t) = scale * sum_d K[j][g][d] q16[t][h][d]: column-major
            // C = op_T(K block, hd x n_keys, lda = kv_row) * (q16 block, hd x n).
            gemm.batched_f16(true, false, int(n_keys), int(n_tokens), int(hd), scale, k + uint64_t(g0) * hd,
                             int(kv_row), hd, q16 + h * hd, int(q_row), (long long)group * hd, S + i * head_block,
                             int(ld), group * head_block, n_b);
        }
        causal_softmax_f16(P, S, uint32_t(n_b) * group, n_tokens, pos0, n_keys, ld, s, params.window, params.sinks,
                           g0 * group);
        for (uint32_t i = 0; i < group; ++i) {
            const uint64_t h = uint64_t(g0) * group + i;
            // out(d, t) = sum_j V[j][g][d] P(j, t): C = (V block, hd x n_keys)
            // * (P block, n_keys x n), ldc = q_row.
            gemm.batched_f16(false, false, int(hd), int(n_tokens), int(n_keys), 1.0f, v + uint64_t(g0) * hd,
                             int(kv_row), hd, P + i * head_block, int(ld), group * head_block, out + h * hd,
                             int(q_row), (long long)group * hd, n_b);
        }
    }
}

bool prefill_attention_pays_off(const PrefillAttentionPlan& plan, uint32_t n_tokens, uint32_t n_keys) {
    // Multiply-adds of one scores product. 2^24 lies between the two
    // measured cases: 7B pp128 (2^26 per product, faster with cuBLAS) and
    // TinyLlama-shape pp128 (2^22, slower); not tuned further.
    const uint64_t work = uint64_t(n_tokens) * n_keys * plan.kv_per_pass * plan.head_dim;
    return plan.enabled() && n_tokens > 1 && work >= (uint64_t(1) << 24);
}

}  // namespace orcd::cuda
