#include "cli/token_command.hpp"

#include "cli/convert_command.hpp"
#include "serve/client_tokens.hpp"
#include "util/key_hash.hpp"

#include <exception>

namespace shim::cli {

const char* const token_usage = R"(usage: sigma-shim token new NAME

Makes a client token for `sigma-shim serve --client-tokens FILE`. Prints the token on the first line (it is
shown once: only its SHA-256 is kept), then the line to add to FILE:
  NAME sha256:HEX
The client presents the token to the shim instead of a VirusTotal key; the shim keeps the key. Add
" quota-per-minute=N" to the line to give the client at most N upstream requests in any 60 s.

NAME is 1 to 64 characters of A-Z a-z 0-9 . _ - and is unique in the file.

options:
  -h, --help  this text
)";

int run_token(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
    const auto usage_error = [&](const char* what) {
        err << "sigma-shim token: " << what << "\n\n" << token_usage;
        return static_cast<int>(ConvertExit::usage);
    };
    for (const auto& arg : args) {
        if (arg == "-h" || arg == "--help") {
            out << token_usage;
            return ConvertExit::done;
        }
    }
    if (args.empty()) return usage_error("expected `token new NAME`");
    if (args[0] != "new") return usage_error("the only subcommand is `new`");
    if (args.size() < 2) return usage_error("`token new` needs the client's NAME");
    if (args.size() > 2) return usage_error("`token new` takes one NAME");
    const std::string& name = args[1];
    if (!serve::valid_client_name(name))
        return usage_error("NAME must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    std::string token;
    try {
        token = serve::new_client_token();
    } catch (const std::exception& e) {
        err << "sigma-shim token: " << e.what() << '\n';
        return 1;
    }
    out << token << '\n'
        << "# give the token above to " << name
        << "; it is shown once. Add this line to the client tokens file (--client-tokens):\n"
        << name << " sha256:" << util::sha256_hex(token) << '\n';
    return ConvertExit::done;
}

} // namespace shim::cli
