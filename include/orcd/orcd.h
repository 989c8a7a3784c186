/*
 * orcd.h: the C API of worker-orcd, the FFI boundary between the engine and
 * everything that drives it (the HTTP server, the CLI, other languages).
 *
 * Rules of this header:
 *   - Plain C99. No C++ types and no exceptions cross it.
 *   - Handles are opaque. Whoever creates a handle frees it with the matching
 *     *_free/close function; passing NULL to a free function is a no-op.
 *   - Every function that can fail returns an orcd_status (0 = ORCD_OK).
 *     orcd_error_message(code) gives a fixed description of the code, and
 *     orcd_last_error_detail() the detail of the last failure on the calling
 *     thread (thread-local; valid until the next failing call on that thread).
 *   - Parameter structs are initialised with their *_default_params()
 *     function, then changed field by field, so new fields can be appended
 *     without breaking callers that were compiled against an older header.
 *
 * Thread safety: a device, model and job are used from one thread at a time,
 * except orcd_job_cancel(), which may be called from any thread while another
 * thread is inside orcd_job_next(), and the orcd_error_* functions, which are
 * always safe.
 *
 * ABI: ORCD_ABI_VERSION is bumped whenever an exported symbol or a struct
 * layout changes; tests/c_api/abi_manifest.txt records the current ones.
 * How it moves without breaking callers:
 *   - new functions are added, existing ones keep their signature and
 *     meaning (a parameter may only widen, as orcd_tokenize's add_bos
 *     became flags with 1 meaning what it meant);
 *   - parameter structs only grow at the end, and callers get them from
 *     *_default_params(), so an older caller's fields keep their offsets;
 *   - structs returned by value (orcd_model_info) are frozen: what a model
 *     gains (new architectures' hyper-parameters, metadata) is read through
 *     accessors (orcd_model_meta_*, orcd_model_architecture, ...), never by
 *     growing such a struct.
 * A release that must break one of these rules bumps ORCD_VERSION_MAJOR.
 */
#ifndef ORCD_ORCD_H
#define ORCD_ORCD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ORCD_API __attribute__((visibility("default")))
#else
#define ORCD_API
#endif

#define ORCD_VERSION_MAJOR 0
#define ORCD_VERSION_MINOR 1
#define ORCD_VERSION_PATCH 0
/* Bumped on every change of an exported symbol or struct layout. */
#define ORCD_ABI_VERSION 2

/* ---- Versions ---------------------------------------------------------- */

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
ORCD_API const char* orcd_version_string(void);
/* ORCD_ABI_VERSION of the library actually linked; compare with the macro. */
ORCD_API int orcd_abi_version(void);
/* The short git commit the library was built from ("-dirty" appended when
 * the tree had uncommitted changes), or "unknown" when built without git. */
ORCD_API const char* orcd_build_commit(void);
/* The CUDA runtime version this library was compiled against (CUDART_VERSION,
 * e.g. 13000 for CUDA 13.0; 0 in a build without CUDA). Known without opening
 * a device; the runtime and driver a device actually runs with are in
 * orcd_device_info once it is open. (ABI 2) */
ORCD_API int32_t orcd_cuda_build_version(void);

/* ---- Errors ------------------------------------------------------------ */

/* The one error table of worker-orcd (docs/errors.md maps each code to HTTP
 * statuses and SSE events). Values are stable: never renumber. */
typedef enum orcd_status {
    ORCD_OK = 0,
    ORCD_INVALID_REQUEST = 1,    /* bad argument or request; not retriable   */
    ORCD_BUSY = 2,               /* another job runs / draining; retriable   */
    ORCD_MODEL_LOAD_FAILED = 3,  /* file missing, malformed, unsupported     */
    ORCD_INSUFFICIENT_VRAM = 4,  /* model + KV cache do not fit at load      */
    ORCD_VRAM_OOM = 5,           /* a device allocation failed during a job  */
    ORCD_CUDA_ERROR = 6,         /* CUDA failure / device lost / not resident*/
    ORCD_INFERENCE_TIMEOUT = 7,  /* job ran past its deadline                */
    ORCD_CANCELLED = 8,          /* job cancelled by orcd_job_cancel()       */
    ORCD_INTERNAL = 9            /* a bug: invariant broken                  */
} orcd_status;

