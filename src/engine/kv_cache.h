// KV cache bookkeeping and the one memory layout both backends use.
//
// Layout (shared by the CPU and CUDA backends):
//   for layer l in [0, n_layer): K blocks, then V blocks
//   each kind holds one block per sequence slot s in [0, n_seq)
//   each block: [n_ctx][n_head_kv][head_dim] elements, row-major
// so the element (layer l, kind k in {0 = K, 1 = V}, slot s, position p,
// head h, dim d) lives at
//   (((((l * 2 + k) * n_seq + s) * n_ctx + p) * n_head_kv + h) * head_dim + d).
// A position's K (or V) for all heads is one contiguous run of
// n_head_kv * head_dim elements, which is what a decode step appends. The
// element type is the backend's (Backend::kv_elem_bytes(): F32 on the CPU,
// F16 on CUDA); the engine copies it into the layout once, at load.
//
// Every layer keeps the whole context, sliding-window layers included: the
// window is a mask of the attention op (which then reads only the window's
// keys), so one layout and one set of kernels serve every layer.
//
// A job reset only moves the position back to 0: the stale contents are
// never read because attention only covers [0, pos]. Debug builds poison the
// storage on reset (the backend's poison hook) to catch reads past pos.
#pragma once

#include <cstddef>
#include <cstdint>

namespace orcd {

struct KvLayout {
    uint32_t n_layer = 0;
    uint32_t n_ctx = 0;
    uint32_t n_head_kv = 0;
    uint32_t head_dim = 0;
    uint32_t elem_bytes = 4;
    uint32_t n_seq = 1;  // sequence slots

    uint64_t row_elems() const { return uint64_t(n_head_kv) * head_dim; }  // one position
    uint64_t block_elems() const { return uint64_t(n_ctx) * row_elems(); }  // one slot's K or V of a layer
    uint64_t total_elems() const { return uint64_t(n_layer) * 2 * n_seq * block_elems(); }
    uint64_t total_bytes() const { return total_elems() * elem_bytes; }
    // Offset (in elements) of K (kind 0) or V (kind 1) of layer l, slot s, at position p.
    uint64_t offset(uint32_t layer, uint32_t kind, uint32_t seq, uint32_t pos) const {
        return ((uint64_t(layer) * 2 + kind) * n_seq + seq) * block_elems() + uint64_t(pos) * row_elems();
    }
    // Slot 0 (one job at a time).
    uint64_t offset(uint32_t layer, uint32_t kind, uint32_t pos) const { return offset(layer, kind, 0, pos); }
};

// Position bookkeeping of the cache; the storage belongs to the backend.
class KvCache {
public:
    explicit KvCache(const KvLayout& layout) : layout_(layout) {}

    const KvLayout& layout() const { return layout_; }
    uint32_t position() const { return pos_; }
    uint32_t capacity() const { return layout_.n_ctx; }
    uint32_t remaining() const { return layout_.n_ctx - pos_; }
    bool fits(uint64_t n_tokens) const { return n_tokens <= remaining(); }
    // Reserves n positions; throws INVALID_REQUEST when they do not fit.
    uint32_t append(uint32_t n);
    void reset() { pos_ = 0; }

private:
    KvLayout layout_;
    uint32_t pos_ = 0;
};

}  // namespace orcd
