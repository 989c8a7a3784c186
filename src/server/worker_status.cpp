#include "worker_status.h"

namespace orcd::server {

const char* status_name(Status s) {
    switch (s) {
        case Status::loading: return "loading";
        case Status::healthy: return "healthy";
        case Status::unhealthy: return "unhealthy";
        case Status::draining: return "draining";
    }
    return "unhealthy";
}

}  // namespace orcd::server
