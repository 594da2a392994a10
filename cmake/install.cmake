# Install rules: headers, libraries, a CMake package (find_package(pooler))
# and pkg-config files (pooler, pooler-remote). Included from the top-level
# CMakeLists.txt when POOLER_INSTALL is on.

include(CMakePackageConfigHelpers)

set(POOLER_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/pooler" CACHE STRING
    "Where pooler's CMake package files are installed (relative to the prefix)")
mark_as_advanced(POOLER_CMAKE_DIR)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/pooler"
                  "${PROJECT_BINARY_DIR}/include/pooler"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT pooler_development)

install(TARGETS pooler_core pooler_supervision pooler_process pooler
                pooler_remote
        EXPORT pooler-targets
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
          COMPONENT pooler_runtime
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
          COMPONENT pooler_runtime
          NAMELINK_COMPONENT pooler_development
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
          COMPONENT pooler_development
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The prometheus-cpp sink, when it was built: an export set of its own, which
# pooler's package loads only where prometheus-cpp is found.
if(TARGET pooler_prometheus_cpp)
  install(TARGETS pooler_prometheus_cpp
          EXPORT pooler-prometheus-cpp-targets
          RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
            COMPONENT pooler_runtime
          LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
            COMPONENT pooler_runtime
            NAMELINK_COMPONENT pooler_development
          ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
            COMPONENT pooler_development)
  install(EXPORT pooler-prometheus-cpp-targets NAMESPACE pooler::
          DESTINATION "${POOLER_CMAKE_DIR}"
          COMPONENT pooler_development)
endif()

install(EXPORT pooler-targets NAMESPACE pooler::
        DESTINATION "${POOLER_CMAKE_DIR}"
        COMPONENT pooler_development)
# The same targets straight from this build tree:
# -Dpooler_DIR=<build dir> without installing.
export(EXPORT pooler-targets NAMESPACE pooler::
       FILE "${PROJECT_BINARY_DIR}/pooler-targets.cmake")

configure_package_config_file(cmake/pooler-config.cmake.in
  "${PROJECT_BINARY_DIR}/pooler-config.cmake"
  INSTALL_DESTINATION "${POOLER_CMAKE_DIR}")
# 0.x: a new minor version may break the API.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/pooler-config-version.cmake"
  COMPATIBILITY SameMinorVersion)
# The build-tree package finds CAF the same way: FindCAF next to it.
configure_file(cmake/FindCAF.cmake "${PROJECT_BINARY_DIR}/FindCAF.cmake"
               COPYONLY)
install(FILES "${PROJECT_BINARY_DIR}/pooler-config.cmake"
              "${PROJECT_BINARY_DIR}/pooler-config-version.cmake"
              cmake/FindCAF.cmake
        DESTINATION "${POOLER_CMAKE_DIR}"
        COMPONENT pooler_development)

# pkg-config. Debian's CAF ships no .pc file: its flags go into ours, with
# -I/-L only where the compiler would not look anyway (a custom CAF build).
function(pooler_pc_flag out flag dir implicit)
  if(dir IN_LIST implicit)
    set(${out} "" PARENT_SCOPE)
  else()
    set(${out} " ${flag}${dir}" PARENT_SCOPE)
  endif()
endfunction()
get_filename_component(_pooler_caf_libdir "${CAF_CORE_LIBRARY}" DIRECTORY)
pooler_pc_flag(POOLER_PC_CAF_CFLAGS "-I" "${CAF_INCLUDE_DIR}"
               "${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES}")
pooler_pc_flag(POOLER_PC_CAF_LIBS "-L" "${_pooler_caf_libdir}"
               "${CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES}")
# Relocatable: the prefix is found from the .pc file's own place, so that
# `cmake --install --prefix` anywhere gives working files.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(POOLER_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _pooler_up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
       "/prefix")
  string(REGEX REPLACE "/$" "" _pooler_up "${_pooler_up}")
  set(POOLER_PC_PREFIX "\${pcfiledir}/${_pooler_up}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(POOLER_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(POOLER_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
foreach(pc pooler pooler-remote)
  configure_file("cmake/${pc}.pc.in" "${PROJECT_BINARY_DIR}/${pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${pc}.pc"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
          COMPONENT pooler_development)
endforeach()
