#pragma once
// The bundled demo objects (shim/demo/), compiled into the binary by CMake.
#include <span>
#include <string_view>

namespace shim::replay {

struct DemoObject {
    std::string_view
        path; // relative to shim/demo/: files/<sha256>.json, behaviours/<sha256>.json, sigma_rules/<id>.json
    std::string_view json;
};

std::span<const DemoObject> demo_objects();

} // namespace shim::replay
