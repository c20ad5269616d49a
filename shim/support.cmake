# Server support code: metrics, structured logs, the service-manager notification (one datagram), gzip,
# key hashing, the --match-context option.
add_library(sigma_shim_support STATIC
    ops/metrics.cpp
    ops/log.cpp
    ops/sd_notify.cpp
    util/gzip.cpp
    util/key_hash.cpp
    util/match_context_option.cpp
)
target_include_directories(sigma_shim_support PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sigma_shim_support PUBLIC sigma_adapters Boost::json ZLIB::ZLIB OpenSSL::Crypto PRIVATE sigma_shim_warnings)
