// The adapter seam, proved from the test tree: a toy architecture
// ("toy-parallel", GPT-J's parallel residual block: attention and FFN both
// read the same normalised input) is registered here, over the same Ops,
// without a line in any backend. A file of that architecture loads through
// the engine's registry and runs on the CPU backend; its logits must equal,
// to the bit, a forward pass written out here with the reference functions.
#include "backend/cpu/cpu_ops.h"
#include "common/test_paths.h"
#include "engine/adapter.h"
#include "engine/engine.h"
#include "engine/tensor_names.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

namespace orcd {
namespace {

constexpr const char* kArch = "toy-parallel";

class ToyParallel final : public ModelAdapter {
public:
    explicit ToyParallel(const gguf::File& f) {
        read_common_hparams(f, cfg_);
        cfg_.rope.mode = RopeMode::Normal;
        cfg_.norm_eps = 1e-5f;
        WeightBinder b(f, w_);
        const uint64_t E = cfg_.n_embd, Q = cfg_.q_dim(), KV = cfg_.kv_dim(), F = cfg_.n_ff;
        w_.tok_embd = b.matrix(TensorRole::TokEmbd, -1, E, cfg_.n_vocab);
        w_.output_norm = b.vector(TensorRole::OutputNorm, -1, E);
        w_.output = b.matrix(TensorRole::Output, -1, E, cfg_.n_vocab);
        w_.layers.resize(cfg_.n_layer);
        for (uint32_t l = 0; l < cfg_.n_layer; ++l) {
            LayerWeights& L = w_.layers[l];
            const int i = int(l);
            L.attn_norm = b.vector(TensorRole::AttnNorm, i, E);
            L.wq = b.matrix(TensorRole::AttnQ, i, E, Q);
            L.wk = b.matrix(TensorRole::AttnK, i, E, KV);
            L.wv = b.matrix(TensorRole::AttnV, i, E, KV);
            L.wo = b.matrix(TensorRole::AttnOut, i, Q, E);
            L.w_gate = b.matrix(TensorRole::FfnGate, i, E, F);
            L.w_up = b.matrix(TensorRole::FfnUp, i, E, F);
            L.w_down = b.matrix(TensorRole::FfnDown, i, F, E);
        }
    }

