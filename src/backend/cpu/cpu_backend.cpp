// The CPU reference backend: the adapter's forward pass over CpuBlockOps,
// on a private copy of the weights (the file can change or vanish after
// load without harm) and an F32 KV cache in the engine's layout.
#include "backend/cpu/cpu_block_ops.h"
#include "backend/cpu/cpu_formats.h"
#include "common/error.h"
#include "engine/backend.h"

#include <cstring>
#include <limits>
#include <memory>
#include <omp.h>
#include <thread>
#include <vector>

namespace orcd {

namespace {

constexpr uint64_t kAlign = 64;

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(int threads) : threads_(threads) {}

    uint32_t kv_elem_bytes() const override { return sizeof(float); }

    void load(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch, const LoadOptions& opt) override {
        const ModelConfig& cfg = adapter.config();
        const ModelWeights& w = adapter.weights();
        w.for_each_view([&](const TensorView& t) {
            if (!cpu::format_of(t.type))
                fail(ORCD_MODEL_LOAD_FAILED, "tensor '" + w.name_of(t) + "' has type " + gguf::tensor_type_name(t.type) +
                                                 ", which the CPU backend does not compute (supported: " +
                                                 cpu::supported_formats() + ")");
        });
        if (kv.elem_bytes != kv_elem_bytes()) fail(ORCD_INTERNAL, "CPU backend: KV layout of another element size");

        // The weights move into memory of our own, so that nothing reads the
        // file mapping after load.
        uint64_t total = 0;
        for (const FileTensor& t : w.tensors) total = (total + kAlign - 1) / kAlign * kAlign + t.n_bytes;
        image_.reset(new uint8_t[total + kAlign]);
        uint8_t* base = image_.get() + (kAlign - reinterpret_cast<uintptr_t>(image_.get()) % kAlign) % kAlign;
        std::vector<const uint8_t*> bases;
        uint64_t off = 0, done = 0;
        int next_pct = 0;
        auto progress = [&](uint64_t bytes) {
            while (opt.progress && next_pct <= 100 && bytes * 100 >= uint64_t(next_pct) * total) {
                opt.progress(next_pct, total * uint64_t(next_pct) / 100, total);
                next_pct += 25;
            }
        };
        progress(0);
        for (const FileTensor& t : w.tensors) {
            off = (off + kAlign - 1) / kAlign * kAlign;
            if (!t.data) fail(ORCD_INTERNAL, "CPU backend: tensor '" + t.name + "' has no host data to copy");
            std::memcpy(base + off, t.data, t.n_bytes);
            bases.push_back(base + off);
            off += t.n_bytes;
            done += t.n_bytes;
            progress(done);
        }
        progress(total);
        weight_bytes_ = w.total_bytes();

        adapter_ = &adapter;
        kv_layout_ = kv;
        max_batch_ = max_batch;
        n_vocab_ = cfg.n_vocab;
        ops_ = std::make_unique<cpu::CpuBlockOps>(cfg, kv, max_batch, std::move(bases));
    }

    void forward(const Batch& batch) override {
        if (!ops_) fail(ORCD_INTERNAL, "CPU backend: forward() before load()");
        check_batch(batch, max_batch_, n_vocab_, kv_layout_);
        enter_compute();
        ops_->begin(batch);
        adapter_->forward(*ops_);
    }

    void read_logits(std::span<float> out) override {
        const std::vector<float>& l = ops_->logits_out();
        if (out.size() < l.size()) fail(ORCD_INTERNAL, "read_logits: buffer too small");
        std::memcpy(out.data(), l.data(), l.size() * sizeof(float));
    }

    void begin_job() override {
#ifndef NDEBUG
        // Debug builds poison the cache so a read past the job's position shows as NaN.
        if (ops_) std::fill(ops_->kv_storage().begin(), ops_->kv_storage().end(), std::numeric_limits<float>::quiet_NaN());
#endif
    }

    MemoryStats memory_stats() const override {
        MemoryStats s;
        s.weights = weight_bytes_;
        s.kv_cache = kv_bytes();
        s.activations = ops_ ? ops_->activation_bytes() : 0;
        return s;
    }
    uint64_t weight_bytes() const override { return weight_bytes_; }
    uint64_t kv_bytes() const override { return kv_layout_.total_bytes(); }

private:
    // An OpenMP thread count belongs to the thread that sets it: the device's
    // constructor set it for the thread that made the device, so
    // --cpu-threads did not reach the engine's thread, whose passes used
    // every core. Set once on each thread that runs a forward pass.
    void enter_compute() {
        if (compute_thread_ == std::this_thread::get_id()) return;
        omp_set_num_threads(threads_);
        compute_thread_ = std::this_thread::get_id();
    }

    int threads_;
    std::thread::id compute_thread_;
    const ModelAdapter* adapter_ = nullptr;
    KvLayout kv_layout_;
    uint32_t max_batch_ = 0;
    uint64_t weight_bytes_ = 0;
    std::unique_ptr<uint8_t[]> image_;
    std::unique_ptr<cpu::CpuBlockOps> ops_;
};

class CpuDevice final : public Device {
public:
    explicit CpuDevice(int threads) : threads_(threads > 0 ? threads : int(std::thread::hardware_concurrency())) {
        if (threads_ < 1) threads_ = 1;
        omp_set_num_threads(threads_);  // this thread's parallel regions (the load's, where it runs here)
    }
    orcd_device_info info() const override {
        orcd_device_info i{};
        i.kind = ORCD_DEVICE_CPU;
        std::snprintf(i.name, sizeof i.name, "cpu");
        i.multiprocessors = threads_;
        return i;
    }
    std::unique_ptr<Backend> create_backend() override { return std::make_unique<CpuBackend>(threads_); }

private:
    int threads_;
};

}  // namespace

std::unique_ptr<Device> make_cpu_device(int threads) { return std::make_unique<CpuDevice>(threads); }

std::string cpu_weight_formats() { return cpu::supported_formats(); }

}  // namespace orcd
