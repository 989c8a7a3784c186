#include "engine/weights.h"

#include "common/error.h"

#include <map>
#include <string>

namespace orcd {

namespace {

uint64_t row_bytes_of(gguf::TensorType type, uint64_t ne0) {
    uint64_t be = 0, bb = 0;
    if (!gguf::tensor_type_layout(uint32_t(type), &be, &bb) || ne0 % be != 0)
        fail(ORCD_INTERNAL, "row bytes of a tensor type without a layout");
    return ne0 / be * bb;
}

std::string dims_text(const uint64_t* ne, uint32_t n) {
    std::string s = "[";
    for (uint32_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

}  // namespace

uint64_t TensorView::row_bytes() const { return row_bytes_of(type, ne0); }

TensorView TensorView::of_host(gguf::TensorType type, uint64_t ne0, uint64_t ne1, const void* data) {
    TensorView v;
    v.type = type;
    v.ne0 = ne0;
    v.ne1 = ne1;
    v.id = 0;
    v.data = static_cast<const uint8_t*>(data);
    v.n_bytes = ne1 * v.row_bytes();
    return v;
}

TensorView TensorView::rows(uint64_t first, uint64_t n) const {
    if (first + n > ne1 * ne2) fail(ORCD_INTERNAL, "row view past the end of its tensor");
    TensorView v = *this;
    v.ne1 = n;
    v.ne2 = 1;
    v.offset = offset + first * row_bytes();
    v.data = data ? data + first * row_bytes() : nullptr;
    v.n_bytes = n * row_bytes();
    return v;
}

TensorView TensorView::elements(uint64_t first, uint64_t n) const {
    if (type != gguf::TensorType::F32 || ne1 != 1 || ne2 != 1 || first + n > ne0)
        fail(ORCD_INTERNAL, "element view of something other than an F32 vector");
    TensorView v = *this;
    v.ne0 = n;
    v.offset = offset + first * 4;
    v.data = data ? data + first * 4 : nullptr;
    v.n_bytes = n * 4;
    return v;
}

TensorView TensorView::expert(uint64_t e) const {
    if (e >= ne2) fail(ORCD_INTERNAL, "expert index past the stack");
    return rows(e * ne1, ne1);
}

uint64_t ModelWeights::total_bytes() const {
    uint64_t n = 0;
    for (const FileTensor& t : tensors) n += t.n_bytes;
    return n;
}

const char* ModelWeights::dominant_type() const {
    std::map<gguf::TensorType, uint64_t> bytes;
    for (const FileTensor& t : tensors)
        if (t.ne[1] > 1) bytes[t.type] += t.n_bytes;
    gguf::TensorType best = gguf::TensorType::F32;
    uint64_t most = 0;
    for (auto [type, n] : bytes)
        if (n > most) most = n, best = type;
    return gguf::tensor_type_name(best);
}

void ModelWeights::drop_host_data() {
    for (FileTensor& t : tensors) t.data = nullptr;
    auto clear = [](TensorView& v) { v.data = nullptr; };
    for (TensorView* t : {&tok_embd, &pos_embd, &output_norm, &output_norm_b, &output, &output_b}) clear(*t);
    for (LayerWeights& L : layers)
        for (TensorView* t : {&L.attn_norm, &L.attn_norm_b, &L.wq, &L.bq, &L.wk, &L.bk, &L.wv, &L.bv, &L.wo, &L.bo,
                              &L.sinks, &L.ffn_norm, &L.ffn_norm_b, &L.w_gate, &L.b_gate, &L.w_up, &L.b_up,
                              &L.w_down, &L.b_down, &L.router, &L.router_b, &L.exp_gate, &L.exp_gate_b, &L.exp_up,
                              &L.exp_up_b, &L.exp_down, &L.exp_down_b})
            clear(*t);
}

bool WeightBinder::has(TensorRole role, int layer) const {
    return file_.find_tensor(tensor_name(role, layer)) != nullptr;
}

TensorView WeightBinder::bind(TensorRole role, int layer, const uint64_t (&shape)[3], uint32_t n_dims, bool f32_only) {
    const std::string name = tensor_name(role, layer);
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) fail(ORCD_MODEL_LOAD_FAILED, "required tensor '" + name + "' is missing");
    auto bad = [&](const std::string& why) { fail(ORCD_MODEL_LOAD_FAILED, "tensor '" + name + "': " + why); };
    // A vector may be stored as {n} or {n, 1}.
    uint32_t dims = t->n_dims;
    while (dims > n_dims && t->ne[dims - 1] == 1) --dims;
    bool same = dims == n_dims;
    for (uint32_t i = 0; same && i < n_dims; ++i) same = t->ne[i] == shape[i];
    if (!same)
        bad("shape " + dims_text(t->ne, t->n_dims) + ", expected " + dims_text(shape, n_dims));
    if (f32_only && t->type != gguf::TensorType::F32)
        bad(std::string("type ") + gguf::tensor_type_name(t->type) + ", expected F32");
    uint64_t be = 0, bb = 0;
    if (!gguf::tensor_type_layout(uint32_t(t->type), &be, &bb) || t->ne[0] % be != 0)
        bad("row length " + std::to_string(t->ne[0]) + " is not a multiple of the " +
            gguf::tensor_type_name(t->type) + " block");

    uint32_t id = TensorView::kNone;
    for (uint32_t i = 0; i < w_.tensors.size(); ++i)
        if (w_.tensors[i].name == name) id = i;
    if (id == TensorView::kNone) {
        id = uint32_t(w_.tensors.size());
        FileTensor ft;
        ft.name = name;
        ft.type = t->type;
        for (int i = 0; i < 4; ++i) ft.ne[i] = t->ne[i];
        ft.n_bytes = t->n_bytes;
        ft.data = t->data;
        w_.tensors.push_back(std::move(ft));
    }
    TensorView v;
    v.type = t->type;
    v.ne0 = t->ne[0];
    v.ne1 = n_dims >= 2 ? t->ne[1] : 1;
    v.ne2 = n_dims >= 3 ? t->ne[2] : 1;
    v.id = id;
    v.data = t->data;
    v.n_bytes = t->n_bytes;
    return v;
}

TensorView WeightBinder::matrix(TensorRole role, int layer, uint64_t in, uint64_t rows) {
    return bind(role, layer, {in, rows, 1}, 2, false);
}

TensorView WeightBinder::optional_matrix(TensorRole role, int layer, uint64_t in, uint64_t rows) {
    return has(role, layer) ? matrix(role, layer, in, rows) : TensorView{};
}

TensorView WeightBinder::experts(TensorRole role, int layer, uint64_t in, uint64_t rows, uint64_t n_expert) {
    return bind(role, layer, {in, rows, n_expert}, 3, false);
}

TensorView WeightBinder::vector(TensorRole role, int layer, uint64_t n, uint64_t rows) {
    return rows > 1 ? bind(role, layer, {n, rows, 1}, 2, true) : bind(role, layer, {n, 1, 1}, 1, true);
}

TensorView WeightBinder::optional_vector(TensorRole role, int layer, uint64_t n, uint64_t rows) {
    return has(role, layer) ? vector(role, layer, n, rows) : TensorView{};
}

}  // namespace orcd
