# Learning a calibration (issue 16): which fields the legacy service wrote per rule, from recorded legacy
# answers and today's objects, with its report. Pure (JSON values in, a Calibration and bytes out), for the
# calibrate command.
add_library(sigma_shim_calibrate STATIC
    calibrate/explain.cpp
    calibrate/legacy_matches.cpp
    calibrate/today_events.cpp
    calibrate/learner.cpp
    calibrate/report.cpp
    calibrate/report_text.cpp
    calibrate/report_json.cpp
)
target_include_directories(sigma_shim_calibrate PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sigma_shim_calibrate PUBLIC sigma_adapters Boost::json PRIVATE sigma_shim_warnings)
