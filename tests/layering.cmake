# The layering rule, checked: a lower folder never includes a higher one (cmake -DSOURCE_DIR=... -P).
#   adapters/       the pure transform: nothing of shim/
#   shim/net/       task groups: nothing of shim/ but itself
#   shim/upstream/  the upstream and its layers: not serve/, app/, replay/, cli/
#   shim/redis/     the Redis client: not upstream/, replay/, serve/, app/, cli/
#   shim/replay/    the in-process upstream: not serve/, app/, cli/
#   shim/serve/     the server: not app/, cli/
#   shim/calibrate/ learning a calibration, pure: not net/, upstream/, replay/, serve/, app/, cli/
set(rules
    "adapters=\"(net|upstream|replay|serve|app|cli|ops|util|economy|migrate|compare)/"
    "shim/net=\"(upstream|replay|serve|app|cli|ops|util|economy|migrate|compare|sigma_analysis)/"
    "shim/upstream=\"(serve|app|replay|cli)/"
    "shim/redis=\"(upstream|replay|serve|app|cli)/"
    "shim/replay=\"(serve|app|cli)/"
    "shim/serve=\"(app|cli)/"
    "shim/calibrate=\"(net|upstream|replay|serve|app|cli)/")
set(broken "")
foreach(rule IN LISTS rules)
    string(FIND "${rule}" "=" at)
    string(SUBSTRING "${rule}" 0 ${at} folder)
    math(EXPR after "${at} + 1")
    string(SUBSTRING "${rule}" ${after} -1 forbidden)
    file(GLOB_RECURSE sources "${SOURCE_DIR}/${folder}/*.hpp" "${SOURCE_DIR}/${folder}/*.cpp")
    foreach(source IN LISTS sources)
        file(STRINGS "${source}" includes REGEX "^#include \"")
        foreach(line IN LISTS includes)
            if(line MATCHES "^#include ${forbidden}")
                file(RELATIVE_PATH relative "${SOURCE_DIR}" "${source}")
                string(APPEND broken "  ${relative}: ${line}\n")
            endif()
        endforeach()
    endforeach()
endforeach()
# hiredis stays inside the Redis client: no other folder includes it.
file(GLOB_RECURSE sources "${SOURCE_DIR}/adapters/*.[hc]pp" "${SOURCE_DIR}/shim/*.[hc]pp" "${SOURCE_DIR}/tests/*.[hc]pp")
foreach(source IN LISTS sources)
    file(RELATIVE_PATH relative "${SOURCE_DIR}" "${source}")
    if(NOT relative MATCHES "^shim/redis/")
        file(STRINGS "${source}" includes REGEX "^#include <hiredis/")
        foreach(line IN LISTS includes)
            string(APPEND broken "  ${relative}: ${line} (only shim/redis/ includes hiredis)\n")
        endforeach()
    endif()
endforeach()
if(broken)
    message(FATAL_ERROR "a lower layer includes a higher one:\n${broken}")
endif()
message(STATUS "layering: every include goes downwards")
