// Times a region of device work. On a CUDA backend: two events recorded on
// the backend's stream, so the figure is what the device saw from the start
// mark to the end of the last queued work. Without a stream (the CPU
// backend): the host's steady clock, after the work has returned.
#pragma once

#include <string>

namespace orcd::bench {

class RegionTimer {
public:
    // stream: the backend's cudaStream_t, or nullptr for the host clock.
    // sync_device: with the host clock, wait for the CUDA device before
    // reading the clock (a CUDA backend that does not expose its stream).
    RegionTimer(void* stream, bool sync_device);
    ~RegionTimer();
    RegionTimer(const RegionTimer&) = delete;
    RegionTimer& operator=(const RegionTimer&) = delete;

    void start();
    // Waits for the region to finish; milliseconds since start().
    double stop_ms();
    // "CUDA events on the backend stream" or "host steady clock ...".
    std::string method() const;

private:
    void* stream_;
    bool sync_device_;
    void* ev_start_ = nullptr;  // cudaEvent_t
    void* ev_stop_ = nullptr;
    double host_start_ = 0;
};

// Seconds on the host's steady clock since an arbitrary origin.
double host_seconds();

}  // namespace orcd::bench