#define ORCD_STATUS_COUNT 10

/* Fixed, human-readable description of a code; never NULL (unknown codes get
 * "unknown error code"). */
ORCD_API const char* orcd_error_message(int code);
/* The code's stable name as used on the wire, e.g. "VRAM_OOM"; never NULL. */
ORCD_API const char* orcd_error_name(int code);
/* 1 when another attempt (possibly on another worker) may succeed. */
ORCD_API int orcd_error_retriable(int code);
/* Detail of the last failure on the calling thread ("" when none). */
ORCD_API const char* orcd_last_error_detail(void);

/* ---- Device (backend context) ------------------------------------------ */

typedef struct orcd_device orcd_device;

typedef enum orcd_device_kind {
    ORCD_DEVICE_CPU = 0,   /* reference backend, host memory */
    ORCD_DEVICE_CUDA = 1   /* production backend, VRAM only   */
} orcd_device_kind;

typedef struct orcd_device_params {
    orcd_device_kind kind;  /* default ORCD_DEVICE_CUDA */
    int32_t gpu_index;      /* CUDA device ordinal; default 0 */
    int32_t cpu_threads;    /* CPU backend threads; 0 = all cores (default) */
} orcd_device_params;

typedef struct orcd_device_info {
    orcd_device_kind kind;
    char name[128];              /* GPU name, or "cpu" */
    int32_t sm_major;            /* compute capability; 0 on CPU */
    int32_t sm_minor;
    int32_t multiprocessors;     /* SMs; CPU threads on CPU */
    uint64_t total_memory_bytes; /* device memory; 0 on CPU */
    uint64_t free_memory_bytes;  /* at the time of the call; 0 on CPU */
    int32_t cuda_runtime_version;/* e.g. 13000; 0 on CPU */
    int32_t cuda_driver_version; /* e.g. 13000; 0 on CPU */
} orcd_device_info;

ORCD_API orcd_device_params orcd_device_default_params(void);
/* Opens the backend. CUDA: selects and validates gpu_index (out of range ->
 * ORCD_CUDA_ERROR), creates the context and streams. A build without CUDA
 * answers ORCD_CUDA_ERROR for ORCD_DEVICE_CUDA. */
ORCD_API orcd_status orcd_device_open(const orcd_device_params* params, orcd_device** out);
ORCD_API void orcd_device_close(orcd_device* device);
ORCD_API orcd_status orcd_device_get_info(const orcd_device* device, orcd_device_info* out);

/* ---- Model ------------------------------------------------------------- */

typedef struct orcd_model orcd_model;

/* Called during load with percent in {0, 25, 50, 75, 100}, each once. */
typedef void (*orcd_progress_fn)(void* user, int32_t percent,
                                 uint64_t bytes_done, uint64_t bytes_total);

/* The most KV cache positions a model may be loaded with (n_ctx, or the
 * model's own context length when n_ctx is 0). */
#define ORCD_MAX_CONTEXT (1u << 20)

typedef struct orcd_model_params {
    uint32_t n_ctx;             /* KV cache positions; 0 = model's context (default) */
    uint64_t load_chunk_bytes;  /* staging chunk for host->device copies; default 16 MiB */
    orcd_progress_fn progress;  /* optional */
    void* progress_user;
} orcd_model_params;

