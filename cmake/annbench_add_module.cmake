# annbench_add_module(NAME sources...): builds the annbench module NAME as libannbench_NAME.so,
# the way every module is built: C++20, hidden visibility (only the entry point that
# ANNBENCH_MODULE exports is seen, so two modules may carry different copies of the same helper),
# linked with annbench::api (the plugin headers, fmt, OpenMP) and annbench::common (the shared
# kernels). One definition for annbench's own build and for its installed package
# (annbenchConfig.cmake), so that a module builds the same in and out of tree.
#
#   In annbench's tree: into the build's module directory, warnings are errors, and
#     `cmake --install` puts it into <prefix>/lib/annbench/modules with the harness.
#   Out of tree: into <build>/modules (point ANNBENCH_PLUGIN_PATH there), with the compile and
#     link options annbench itself was built with (-march=native, sanitizers) and its warnings
#     (errors unless ANNBENCH_MODULE_WERROR is OFF); `cmake --install` puts it into
#     <prefix>/lib/annbench/modules, where an annbench installed in that prefix finds it.
function(annbench_add_module name)
  # The harness accepts these characters in ModuleInfo::name; the file name follows the module's.
  if(NOT name MATCHES "^[a-z0-9_-]+$")
    message(FATAL_ERROR "annbench_add_module: module name '${name}' may hold only a-z 0-9 - _")
  endif()
  set(target annbench_module_${name})
  add_library(${target} MODULE ${ARGN})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME annbench_${name}
    CXX_EXTENSIONS OFF
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_link_libraries(${target} PRIVATE annbench::api annbench::common)
  if(TARGET annbench_modules)
    # annbench's own build: the top-level CMakeLists.txt installs every module of this directory.
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ANNBENCH_MODULE_DIR})
    target_link_libraries(${target} PRIVATE annbench_warnings)
    add_dependencies(annbench_modules ${target})
  else()
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/modules)
    target_compile_options(${target} PRIVATE ${ANNBENCH_MODULE_COMPILE_OPTIONS}
                           ${ANNBENCH_MODULE_WARNINGS} $<$<BOOL:${ANNBENCH_MODULE_WERROR}>:-Werror>)
    target_link_options(${target} PRIVATE ${ANNBENCH_MODULE_LINK_OPTIONS})
    install(TARGETS ${target} LIBRARY DESTINATION lib/annbench/modules)
  endif()
endfunction()
