// The switch of the overlapped kernel launches (launch.cuh).
#pragma once

namespace orcd::cuda {

// Whether launch() overlaps kernels: on unless ORCD_CUDA_PDL=0 was in the
// environment at the first launch; tests switch it to compare both ways
// (a graph keeps the setting it was captured with).
bool overlap_launches();
void set_overlap_launches(bool on);

// While one is alive on a thread and `on`, that thread's launches are serial
// whatever the switch says. The backend holds one around the launches of a
// model with experts: overlapped, the next kernel's blocks sit resident
// beside the expert products, which load into registers and need every warp
// slot; measured on GPT-OSS-20B decode, serial launches are 4.5% faster
// (bench/NOTES.md, 14).
class SerialLaunches {
public:
    explicit SerialLaunches(bool on);
    ~SerialLaunches();
    SerialLaunches(const SerialLaunches&) = delete;
    SerialLaunches& operator=(const SerialLaunches&) = delete;

private:
    bool was_;
};

}  // namespace orcd::cuda