typedef struct orcd_model_info {
    char architecture[32];      /* GGUF general.architecture, e.g. "llama" */
    char name[128];             /* general.name, or the file's base name   */
    char quant_kind[16];        /* dominant weight type: "F32", "F16", ... */
    char tokenizer_kind[16];    /* "spm" (SentencePiece) or "bpe"          */
    uint32_t vocab_size;
    uint32_t context_length;    /* configured KV positions (n_ctx)         */
    uint32_t train_context_length; /* the model's own context length       */
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff;
    int32_t bos_token, eos_token;
    uint64_t weight_bytes;      /* bytes of weights resident on the device */
    uint64_t kv_cache_bytes;    /* bytes of the KV cache                   */
    uint64_t bytes_resident;    /* everything the model holds on the device*/
    double load_seconds;
    double load_gbps;           /* weight bytes / load seconds, GB/s       */
} orcd_model_info;

ORCD_API orcd_model_params orcd_model_default_params(void);
/* Loads a GGUF file onto the device. Failures: ORCD_MODEL_LOAD_FAILED
 * (missing/unreadable/malformed file, unsupported architecture; the detail
 * names the cause), ORCD_INSUFFICIENT_VRAM (detail carries bytes needed and
 * free), ORCD_CUDA_ERROR. The device must outlive the model. */
ORCD_API orcd_status orcd_model_load(orcd_device* device, const char* path,
                                     const orcd_model_params* params, orcd_model** out);
ORCD_API void orcd_model_free(orcd_model* model);
ORCD_API orcd_status orcd_model_get_info(const orcd_model* model, orcd_model_info* out);
/* Checks that every device allocation the model holds is device memory on
 * the model's device (CUDA pointer attributes). *resident = 1 when it is;
 * always 1 on CPU. A failed check returns ORCD_OK with *resident = 0. */
ORCD_API orcd_status orcd_model_check_residency(orcd_model* model, int32_t* resident);
/* Bytes currently held on the device by all tracked allocations of this
 * model's device, and a per-category breakdown (weights, kv_cache,
 * activations, workspace, sampling). NULL outputs are skipped. */
typedef struct orcd_memory_stats {
    uint64_t total_bytes;
    uint64_t weights_bytes, kv_cache_bytes, activations_bytes, workspace_bytes, sampling_bytes;
    uint64_t device_free_bytes;   /* cudaMemGetInfo free; 0 on CPU */
    uint64_t device_total_bytes;  /* cudaMemGetInfo total; 0 on CPU */
} orcd_memory_stats;
ORCD_API orcd_status orcd_model_memory_stats(const orcd_model* model, orcd_memory_stats* out);

/* ---- Model metadata and what this build computes ------------------------ */

/* The model's GGUF general.architecture ("llama", "qwen2", ...) and weight
 * format (general.file_type's name: "Q4_K_M", "F16", "MXFP4", ...; the type
 * holding most matrix bytes when the file does not say). Valid while the
 * model lives; "" for NULL. */
ORCD_API const char* orcd_model_architecture(const orcd_model* model);
ORCD_API const char* orcd_model_weight_format(const orcd_model* model);
/* GGUF metadata of the loaded model, by key: *text is the value as text
 * (strings as stored, numbers in decimal, booleans true/false, arrays as
 * "array[N]"), valid while the model lives; *text = NULL and *len = 0 when
 * the file has no such key. */
ORCD_API orcd_status orcd_model_meta_str(const orcd_model* model, const char* key, const char** text, size_t* len);
/* Number of metadata keys, and the key of index i (0 <= i < count, sorted);
 * NULL when i is out of range. */
ORCD_API size_t orcd_model_meta_count(const orcd_model* model);
ORCD_API const char* orcd_model_meta_key(const orcd_model* model, size_t i);
/* Comma-separated lists read off this build's registries: the architectures
 * the engine has adapters for, and the weight formats the backend of `kind`
 * computes ("" for CUDA in a build without it). Static strings. */
ORCD_API const char* orcd_supported_architectures(void);
ORCD_API const char* orcd_supported_weight_formats(orcd_device_kind kind);

/* ---- Tokenizer --------------------------------------------------------- */

