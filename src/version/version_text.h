// The text of `--version`, shared by worker-orcd and worker-orcd-cli. It is
// read off the C API only (orcd_build_commit, orcd_cuda_build_version, the
// registries behind orcd_supported_architectures and
// orcd_supported_weight_formats), so what a binary says it supports is what
// its engine computes. No device is opened.
#pragma once

#include <string>

namespace orcd::version {

// A first line "<program> <version> (commit <commit>, ABI <n>)", then one
// "key: value" line per fact:
//   cuda runtime: 13.0 (13000, compile-time: ...)   or   0 (built without CUDA)
//   architectures: gpt-oss, gpt2, llama, phi3, qwen2
//   weight formats (cpu): F32, F16, ...
//   weight formats (cuda): F32, F16, ...           or   none (built without CUDA)
std::string text(const char* program);

}  // namespace orcd::version