    void forward(Ops& ops) const override {
        const ModelConfig& c = cfg_;
        ops.embed(w_.tok_embd, w_.pos_embd);
        for (uint32_t l = 0; l < c.n_layer; ++l) {
            const LayerWeights& L = w_.layers[l];
            ops.norm({c.norm, c.norm_eps, L.attn_norm, L.attn_norm_b});
            ops.qkv({L.wq, L.bq}, {L.wk, L.bk}, {L.wv, L.bv});
            ops.rope_store_kv(l, c.rope);
            ops.attention(l, {c.attn_scale, 0, L.sinks});
            ops.out_proj_add({L.wo, L.bo});
            // No second norm: the FFN reads the same h as attention did.
            ops.ffn({c.act, L.w_gate, L.b_gate, L.w_up, L.b_up, L.w_down, L.b_down});
        }
        ops.logits({c.norm, c.norm_eps, w_.output_norm, w_.output_norm_b}, {w_.output, w_.output_b});
    }
};

const AdapterRegistration kToy(kArch, [](const gguf::File& f) -> std::unique_ptr<ModelAdapter> {
    return std::make_unique<ToyParallel>(f);
});

// stories260K with its architecture renamed (and its keys with it).
std::string write_toy_file() {
    const auto src = gguf::File::open(test::stories_model());
    gguf::Writer w;
    for (const gguf::KeyValue& kv : src->metadata()) {
        std::string key(kv.key);
        if (key.rfind("llama.", 0) == 0) key = std::string(kArch) + key.substr(5);
        w.set(key, kv.value);
    }
    w.set_string("general.architecture", kArch);
    std::vector<const gguf::TensorInfo*> data;
    for (const gguf::TensorInfo& t : src->tensors()) {
        w.add_tensor(t.name, t.type, std::vector<uint64_t>(t.ne, t.ne + t.n_dims));
        data.push_back(&t);
    }
    const std::vector<uint8_t> bytes =
        w.to_memory([&](size_t i, uint8_t* dst, uint64_t n) { std::memcpy(dst, data[i]->data, n); });
    const std::string path = test::temp_dir() + "/toy.gguf";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path;
}

const float* f32(const gguf::File& f, TensorRole role, int layer = -1) {
    return reinterpret_cast<const float*>(f.get_tensor(tensor_name(role, layer)).data);
}

TensorView view(const gguf::File& f, TensorRole role, int layer = -1) {
    const gguf::TensorInfo& t = f.get_tensor(tensor_name(role, layer));
    return TensorView::of_host(t.type, t.ne[0], t.ne[1], t.data);
}

// The toy forward pass written out with cpu_ops, one token at a time.
std::vector<float> reference_logits(const std::string& path, const std::vector<int32_t>& prompt) {
    const auto f = gguf::File::open(path);
    ToyParallel a(*f);
    const ModelConfig& c = a.config();
    const uint32_t E = c.n_embd, Q = uint32_t(c.q_dim()), KV = uint32_t(c.kv_dim()), F = c.n_ff;
    const uint32_t n = uint32_t(prompt.size());
    std::vector<float> kc(size_t(c.n_layer) * n * KV), vc(kc.size());
    std::vector<float> x(E), h(E), q(Q), k(KV), v(KV), att(Q), proj(E), g(F), u(F), logits(c.n_vocab);
    for (uint32_t t = 0; t < n; ++t) {
        cpu::get_row(x.data(), view(*f, TensorRole::TokEmbd), uint64_t(prompt[t]));
        for (uint32_t l = 0; l < c.n_layer; ++l) {
            const int L = int(l);
            cpu::rmsnorm(h.data(), x.data(), f32(*f, TensorRole::AttnNorm, L), E, c.norm_eps);
            cpu::matmul(q.data(), h.data(), view(*f, TensorRole::AttnQ, L), 1);
            cpu::matmul(k.data(), h.data(), view(*f, TensorRole::AttnK, L), 1);
            cpu::matmul(v.data(), h.data(), view(*f, TensorRole::AttnV, L), 1);
            cpu::rope(q.data(), c.n_head, c.head_dim, t, c.rope);
            cpu::rope(k.data(), c.n_head_kv, c.head_dim, t, c.rope);
            float* kl = &kc[size_t(l) * n * KV];
            float* vl = &vc[size_t(l) * n * KV];
            std::copy(k.begin(), k.end(), kl + size_t(t) * KV);
            std::copy(v.begin(), v.end(), vl + size_t(t) * KV);
            const cpu::AttentionShape shape{c.n_head, c.n_head_kv, c.head_dim, c.attn_scale, 0, nullptr};
            cpu::attention_row(att.data(), q.data(), kl, vl, t, shape);
            cpu::matmul(proj.data(), att.data(), view(*f, TensorRole::AttnOut, L), 1);
            cpu::add_inplace(x.data(), proj.data(), E);
            cpu::matmul(g.data(), h.data(), view(*f, TensorRole::FfnGate, L), 1);
            cpu::matmul(u.data(), h.data(), view(*f, TensorRole::FfnUp, L), 1);
            cpu::swiglu(g.data(), g.data(), u.data(), F);
            cpu::matmul(proj.data(), g.data(), view(*f, TensorRole::FfnDown, L), 1);
            cpu::add_inplace(x.data(), proj.data(), E);
        }
        cpu::rmsnorm(h.data(), x.data(), f32(*f, TensorRole::OutputNorm), E, c.norm_eps);
        cpu::matmul(logits.data(), h.data(), view(*f, TensorRole::Output), 1);
    }
    return logits;
}

TEST(ToyAdapter, ARegisteredArchitectureRunsOnTheBackendOpsUnchanged) {
    const std::vector<std::string> archs = supported_architectures();
    EXPECT_NE(std::find(archs.begin(), archs.end(), kArch), archs.end());

    const std::string path = write_toy_file();
    auto dev = make_cpu_device(1);
    ModelLoadParams params;
    params.n_ctx = 64;
    auto model = Model::load(*dev, path, params);
    EXPECT_EQ(model->config().architecture, kArch);

    const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 432, 383};
    Backend& be = model->backend();
    be.begin_job();
    be.forward(prompt.data(), uint32_t(prompt.size()), 0);
    std::vector<float> got(model->config().n_vocab);
    be.read_logits(got);

    const std::vector<float> want = reference_logits(path, prompt);
    ASSERT_EQ(got.size(), want.size());
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
    EXPECT_EQ(differ, 0u) << "logits differ from the written-out forward pass";

    // And it is not the llama forward pass in disguise: the same weights as
    // llama (sequential blocks) give other logits.
    auto llama = Model::load(*dev, test::stories_model(), params);
    llama->backend().begin_job();
    llama->backend().forward(prompt.data(), uint32_t(prompt.size()), 0);
    std::vector<float> seq(got.size());
    llama->backend().read_logits(seq);
    EXPECT_NE(std::memcmp(seq.data(), got.data(), got.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace orcd