/* A vocabulary: the tokenizer of a GGUF file without its weights. Loaded on
 * its own from any GGUF file with tokenizer.ggml.* keys (a vocabulary-only
 * file or a whole model; only the metadata is read, no device is needed),
 * or borrowed from a loaded model. It keeps no reference to the file. */
typedef struct orcd_vocab orcd_vocab;

typedef struct orcd_vocab_info {
    char kind[16];              /* "spm" (SentencePiece) or "bpe" (byte-level BPE) */
    char pre[32];               /* BPE pre-tokenizer (tokenizer.ggml.pre); "" for spm */
    uint32_t n_tokens;
    int32_t bos_token, eos_token; /* -1 when the vocabulary has none      */
    int32_t add_bos;            /* 1 when ORCD_TOKENIZE_ADD_BOS prepends BOS */
} orcd_vocab_info;

/* Reads the vocabulary of a GGUF file. ORCD_MODEL_LOAD_FAILED for a missing
 * or malformed file or an unsupported tokenizer (the detail names it). */
ORCD_API orcd_status orcd_vocab_load(const char* path, orcd_vocab** out);
/* Frees a vocabulary from orcd_vocab_load (NULL is a no-op). Never pass the
 * model's vocabulary from orcd_model_vocab(). */
ORCD_API void orcd_vocab_free(orcd_vocab* vocab);
/* The model's own vocabulary, owned by the model and valid while it lives;
 * NULL for a NULL model. */
ORCD_API const orcd_vocab* orcd_model_vocab(const orcd_model* model);
ORCD_API orcd_status orcd_vocab_get_info(const orcd_vocab* vocab, orcd_vocab_info* out);

/* Flags of orcd_tokenize, combined with |. */
/* Prepend BOS when the vocabulary asks for it
 * (tokenizer.ggml.add_bos_token; default true for SentencePiece, false for
 * byte-level BPE except Llama 3's), and append EOS where it asks for that
 * (tokenizer.ggml.add_eos_token, rare). */
#define ORCD_TOKENIZE_ADD_BOS 1
/* Match control tokens written in the text (e.g. "<|im_start|>"), longest
 * first. Without it no text ever becomes a control token: what a user typed
 * is encoded as text. User-defined tokens are matched either way. */
#define ORCD_TOKENIZE_PARSE_SPECIAL 2

/* Encodes UTF-8 text. flags: ORCD_TOKENIZE_* bits (0 = plain text, no BOS;
 * callers of ABI 1 that passed add_bos = 1 keep their meaning); any other bit
 * is ORCD_INVALID_REQUEST. Writes at most cap ids; *n_out receives the full
 * count, so a call with cap = 0 measures. Returns ORCD_INVALID_REQUEST when
 * cap is too small. */
ORCD_API orcd_status orcd_vocab_tokenize(const orcd_vocab* vocab, const char* text, size_t text_len,
                                         int32_t flags, int32_t* out, size_t cap, size_t* n_out);
/* Decodes ids to UTF-8 (control tokens render as nothing; invalid UTF-8
 * becomes U+FFFD). Same sizing contract as orcd_vocab_tokenize, in bytes; no
 * terminating NUL is written. ORCD_INVALID_REQUEST for an id outside the
 * vocabulary. */
ORCD_API orcd_status orcd_vocab_detokenize(const orcd_vocab* vocab, const int32_t* ids, size_t n_ids,
                                           char* out, size_t cap, size_t* n_out);
/* orcd_vocab_tokenize / orcd_vocab_detokenize on the model's vocabulary. */
ORCD_API orcd_status orcd_tokenize(const orcd_model* model, const char* text, size_t text_len,
                                   int32_t flags, int32_t* out, size_t cap, size_t* n_out);

/* One piece of a text given to orcd_tokenize_segments. */
typedef struct orcd_text_segment {
    const char* text;
    size_t len;
    int32_t parse_special;  /* 1: control tokens written here are matched (a
                               chat template's markup); 0: plain text (message
                               content) */
} orcd_text_segment;

