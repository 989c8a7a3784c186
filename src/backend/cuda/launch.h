// The switch of the overlapped kernel launches, and the shared-memory
// carveout every launch asks for (launch.cuh).
#pragma once

namespace orcd::cuda {

// Whether launch() overlaps kernels: on unless ORCD_CUDA_PDL=0 was in the
// environment at the first launch; tests switch it to compare both ways
// (a graph keeps the setting it was captured with).
bool overlap_launches();
void set_overlap_launches(bool on);

// Asks, once per kernel, that the multiprocessors it runs on keep their
// largest shared-memory carveout (launch.cuh says why).
void prefer_max_shared(const void* kernel);

}  // namespace orcd::cuda
