// veilctl's side of the control API (proto/control.proto) over veild's control socket.
#pragma once

#include <string>

#include "common/result.h"
#include "proto/control.pb.h"

namespace veil::veilctl {

// One call. An Error means the agent could not be reached or did not answer (exit code 3);
// a refusal comes back as a Response with ok = false.
Result<control::v1::Response> Call(const std::string& socket, const control::v1::Request& req);

// "1h", "30m", "90s", "1h30m", "2d" → seconds; 0 on a malformed value.
int64_t ParseTtl(const std::string& s);

}  // namespace veil::veilctl
