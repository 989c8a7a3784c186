// Test-only fault injection: makes the next device allocation, kernel
// launch, file read or tokenizer call fail, to prove the error paths that
// cannot be provoked from outside.
//
// It exists only when the build defines ORCD_FAULT_INJECTION (the default
// and test presets); in a release build should_fail() is a constant false
// that the compiler removes, and no environment variable or call reaches it.
//
// Arming: the environment variable ORCD_FAULT_INJECT holds a comma-separated
// list of `point[@N]`, `point@jobN` or `point@everyN`: fail the N-th event at
// that point counted from process start (N defaults to 1), or counted from
// the start of the first job (so a failure can be aimed past start-up), or
// every N-th event from the start of the first job on (a long run that
// keeps meeting failures, e.g. a soak). Points:
//   device_alloc      any tracked device allocation
//   job_alloc         a device allocation made while a job runs
//   kernel_launch     a CUDA kernel launch check
//   file_read         reading the model file
//   tokenizer         encoding a prompt
//   residency         a residency check; from this event on every check
//                     fails (memory that left the device does not come back)
// Tests may also arm points in-process with arm().
#pragma once

namespace orcd::fault {

enum class Point { DeviceAlloc, JobAlloc, KernelLaunch, FileRead, Tokenizer, Residency, Count };

#if defined(ORCD_FAULT_INJECTION)
// Counts an event at `p`; true when this event must fail.
bool should_fail(Point p);
// Makes the n-th next event at `p` fail (n >= 1).
void arm(Point p, int n = 1);
// Marks the start of a job: `point@jobN` arming counts from the first call.
void job_started();
void disarm_all();
#else
constexpr bool should_fail(Point) { return false; }
inline void job_started() {}
#endif

}  // namespace orcd::fault
