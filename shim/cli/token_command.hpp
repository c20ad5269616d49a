#pragma once
// `sigma-shim token new NAME`: a client token for `serve --client-tokens`. The token is printed once and only
// its hash goes into the tokens file, so the file never holds what a client presents.
#include <ostream>
#include <span>
#include <string>

namespace shim::cli {

// `args` are the words after "token". Prints the token on the first line of `out`, a comment line, and last
// the line for the tokens file (`NAME sha256:HEX`). Exit 0; 2 on a usage error (a message and the usage text
// on `err`); 1 when no random bytes could be had.
int run_token(std::span<const std::string> args, std::ostream& out, std::ostream& err);

extern const char* const token_usage;

} // namespace shim::cli
