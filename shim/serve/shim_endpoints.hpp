#pragma once
// The shim's own endpoints under /_shim/: liveness, readiness and metrics.
#include "serve/http_answer.hpp"
#include "serve/router.hpp"
#include "serve/server_state.hpp"

namespace shim::serve {

// `loopback_peer`: the client connects from the loopback range; /_shim/cache answers only those.
HttpAnswer answer_shim_endpoint(const Route& route, ServerState& state, bool loopback_peer);

} // namespace shim::serve
