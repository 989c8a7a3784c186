// The backend interface: what the engine needs from a device. The CPU
// reference backend and the CUDA backend implement it; the engine (job walk,
// tokenizer, stop sequences) is shared.
#pragma once

#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "engine/sampler.h"
#include "engine/weights.h"

#include <orcd/orcd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace orcd {

struct LoadOptions {
    uint64_t chunk_bytes = 16ull << 20;  // host->device staging chunk
    // Called with percent 0, 25, 50, 75, 100 (each once) while weights load.
    std::function<void(int percent, uint64_t done, uint64_t total)> progress;
};

// Memory a backend holds, by category (the VRAM tracker's categories).
struct MemoryStats {
    uint64_t weights = 0, kv_cache = 0, activations = 0, workspace = 0, sampling = 0;
    uint64_t device_free = 0, device_total = 0;
    uint64_t total() const { return weights + kv_cache + activations + workspace + sampling; }
};

// One model instance on a device: weights, KV cache storage, activations.
class Backend {
public:
    virtual ~Backend() = default;

    // Uploads (or binds) the weights, allocates the KV cache of `kv` and
    // activations for prefill batches of up to max_batch tokens. CUDA checks
    // its VRAM budget before allocating (INSUFFICIENT_VRAM).
    virtual void load(const ModelConfig& cfg, const ModelWeights& w, const KvLayout& kv,
                      uint32_t max_batch, const LoadOptions& opt) = 0;

    // Runs tokens[0..n) at positions [pos, pos + n): writes their K/V into
    // the cache and leaves the logits of the last token ready for sample()
    // or read_logits(). n <= max_batch; n == 1 is a decode step.
    virtual void forward(const int32_t* tokens, uint32_t n, uint32_t pos) = 0;

    // Copies the last logits (n_vocab floats) to the host.
    virtual void read_logits(std::span<float> out) = 0;

    // Samples from the last logits with the engine's pipeline (sampler.h).
    // The default reads the logits back and runs the CPU sampler; the CUDA
    // backend samples on the device with the same RNG stream.
    virtual int32_t sample(const SamplingConfig& cfg, std::span<const int32_t> history,
                           uint64_t seed, uint64_t step);

    // Called at the start of each job. Debug builds poison the cache.
    virtual void reset_kv() {}
    // Called when a job ends (normally or not): releases per-job memory so the
    // tracked bytes return to the post-load baseline between jobs.
    virtual void end_job() {}

    // Every device allocation is device memory on our device (CPU: true).
    virtual bool check_residency() { return true; }
    virtual MemoryStats memory_stats() const = 0;
    // Bytes of weights held (for model info).
    virtual uint64_t weight_bytes() const = 0;
    virtual uint64_t kv_bytes() const = 0;

    // The device stream the backend's work runs on (cudaStream_t on CUDA),
    // so benchmarks can bracket it with device events; nullptr on the CPU.
    virtual void* native_stream() const { return nullptr; }

protected:
    std::vector<float> logits_host_;  // scratch for the default sample()
    uint32_t n_vocab_ = 0;
};

// A device: creates backends (one per loaded model) and describes itself.
class Device {
public:
    virtual ~Device() = default;
    virtual orcd_device_info info() const = 0;
    virtual std::unique_ptr<Backend> create_backend() = 0;
};

std::unique_ptr<Device> make_cpu_device(int threads);
// Defined by the CUDA backend; in a build without CUDA it throws CUDA_ERROR
// ("built without CUDA support").
std::unique_ptr<Device> make_cuda_device(int gpu_index);

}  // namespace orcd
