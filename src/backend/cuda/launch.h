// The switch of the overlapped kernel launches (launch.cuh).
#pragma once

namespace orcd::cuda {

// Whether launch() overlaps kernels: on unless ORCD_CUDA_PDL=0 was in the
// environment at the first launch; tests switch it to compare both ways
// (a graph keeps the setting it was captured with).
bool overlap_launches();
void set_overlap_launches(bool on);

}  // namespace orcd::cuda
