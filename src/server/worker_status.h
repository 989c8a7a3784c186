// The worker's lifecycle status, apart from WorkerState so that code which
// only reads it (the request handler, its fuzzer) needs no engine.
#pragma once

namespace orcd::server {

enum class Status { loading, healthy, unhealthy, draining };
const char* status_name(Status s);

}  // namespace orcd::server
