#pragma once
// Where `--record DIR` writes each upstream object and where `--upstream dir:DIR` finds it again:
//   files/{id}.json                       GET /api/v3/files/{id}            (id lower-cased, as requested)
//   behaviours/{id}.json                  GET /api/v3/files/{id}/behaviours
//   behaviours/{id}.cursor-{hex}.json     GET /api/v3/files/{id}/behaviours?cursor=C   ({hex}: C's bytes in
//   hex) sigma_rules/{id}.json                 GET /api/v3/sigma_rules/{id}
// The bundled demo data (shim/demo/) has the same layout.
#include <string>
#include <string_view>

namespace shim::upstream {

// The relative path for a request target, or "" when the target is not one of the recorded objects.
std::string record_path_for(std::string_view target);

} // namespace shim::upstream
