/* Prints the ABI of include/orcd/orcd.h: the ABI version, the size and every
 * field offset of each public struct, and the values of the enums. The ABI
 * test compares this (plus the exported symbols) with abi_manifest.txt. */
#include <orcd/orcd.h>

#include <stddef.h>
#include <stdio.h>

#define STRUCT(s) printf("struct %s size=%zu\n", #s, sizeof(s))
#define FIELD(s, f) printf("  %s.%s offset=%zu size=%zu\n", #s, #f, offsetof(s, f), sizeof(((s*)0)->f))
#define ENUM(e) printf("enum %s=%d\n", #e, (int)(e))

int main(void) {
    printf("abi_version=%d\n", ORCD_ABI_VERSION);
    ENUM(ORCD_OK); ENUM(ORCD_INVALID_REQUEST); ENUM(ORCD_BUSY); ENUM(ORCD_MODEL_LOAD_FAILED);
    ENUM(ORCD_INSUFFICIENT_VRAM); ENUM(ORCD_VRAM_OOM); ENUM(ORCD_CUDA_ERROR); ENUM(ORCD_INFERENCE_TIMEOUT);
    ENUM(ORCD_CANCELLED); ENUM(ORCD_INTERNAL); ENUM(ORCD_STATUS_COUNT);
    ENUM(ORCD_DEVICE_CPU); ENUM(ORCD_DEVICE_CUDA);
    ENUM(ORCD_STOP_NONE); ENUM(ORCD_STOP_MAX_TOKENS); ENUM(ORCD_STOP_EOS); ENUM(ORCD_STOP_SEQUENCE);
    ENUM(ORCD_MAX_STOP_SEQUENCES);
    ENUM(ORCD_TOKENIZE_ADD_BOS); ENUM(ORCD_TOKENIZE_PARSE_SPECIAL);

    STRUCT(orcd_device_params);
    FIELD(orcd_device_params, kind); FIELD(orcd_device_params, gpu_index); FIELD(orcd_device_params, cpu_threads);
    STRUCT(orcd_device_info);
    FIELD(orcd_device_info, kind); FIELD(orcd_device_info, name); FIELD(orcd_device_info, sm_major);
    FIELD(orcd_device_info, sm_minor); FIELD(orcd_device_info, multiprocessors);
    FIELD(orcd_device_info, total_memory_bytes); FIELD(orcd_device_info, free_memory_bytes);
    FIELD(orcd_device_info, cuda_runtime_version); FIELD(orcd_device_info, cuda_driver_version);
    STRUCT(orcd_model_params);
    FIELD(orcd_model_params, n_ctx); FIELD(orcd_model_params, load_chunk_bytes); FIELD(orcd_model_params, progress);
    FIELD(orcd_model_params, progress_user);
    STRUCT(orcd_model_info);
    FIELD(orcd_model_info, architecture); FIELD(orcd_model_info, name); FIELD(orcd_model_info, quant_kind);
    FIELD(orcd_model_info, tokenizer_kind); FIELD(orcd_model_info, vocab_size); FIELD(orcd_model_info, context_length);
    FIELD(orcd_model_info, train_context_length); FIELD(orcd_model_info, n_layer); FIELD(orcd_model_info, n_embd);
    FIELD(orcd_model_info, n_head); FIELD(orcd_model_info, n_head_kv); FIELD(orcd_model_info, n_ff);
    FIELD(orcd_model_info, bos_token); FIELD(orcd_model_info, eos_token); FIELD(orcd_model_info, weight_bytes);
    FIELD(orcd_model_info, kv_cache_bytes); FIELD(orcd_model_info, bytes_resident); FIELD(orcd_model_info, load_seconds);
    FIELD(orcd_model_info, load_gbps);
    STRUCT(orcd_memory_stats);
    FIELD(orcd_memory_stats, total_bytes); FIELD(orcd_memory_stats, weights_bytes); FIELD(orcd_memory_stats, kv_cache_bytes);
    FIELD(orcd_memory_stats, activations_bytes); FIELD(orcd_memory_stats, workspace_bytes);
    FIELD(orcd_memory_stats, sampling_bytes); FIELD(orcd_memory_stats, device_free_bytes);
    FIELD(orcd_memory_stats, device_total_bytes);
    STRUCT(orcd_vocab_info);
    FIELD(orcd_vocab_info, kind); FIELD(orcd_vocab_info, pre); FIELD(orcd_vocab_info, n_tokens);
    FIELD(orcd_vocab_info, bos_token); FIELD(orcd_vocab_info, eos_token); FIELD(orcd_vocab_info, add_bos);
    STRUCT(orcd_job_params);
    FIELD(orcd_job_params, max_tokens); FIELD(orcd_job_params, temperature); FIELD(orcd_job_params, top_p);
    FIELD(orcd_job_params, top_k); FIELD(orcd_job_params, min_p); FIELD(orcd_job_params, repetition_penalty);
    FIELD(orcd_job_params, repetition_last_n); FIELD(orcd_job_params, seed); FIELD(orcd_job_params, has_seed);
    FIELD(orcd_job_params, stop); FIELD(orcd_job_params, n_stop); FIELD(orcd_job_params, timeout_seconds);
    FIELD(orcd_job_params, parse_special);
    STRUCT(orcd_job_event);
    FIELD(orcd_job_event, token); FIELD(orcd_job_event, index); FIELD(orcd_job_event, text);
    FIELD(orcd_job_event, text_len); FIELD(orcd_job_event, done); FIELD(orcd_job_event, stop_reason);
    STRUCT(orcd_job_stats);
    FIELD(orcd_job_stats, seed); FIELD(orcd_job_stats, prompt_tokens); FIELD(orcd_job_stats, tokens_out);
    FIELD(orcd_job_stats, stop_reason); FIELD(orcd_job_stats, stop_sequence_index); FIELD(orcd_job_stats, prefill_ms);
    FIELD(orcd_job_stats, decode_ms); FIELD(orcd_job_stats, time_to_first_token_ms);
    FIELD(orcd_job_stats, final_logits_hash);
    return 0;
}