/* Encodes the segments' concatenation as one text, matching control tokens
 * only inside segments with parse_special = 1: how a rendered chat template is
 * tokenized, its markup parsed and the users' text never. Unlike tokenizing
 * each segment alone, text running across segments is encoded as one (e.g.
 * SentencePiece adds its leading space once, not per segment). flags:
 * ORCD_TOKENIZE_ADD_BOS or 0. Same sizing contract as orcd_tokenize. */
ORCD_API orcd_status orcd_tokenize_segments(const orcd_model* model, const orcd_text_segment* segments, size_t n,
                                            int32_t flags, int32_t* out, size_t cap, size_t* n_out);
ORCD_API orcd_status orcd_detokenize(const orcd_model* model, const int32_t* ids, size_t n_ids,
                                     char* out, size_t cap, size_t* n_out);

/* The vocabulary's text of one token as the GGUF stores it (e.g. "<s>",
 * "<|im_start|>", "\xe2\x96\x81the"): what a chat template calls bos_token.
 * Same sizing contract as orcd_detokenize. */
ORCD_API orcd_status orcd_token_text(const orcd_model* model, int32_t id, char* out, size_t cap, size_t* n_out);
/* The bytes one token decodes to (control tokens: none). May be part of a
 * UTF-8 character. Same sizing contract as orcd_detokenize. */
ORCD_API orcd_status orcd_token_piece(const orcd_model* model, int32_t id, char* out, size_t cap, size_t* n_out);

/* ---- Jobs -------------------------------------------------------------- */

typedef struct orcd_job orcd_job;

#define ORCD_MAX_STOP_SEQUENCES 4
#define ORCD_MAX_TOP_LOGPROBS 20

typedef struct orcd_job_params {
    uint32_t max_tokens;          /* default 2048; >= 1                      */
    float temperature;            /* default 1.0; 0 (or < 1e-5) = greedy     */
    float top_p;                  /* default 1.0 (off); 0 keeps the best only*/
    int32_t top_k;                /* default 0 (off)                         */
    float min_p;                  /* default 0 (off)                         */
    float repetition_penalty;     /* default 1.0 (off); must be > 0          */
    int32_t repetition_last_n;    /* default 64; 0 = whole history           */
    uint64_t seed;                /* used when has_seed is 1                 */
    int32_t has_seed;             /* default 0: a seed is generated          */
    const char* const* stop;      /* up to ORCD_MAX_STOP_SEQUENCES strings   */
    size_t n_stop;
    double timeout_seconds;       /* default 0 = none; else INFERENCE_TIMEOUT*/
    int32_t parse_special;        /* default 0: the prompt is plain text; 1 =
                                     control tokens in it are matched, as
                                     ORCD_TOKENIZE_PARSE_SPECIAL (ABI 2)      */
    float presence_penalty;       /* default 0 (off); -2..2, OpenAI's rule  */
    float frequency_penalty;      /* default 0 (off); -2..2                  */
    int32_t logprobs;             /* default 0; 1 keeps each step's chosen-
                                     token log-probability (read back with
                                     orcd_job_last_logprobs)                 */
    int32_t top_logprobs;         /* default 0; with logprobs, also the N most
                                     likely tokens, N <= ORCD_MAX_TOP_LOGPROBS*/
} orcd_job_params;

/* A token and its log-probability: log-softmax of the model's raw logits
 * (before penalties, temperature and filters). */
typedef struct orcd_token_logprob {
    int32_t token;
    float logprob;
} orcd_token_logprob;

typedef enum orcd_stop_reason {
    ORCD_STOP_NONE = 0,           /* still running, or ended by an error */
    ORCD_STOP_MAX_TOKENS = 1,
    ORCD_STOP_EOS = 2,
    ORCD_STOP_SEQUENCE = 3
} orcd_stop_reason;

/* One step of a job's stream. text points into the job and stays valid
 * until the next orcd_job_next() or orcd_job_free(); it is always complete
 * UTF-8 (never a split character) and may be empty when the step's token
 * produced no printable text yet (held back for UTF-8 or a stop sequence). */
