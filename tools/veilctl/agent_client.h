// veilctl's side of the control API (proto/control.proto) over veild's control socket.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"
#include "proto/control.pb.h"

namespace veil::veilctl {

// One call. An Error means the agent could not be reached or did not answer (exit code 3);
// a refusal comes back as a Response with ok = false. For a streaming call (WatchFlows), `more`
// gets every later Response on the connection while the first was ok, until it returns false
// or veild closes the connection.
Result<control::v1::Response> Call(
    const std::string& socket, const control::v1::Request& req,
    const std::function<bool(const control::v1::Response&)>& more = {});

// "1h", "30m", "90s", "1h30m", "2d" → seconds; 0 on a malformed value.
int64_t ParseTtl(const std::string& s);

}  // namespace veil::veilctl
