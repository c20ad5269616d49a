# The manual pages, made at build time by help2man from the program's own help texts, so that they say what
# the program does: sigma-shim(1) from `sigma-shim --help` (with FILES, ENVIRONMENT and SEE ALSO from
# sigma-shim.h2m), and sigma-shim-COMMAND(1) from `sigma-shim COMMAND --help`. Each is gzipped (-9n) as
# Debian wants.
# cmake -DPROGRAM=... -DVERSION=... -DINCLUDE=.../sigma-shim.h2m -DOUTPUT_DIR=... -P make_man.cmake
find_program(HELP2MAN help2man REQUIRED)
find_program(GZIP gzip REQUIRED)
file(MAKE_DIRECTORY "${OUTPUT_DIR}")

function(make_page page help_option description)
    set(args --no-info --no-discard-stderr "--version-string=sigma-shim ${VERSION}" "--name=${description}"
             "--help-option=${help_option}" --section=1)
    if(page STREQUAL "sigma-shim")
        list(APPEND args "--include=${INCLUDE}")
    endif()
    execute_process(COMMAND ${HELP2MAN} ${args} "${PROGRAM}" OUTPUT_VARIABLE roff RESULT_VARIABLE failed)
    if(failed)
        message(FATAL_ERROR "help2man failed on ${PROGRAM} ${help_option}")
    endif()
    # help2man names every page after the program; a command's page is sigma-shim-COMMAND.
    string(TOUPPER "${page}" title)
    string(REGEX REPLACE "\n\\.TH SIGMA-SHIM " "\n.TH ${title} " roff "${roff}")
    string(REPLACE "\n.SH NAME\nsigma-shim \\-" "\n.SH NAME\n${page} \\-" roff "${roff}")
    file(WRITE "${OUTPUT_DIR}/${page}.1" "${roff}")
    file(REMOVE "${OUTPUT_DIR}/${page}.1.gz")
    execute_process(COMMAND ${GZIP} -9n "${OUTPUT_DIR}/${page}.1" RESULT_VARIABLE failed)
    if(failed)
        message(FATAL_ERROR "gzip failed on ${page}.1")
    endif()
endfunction()

make_page(sigma-shim "--help" "VirusTotal's deprecated Sigma routes, rebuilt from File and behaviour objects")
make_page(sigma-shim-serve "serve --help" "the proxy: legacy Sigma routes rebuilt, every other request passed through")
make_page(sigma-shim-convert "convert --help" "rebuild a legacy Sigma answer from File and behaviour JSON files")
make_page(sigma-shim-compare "compare --help" "compare recorded legacy Sigma answers with reconstructions")
make_page(sigma-shim-routes "routes --help" "list the legacy routes sigma-shim serve answers")
make_page(sigma-shim-token "token --help" "make a client token for sigma-shim serve --client-tokens")
