# Unit tests of the server support library, in their own program so they build without the converter.
add_executable(support_tests main.cpp support_test.cpp sd_notify_test.cpp)
target_link_libraries(support_tests PRIVATE sigma_shim_support Boost::unit_test_framework sigma_shim_warnings)
add_test(NAME support COMMAND support_tests)
set_tests_properties(support PROPERTIES LABELS unit)
