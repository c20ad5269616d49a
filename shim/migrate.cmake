# Gradual migration: sampling files into shares, the recorded baseline, and the kept comparisons. No networking.
add_library(sigma_shim_migrate STATIC
    migrate/sampling.cpp
    migrate/comparison_store.cpp
    migrate/baseline_catalog.cpp
)
target_include_directories(sigma_shim_migrate PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sigma_shim_migrate PUBLIC sigma_shim_compare sigma_adapters sigma_shim_support
                                         PRIVATE sigma_shim_warnings)
