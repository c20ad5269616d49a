# Unit tests of the cache and quota bookkeeping, in their own program so they build without the server.
add_executable(economy_tests main.cpp economy_test.cpp)
target_link_libraries(economy_tests PRIVATE sigma_shim_economy Boost::unit_test_framework sigma_shim_warnings)
add_test(NAME economy COMMAND economy_tests)
set_tests_properties(economy PROPERTIES LABELS unit)
