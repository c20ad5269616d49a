#include "serve/compare_reconstructor.hpp"

namespace shim::serve {

std::unique_ptr<cli::Reconstructor> make_compare_reconstructor(std::span<const std::string>, std::string& error) {
    error = "--upstream is not available yet";
    return nullptr;
}

} // namespace shim::serve
