# The comparison engine and its reports: pure (JSON values in, values or bytes out), shared by the compare
# command and the server's shadow and compare modes.
add_library(sigma_shim_compare STATIC
    compare/comparison.cpp
    compare/path_glob.cpp
    compare/match_context_pairs.cpp
    compare/redact.cpp
    compare/legacy_shape.cpp
    compare/report.cpp
    compare/report_json.cpp
    compare/report_text.cpp
    compare/report_html.cpp
)
target_include_directories(sigma_shim_compare PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sigma_shim_compare PUBLIC sigma_adapters Boost::json PRIVATE sigma_shim_warnings)
