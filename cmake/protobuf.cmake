# protoc-c runs at build time; nothing generated is committed (STYLE rule 6).
function(sb_proto target)
  set(out ${CMAKE_BINARY_DIR}/gen/proto)
  file(MAKE_DIRECTORY ${out})
  set(srcs)
  foreach(name ${ARGN})
    set(in ${CMAKE_SOURCE_DIR}/proto/${name}.proto)
    add_custom_command(
      OUTPUT ${out}/${name}.pb-c.c ${out}/${name}.pb-c.h
      COMMAND ${PROTOC_C} --c_out=${out} -I${CMAKE_SOURCE_DIR}/proto ${in}
      DEPENDS ${in}
      COMMENT "protoc-c ${name}.proto")
    list(APPEND srcs ${out}/${name}.pb-c.c)
  endforeach()
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} SYSTEM PUBLIC ${CMAKE_BINARY_DIR}/gen)
  target_link_libraries(${target} PUBLIC PkgConfig::PROTOBUFC)
  target_compile_options(${target} PRIVATE -w)
endfunction()
