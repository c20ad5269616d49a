# The Redis client: URL, protocol (hiredis encodes commands and parses replies; only redis_reply.cpp includes
# it) and pipelined connections on Asio, one per io_context. Knows nothing of the server or the upstream.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
add_library(sigma_shim_redis STATIC
    redis/redis_url.cpp
    redis/redis_reply.cpp
    redis/redis_connection.cpp
    redis/redis_client.cpp
    redis/redis_observability.cpp
    redis/redis_script.cpp
)
target_include_directories(sigma_shim_redis PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
# hiredis PRIVATE: its include folder (read.h, sds.h...) stays out of every other target's search path.
target_link_libraries(sigma_shim_redis PUBLIC sigma_shim_net sigma_shim_support Boost::url Boost::headers
                                       PRIVATE PkgConfig::HIREDIS sigma_shim_warnings)
