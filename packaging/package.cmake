# The Debian package (script/package): sigma-shim and its -dbgsym, made by CPack's DEB generator from a
# Release build with Debian's compiler flags (dpkg-buildflags: -g for the debug symbols, hardening).
# Depends is computed by dpkg-shlibdeps from the libraries the program links, never written by hand.
#
# Installed: /usr/bin/sigma-shim (stripped; its symbols go to the -dbgsym package), the systemd unit,
# /etc/default/sigma-shim (a conffile, made by the program from its own flag table), the manual pages (made
# by help2man from the program's own help), README, changelog and copyright.
include(GNUInstallDirs)

set(SIGMA_SHIM_PACKAGE_MAINTAINER "sigma-shim maintainers <maintainers@users.noreply.r-seed-d6fc63f9.example>"
    CACHE STRING "The package's Maintainer field")
set(SIGMA_SHIM_PACKAGE_REVISION "1" CACHE STRING "The Debian revision: the package is VERSION-REVISION")
set(SIGMA_SHIM_DEB_VERSION "${PROJECT_VERSION}-${SIGMA_SHIM_PACKAGE_REVISION}")
set(packaging ${PROJECT_SOURCE_DIR}/packaging)
set(generated ${PROJECT_BINARY_DIR}/packaging)

# What the program writes about itself, remade whenever it is relinked.
add_custom_command(
    OUTPUT ${generated}/default/sigma-shim
    COMMAND ${CMAKE_COMMAND} -E make_directory ${generated}/default
    COMMAND $<TARGET_FILE:sigma-shim> serve --print-env-defaults > ${generated}/default/sigma-shim
    DEPENDS sigma-shim
    COMMENT "Writing /etc/default/sigma-shim from the flag table")
set(man_pages sigma-shim sigma-shim-serve sigma-shim-convert sigma-shim-compare sigma-shim-routes
              sigma-shim-token)
list(TRANSFORM man_pages PREPEND ${generated}/man/ OUTPUT_VARIABLE man_files)
list(TRANSFORM man_files APPEND .1.gz)
add_custom_command(
    OUTPUT ${man_files}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:sigma-shim> -DVERSION=${PROJECT_VERSION}
            -DINCLUDE=${packaging}/sigma-shim.h2m -DOUTPUT_DIR=${generated}/man -P ${packaging}/make_man.cmake
    DEPENDS sigma-shim ${packaging}/make_man.cmake ${packaging}/sigma-shim.h2m
    COMMENT "Writing the manual pages from the program's help (help2man)")

# The documents, gzipped as Debian policy wants (-9n: no name or time stamp inside, so the bytes are stable).
find_program(GZIP gzip REQUIRED)
string(TIMESTAMP package_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(SIGMA_SHIM_PACKAGE_DATE "${package_date}")
configure_file(${packaging}/changelog.Debian.in ${generated}/doc/changelog.Debian @ONLY)
add_custom_command(
    OUTPUT ${generated}/doc/README.md.gz ${generated}/doc/changelog.gz ${generated}/doc/changelog.Debian.gz
    COMMAND ${GZIP} -9nc ${PROJECT_SOURCE_DIR}/README.md > ${generated}/doc/README.md.gz
    COMMAND ${GZIP} -9nc ${PROJECT_SOURCE_DIR}/CHANGELOG.md > ${generated}/doc/changelog.gz
    COMMAND ${GZIP} -9nc ${generated}/doc/changelog.Debian > ${generated}/doc/changelog.Debian.gz
    DEPENDS ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/CHANGELOG.md ${generated}/doc/changelog.Debian
    COMMENT "Compressing the documents")
add_custom_target(package_files ALL
    DEPENDS ${generated}/default/sigma-shim ${man_files} ${generated}/doc/README.md.gz
            ${generated}/doc/changelog.gz ${generated}/doc/changelog.Debian.gz)

install(TARGETS sigma-shim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Absolute destinations: CPACK_SET_DESTDIR puts them under the package root, not on this machine.
install(FILES ${packaging}/sigma-shim.service DESTINATION /lib/systemd/system)
install(FILES ${generated}/default/sigma-shim DESTINATION /etc/default)
install(FILES ${man_files} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${generated}/doc/README.md.gz ${generated}/doc/changelog.gz ${generated}/doc/changelog.Debian.gz
              ${packaging}/copyright
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/sigma-shim)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sigma-shim)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "VirusTotal's deprecated Sigma routes, rebuilt")
# CPack writes the summary as the synopsis and indents each line of this, the extended description, by one
# space: no indent here, "." for a blank line, at most 79 columns.
string(JOIN "\n" CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "sigma-shim is a local HTTP proxy in front of the VirusTotal API v3. The"
    "deprecated sigma_analysis routes answer again, rebuilt from the File and File"
    "behaviour objects that now carry the Sigma results; every other API request"
    "passes through unchanged. It caches, coalesces and paces upstream requests"
    "within a key's quota, can share them between replicas through Redis, and can"
    "compare reconstructions with recorded legacy answers."
    "."
    "This package runs it as a hardened systemd service (sigma-shim.service).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${SIGMA_SHIM_PACKAGE_REVISION})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SIGMA_SHIM_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${packaging}/conffiles ${packaging}/postinst ${packaging}/prerm ${packaging}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
