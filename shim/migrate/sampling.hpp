#pragma once
// Which files are in a share: decided by hashing the file's SHA-256 with a purpose, so one file always lands
// on the same side, the rollout and the shadow samples are independent of each other, and raising a share
// only adds files (a file in 10% is also in 50%).
#include <string_view>

namespace shim::migrate {

enum class Sample { rollout, shadow };

// A number from 0 to 9999 for this file and purpose, uniform over files.
unsigned sample_bucket(Sample purpose, std::string_view sha256_hex);

// The file is in the first `percent` per cent of buckets.
bool in_share(Sample purpose, std::string_view sha256_hex, unsigned percent);

} // namespace shim::migrate
