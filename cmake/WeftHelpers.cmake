# weft_library(NAME DIR DEPS...): a static library of every .cc in DIR (not recursive) except
# tests and main.cc. Globbing keeps the build files out of every change that adds a source file.
function(weft_library name dir)
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "(_test|/main)\\.cc$")
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARGN})
endfunction()
