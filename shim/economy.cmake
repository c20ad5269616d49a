# Cache and quota bookkeeping for the proxy: pure, clock-injected, no networking.
add_library(sigma_shim_economy STATIC
    economy/byte_lru.cpp
    economy/quota_book.cpp
)
target_include_directories(sigma_shim_economy PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sigma_shim_economy PRIVATE sigma_shim_warnings)
