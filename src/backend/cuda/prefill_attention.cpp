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

// S (F32) and P (F16) bytes of one query row of one head over n_keys keys.
uint64_t sp_row_bytes(uint64_t n_keys) { return align_up(n_keys, 8) * 6; }

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
    const uint64_t q_row = uint64_t(n_head) * head_dim;
    if (align_up(n_ctx, 8) > INT_MAX || q_row > INT_MAX) return p;
    const uint64_t q_bytes = align_up(uint64_t(max_batch) * q_row * 2, 256);
    // 512: the two 256-byte roundings of S and P. Enough for one row of one
    // group at the full context, at most all rows of all heads there.
    const uint64_t least = q_bytes + group * sp_row_bytes(n_ctx) + 512;
    const uint64_t most = q_bytes + uint64_t(n_head) * max_batch * sp_row_bytes(n_ctx) + 512;
    if (least > cap) return p;
    p.s_offset = q_bytes;
    p.bytes = std::min(cap, most);
    return p;
}

PrefillSplit prefill_split(const PrefillAttentionPlan& plan, uint32_t n_tokens, uint32_t pos0) {
    PrefillSplit s;
    if (!plan.enabled() || n_tokens == 0 || uint64_t(pos0) + n_tokens > plan.n_ctx) return s;
    const uint64_t group = plan.n_head / plan.n_head_kv;
    const uint64_t avail = plan.bytes - plan.s_offset - 512;
    // The last sub-chunk sees the most keys: size every one for it.
    const uint64_t per_group_row = group * sp_row_bytes(uint64_t(pos0) + n_tokens);
    const uint64_t fit_rows = avail / per_group_row;  // rows of one KV head's group
    if (fit_rows == 0) return s;
    const uint64_t subs = (n_tokens + fit_rows - 1) / fit_rows;
    s.rows = uint32_t((n_tokens + subs - 1) / subs);  // equal sub-chunks
    // Then as many KV heads a pass as fit, in equal passes.
    const uint64_t fit_kv = std::min<uint64_t>(avail / (per_group_row * s.rows), plan.n_head_kv);
    const uint64_t passes = (plan.n_head_kv + fit_kv - 1) / fit_kv;
    s.kv_per_pass = uint32_t((plan.n_head_kv + passes - 1) / passes);
    return s;
}

namespace {

// Query rows [t0, t0 + m) of the chunk at pos0 (q16 and out hold the whole
// chunk's rows), over the keys up to their last position, in passes of
// kv_per_pass KV heads.
void attend_rows(Gemm& gemm, const PrefillAttentionPlan& plan, uint8_t* ws, float* out, const f16_bits* q16,
                 const f16_bits* k, const f16_bits* v, uint32_t t0, uint32_t m, uint32_t pos0, uint32_t kv_per_pass,
                 float scale, const AttentionParams& params) {
    cudaStream_t s = gemm.stream();
    const uint32_t hd = plan.head_dim, n_kv = plan.n_head_kv, group = plan.n_head / plan.n_head_kv;
    const uint32_t first = pos0 + t0, n_keys = first + m;
    // Rows of S and P padded to 8 elements: 16-byte aligned F16 rows for the
    // tensor-core kernels; the padding is never read (k = n_keys).
    const uint64_t ld = align_up(n_keys, 8);
    const long long kv_row = (long long)n_kv * hd, q_row = (long long)plan.n_head * hd;
    const long long head_block = (long long)m * (long long)ld;  // S/P elements of one query head
    const uint64_t rows = uint64_t(kv_per_pass) * group * uint64_t(head_block);
    float* S = reinterpret_cast<float*>(ws + plan.s_offset);
    f16_bits* P = reinterpret_cast<f16_bits*>(ws + plan.s_offset + align_up(rows * 4, 256));
    q16 += uint64_t(t0) * uint64_t(q_row);
    out += uint64_t(t0) * uint64_t(q_row);
    // Within a pass, query head (g0 + b) * group + i sits at local head
    // b * group + i of S and P; the batch runs over b (the KV heads), so for
    // a fixed i every operand has a uniform stride.
    for (uint32_t g0 = 0; g0 < n_kv; g0 += kv_per_pass) {
        const int n_b = int(std::min(kv_per_pass, n_kv - g0));
        for (uint32_t i = 0; i < group; ++i) {
            const uint64_t h = uint64_t(g0) * group + i;
            // S(j, t) = scale * sum_d K[j][g][d] q16[t][h][d]: column-major
            // C = op_T(K block, hd x n_keys, lda = kv_row) * (q16 block, hd x m).
            gemm.batched_f16(true, false, int(n_keys), int(m), int(hd), scale, k + uint64_t(g0) * hd, int(kv_row), hd,
                             q16 + h * hd, int(q_row), (long long)group * hd, S + i * head_block, int(ld),
                             group * head_block, n_b);
        }
        causal_softmax_f16(P, S, uint32_t(n_b) * group, m, first, n_keys, ld, s, params.window, params.sinks,
                           g0 * group);
        for (uint32_t i = 0; i < group; ++i) {
            const uint64_t h = uint64_t(g0) * group + i;
            // out(d, t) = sum_j V[j][g][d] P(j, t): C = (V block, hd x n_keys)
            // * (P block, n_keys x m), ldc = q_row.
            gemm.batched_f16(false, false, int(hd), int(m), int(n_keys), 1.0f, v + uint64_t(g0) * hd, int(kv_row), hd,
                             P + i * head_block, int(ld), group * head_block, out + h * hd, int(q_row),
                             (long long)group * hd, n_b);
        }
    }
}

}  // namespace

void prefill_attention(Gemm& gemm, const PrefillAttentionPlan& plan, void* ws, float* out, const float* q,
                       const f16_bits* k, const f16_bits* v, uint32_t n_tokens, uint32_t pos0,
                       const AttentionParams& params) {
    if (n_tokens == 0 && plan.enabled() && ws) return;
    const PrefillSplit split = prefill_split(plan, n_tokens, pos0);
    if (!ws || n_tokens > plan.max_batch || split.rows == 0)
        fail(ORCD_INTERNAL, "prefill_attention: " + std::to_string(n_tokens) + " tokens at " + std::to_string(pos0) +
                                " outside the plan");
    const uint32_t hd = plan.head_dim;
    uint8_t* base = static_cast<uint8_t*>(ws);
    f16_bits* q16 = reinterpret_cast<f16_bits*>(base);
    const float scale = params.scale > 0.0f ? params.scale : 1.0f / std::sqrt(float(hd));
    to_f16(q16, q, uint64_t(n_tokens) * plan.n_head * hd, gemm.stream());
    for (uint32_t t0 = 0; t0 < n_tokens; t0 += split.rows)
        attend_rows(gemm, plan, base, out, q16, k, v, t0, std::min(split.rows, n_tokens - t0), pos0, split.kv_per_pass,
                    scale, params);
}

bool prefill_attention_pays_off(const PrefillAttentionPlan& plan, uint32_t n_tokens, uint32_t pos0) {
    // Multiply-adds of one scores product (the last sub-chunk's, a pass's). 2^24
    // lies between the two measured cases: 7B pp128 (2^26 per product,
    // faster with cuBLAS) and TinyLlama-shape pp128 (2^22, slower); not
    // tuned further.
    if (n_tokens < 2) return false;
    const PrefillSplit split = prefill_split(plan, n_tokens, pos0);
    const uint64_t work = uint64_t(split.rows) * (uint64_t(pos0) + n_tokens) * split.kv_per_pass * plan.head_dim;
    return split.rows > 0 && work >= (uint64_t(1) << 24);
}

}  // namespace orcd::cuda
