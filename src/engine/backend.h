// The backend interface: what the engine needs from a device. The CPU
// reference backend and the CUDA backend implement it; the engine (adapters,
// job walk, tokenizer, stop sequences) is shared.
#pragma once

#include "engine/adapter.h"
#include "engine/kv_cache.h"
#include "engine/logprobs.h"
#include "engine/ops.h"
#include "engine/sampler.h"

#include <orcd/orcd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>
#include <vector>

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

// One model instance on a device: weights, KV cache storage, activations,
// and the Ops (engine/ops.h) the model's adapter runs its forward pass on.
class Backend {
public:
    virtual ~Backend() = default;

    // Bytes per element of this backend's KV cache (F32 on the CPU, F16 on
    // CUDA). The engine writes it into the KvLayout it passes to load(), so
    // the layout's element size is decided here and nowhere else.
    virtual uint32_t kv_elem_bytes() const = 0;

    // Takes the adapter's weights into the backend's own memory (the CPU
    // copies them, CUDA uploads them; nothing reads the file afterwards),
    // checks every tensor's format against its format table (an
    // unsupported type fails naming the tensor and the type), allocates the
    // KV cache of `kv` and activations for batches of up to max_batch
    // tokens. CUDA checks its VRAM budget before allocating
    // (INSUFFICIENT_VRAM). The adapter must outlive the backend.
    virtual void load(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch,
                      const LoadOptions& opt) = 0;

    // Runs the adapter's forward pass over the batch: writes the rows' K/V
    // into the cache and leaves the logits of the last row ready for
    // sample() or read_logits(). batch.size() <= max_batch; positions must
    // fit the context.
    virtual void forward(const Batch& batch) = 0;
    // tokens[0..n) of sequence slot 0 at positions [pos, pos + n).
    void forward(const int32_t* tokens, uint32_t n, uint32_t pos);

    // Copies the last logits (n_vocab floats) to the host.
    virtual void read_logits(std::span<float> out) = 0;

    // The log-probabilities of the last logits (engine/logprobs.h): the
    // chosen token's and, in top, the n most likely. The default reads the
    // logits back and computes them on the host; CUDA computes them on the
    // device. Like read_logits(), it sees the logits sampled from when a
    // step was started ahead.
    virtual TokenLogprob logprobs(int32_t chosen, size_t n, std::vector<TokenLogprob>& top);

    // Samples from the last logits with the engine's pipeline (sampler.h).
    // The default reads the logits back and runs the CPU sampler; the CUDA
    // backend samples on the device with the same RNG stream.
    virtual int32_t sample(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                           uint64_t step);
    // sample(), with the caller's word that, unless the token ends the job,
    // its next call is forward() of that one token at position next_pos.
    // A backend may start that decode step before the token reaches the
    // host (CUDA: behind the sampling on the device, so that the device
    // does not wait for the host's round trip); forward() then finds it
    // started. Whatever is called instead sees what it would have seen
    // without the word (read_logits() the logits sampled from). The
    // default samples only.
    virtual int32_t sample_then_step(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                                     uint64_t step, uint32_t next_pos) {
        (void)next_pos;
        return sample(cfg, history, seed, step);
    }

    // A job begins: per-job state is set up (CUDA: the sampler's history
    // buffer); debug builds poison the KV cache so that a read past the
    // job's positions shows as NaN.
    virtual void begin_job() {}
    // A job ends (normally or not): releases per-job memory so the tracked
    // bytes return to the post-load baseline between jobs.
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
    // Checks a batch against the loaded shape: size, token ids, slots and
    // positions (INTERNAL for a caller's bug, INVALID_REQUEST when the
    // positions run past the context).
    void check_batch(const Batch& batch, uint32_t max_batch, uint32_t n_vocab, const KvLayout& kv) const;

    std::vector<float> logits_host_;  // scratch for the default sample() and logprobs()
    uint32_t n_vocab_ = 0;

private:
    // The last logits read back into logits_host_.
    std::span<const float> host_logits();
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

// The weight formats each backend's format table computes ("F32, F16, ..."),
// read off the tables themselves; "" for CUDA in a build without it.
std::string cpu_weight_formats();
std::string cuda_weight_formats();

}  // namespace orcd
