# Writes a C++ source holding every JSON file under DEMO_DIR, for the demo upstream (script mode:
# cmake -DDEMO_DIR=... -DOUTPUT=... -P embed_demo.cmake). A raw string per file, with a delimiter JSON never holds.
file(GLOB_RECURSE demo_files RELATIVE "${DEMO_DIR}" "${DEMO_DIR}/*.json")
list(SORT demo_files)
set(body "// Generated from shim/demo/ by shim/embed_demo.cmake. Do not edit.\n#include \"replay/demo_data.hpp\"\n\nnamespace shim::replay {\nnamespace {\nconst DemoObject objects[] = {\n")
foreach(f IN LISTS demo_files)
    file(READ "${DEMO_DIR}/${f}" content)
    string(APPEND body "    {\"${f}\", R\"sigmademo(${content})sigmademo\"},\n")
endforeach()
string(APPEND body "};\n} // namespace\n\nstd::span<const DemoObject> demo_objects() { return objects; }\n\n} // namespace shim::replay\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
