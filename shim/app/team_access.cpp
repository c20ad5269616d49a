#include "app/team_access.hpp"

#include <stdexcept>

namespace shim::app {
namespace {

void add_certificate(ops::LogFields& fields, const net::ListenerCertificate& certificate) {
    fields.emplace_back("tls_subject", certificate.subject);
    fields.emplace_back("tls_not_after", certificate.not_after);
    fields.emplace_back("tls_chain_length", static_cast<std::int64_t>(certificate.chain_length));
}

} // namespace

std::string TeamAccess::load(const serve::ServeConfig& config) {
    if (config.tls_cert.empty() != config.tls_key.empty())
        return "--tls-cert and --tls-key go together: give both, or neither";
    if (!config.tls_cert.empty()) {
        try {
            tls_ = std::make_unique<net::ListenerTls>(config.tls_cert, config.tls_key);
        } catch (const std::exception& e) {
            return e.what();
        }
    }
    if (!config.client_tokens.empty()) {
        tokens_ = std::make_unique<serve::ClientTokenFile>(config.client_tokens);
        if (auto error = tokens_->load(); !error.empty()) return error;
    }
    return {};
}

void TeamAccess::reload(ops::Logger& log) {
    if (!tls_ && !tokens_) {
        log.write(ops::LogLevel::info, "SIGHUP: nothing to reload (no --tls-cert, no --client-tokens)");
        return;
    }
    if (tls_) {
        if (auto error = tls_->reload(); !error.empty()) {
            log.write(ops::LogLevel::error, "SIGHUP: the TLS certificate was not reloaded; the old one stays",
                      {{"error", error}});
        } else {
            ops::LogFields fields;
            add_certificate(fields, tls_->certificate());
            log.write(ops::LogLevel::info, "SIGHUP: TLS certificate reloaded", fields);
        }
    }
    if (tokens_) {
        if (auto error = tokens_->load(); !error.empty()) {
            log.write(ops::LogLevel::error, "SIGHUP: the client tokens were not reloaded; the old ones stay",
                      {{"error", error}});
        } else {
            log.write(ops::LogLevel::info, "SIGHUP: client tokens reloaded",
                      {{"clients", static_cast<std::int64_t>(tokens_->current()->size())}});
        }
    }
}

void TeamAccess::describe(ops::LogFields& fields) const {
    fields.emplace_back("tls", tls_ ? std::string("on") : std::string("off"));
    if (tls_) add_certificate(fields, tls_->certificate());
    if (tokens_)
        fields.emplace_back("client_tokens", static_cast<std::int64_t>(tokens_->current()->size()));
    else
        fields.emplace_back("client_tokens", std::string("off"));
}

} // namespace shim::app