typedef struct orcd_job_event {
    int32_t token;                /* the sampled id; -1 on the final event   */
    uint32_t index;               /* 0-based index of the generated token    */
    const char* text;
    size_t text_len;
    int32_t done;                 /* 1 on the last event of the job          */
    orcd_stop_reason stop_reason; /* set when done                           */
} orcd_job_event;

typedef struct orcd_job_stats {
    uint64_t seed;                /* the seed in use (given or generated)    */
    uint32_t prompt_tokens;
    uint32_t tokens_out;
    orcd_stop_reason stop_reason;
    int32_t stop_sequence_index;  /* which stop string matched, else -1      */
    double prefill_ms;
    double decode_ms;
    double time_to_first_token_ms;/* from job creation to the first token    */
    uint64_t final_logits_hash;   /* FNV-1a of the last logits' bytes        */
} orcd_job_stats;

ORCD_API orcd_job_params orcd_job_default_params(void);
/* Validates params, tokenizes the prompt (BOS added when the model's
 * tokenizer asks for it; control tokens only with parse_special) and checks capacity:
 * prompt tokens + max_tokens must fit the context (ORCD_INVALID_REQUEST
 * otherwise, before any work). One job per model at a time: a second live
 * job answers ORCD_BUSY. Prefill runs in the first orcd_job_next(). */
ORCD_API orcd_status orcd_job_create(orcd_model* model, const char* prompt, size_t prompt_len,
                                     const orcd_job_params* params, orcd_job** out);
/* As orcd_job_create, from prompt ids the caller tokenized (e.g. a chat
 * template rendered and tokenized segment by segment); nothing is added to
 * them (no BOS). ids outside the vocabulary or an empty prompt answer
 * ORCD_INVALID_REQUEST. The ids are copied. */
ORCD_API orcd_status orcd_job_create_tokens(orcd_model* model, const int32_t* ids, size_t n_ids,
                                            const orcd_job_params* params, orcd_job** out);
/* Runs one step: the first call prefills and samples the first token, later
 * calls decode one token each. On ORCD_OK, *event describes the step; after
 * an event with done = 1 further calls return ORCD_INVALID_REQUEST. Any other
 * status ends the job (CANCELLED, INFERENCE_TIMEOUT, VRAM_OOM, CUDA_ERROR,
 * INTERNAL); the detail string says more. */
ORCD_API orcd_status orcd_job_next(orcd_job* job, orcd_job_event* event);
/* Asks the job to stop; thread-safe and idempotent. The next orcd_job_next()
 * (or the one in progress, at its next token or prefill chunk boundary)
 * returns ORCD_CANCELLED. */
ORCD_API void orcd_job_cancel(orcd_job* job);
ORCD_API orcd_status orcd_job_get_stats(const orcd_job* job, orcd_job_stats* out);
/* Frees the job and releases the model for the next one. */
ORCD_API void orcd_job_free(orcd_job* job);

/* Copies the logits of the job's latest step (vocab_size floats) for tests
 * and tools comparing backends. */
ORCD_API orcd_status orcd_job_last_logits(const orcd_job* job, float* out, size_t cap);

/* The log-probabilities of the job's latest step (params.logprobs = 1): the
 * sampled token's in *chosen and, in top[0..*n_top), the top_logprobs most
 * likely tokens, best first (ties: lowest id first). cap is top's capacity;
 * *n_top receives the full count, and a cap smaller than it answers
 * ORCD_INVALID_REQUEST. ORCD_INVALID_REQUEST also when the job was created
 * without logprobs or has not run a step. */
ORCD_API orcd_status orcd_job_last_logprobs(const orcd_job* job, orcd_token_logprob* chosen,
                                            orcd_token_logprob* top, size_t cap, size_t* n_top);

#ifdef __cplusplus
}
#endif

#endif /* ORCD_ORCD_H */
