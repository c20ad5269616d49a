#include "migrate/sampling.hpp"

#include "util/key_hash.hpp"

#include <string>

namespace shim::migrate {

unsigned sample_bucket(Sample purpose, std::string_view sha256_hex) {
    std::string input = purpose == Sample::rollout ? "rollout:" : "shadow:";
    for (const char ch : sha256_hex)
        input.push_back(ch >= 'A' && ch <= 'F' ? static_cast<char>(ch - 'A' + 'a') : ch);
    // The first 8 hex digits of a SHA-256 are 32 uniform bits; their remainder by 10000 is uniform to within
    // one part in 400,000.
    const auto digest = util::sha256_hex(input);
    return static_cast<unsigned>(std::stoul(digest.substr(0, 8), nullptr, 16) % 10000);
}

bool in_share(Sample purpose, std::string_view sha256_hex, unsigned percent) {
    return sample_bucket(purpose, sha256_hex) < percent * 100;
}

} // namespace shim::migrate
