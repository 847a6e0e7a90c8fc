# The planner's distributed runner gives the same result as the threaded one (docs/plan.md):
# runs PLAN under `MPIEXEC -n 2` and on this process's threads (--jobs 1 and --jobs 3), and
# compares the JSON results byte for byte, and the printed tables.
#
#   cmake -DFMSIM=path/to/fmsim -DMPIEXEC=path/to/mpirun -DPLAN=plan.json -DWORK_DIR=folder
#         -P cmake/ComparePlanMpi.cmake
#
# The results stay in WORK_DIR for a look when they differ.
foreach(var FMSIM MPIEXEC PLAN WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "ComparePlanMpi.cmake: pass -D${var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs `command...`, failing the test unless it exits 0; sets <name>_out and <name>_err.
function(run_checked name)
  execute_process(COMMAND ${ARGN}
                  WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${name}: `${command}` exited with ${rc}\n"
                        "--- stdout:\n${out}\n--- stderr:\n${err}")
  endif()
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

# Fails unless files `a` and `b` are identical, saying where they first differ.
function(expect_same_file a b what)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${a}" "${b}" RESULT_VARIABLE rc)
  if(rc STREQUAL "0")
    return()
  endif()
  set(detail "")
  find_program(DIFF_PROGRAM diff)
  if(DIFF_PROGRAM)
    execute_process(COMMAND "${DIFF_PROGRAM}" -u "${a}" "${b}" OUTPUT_VARIABLE diff_out)
    string(LENGTH "${diff_out}" length)
    if(length GREATER 6000)
      string(SUBSTRING "${diff_out}" 0 6000 diff_out)
      string(APPEND diff_out "\n[... diff cut]")
    endif()
    set(detail "\n${diff_out}")
  endif()
  message(FATAL_ERROR "${what}: ${a} and ${b} differ${detail}")
endfunction()

# 1. Two MPI ranks, each evaluating every other point on its own threads; rank 0 gathers them.
run_checked(mpi "${MPIEXEC}" -n 2 --oversubscribe "${FMSIM}" plan "${PLAN}" --quiet
            --json "${WORK_DIR}/mpi.json")
if(NOT mpi_err MATCHES "fmsim: plan evaluated on 2 MPI rank\\(s\\)")
  message(FATAL_ERROR "the MPI run did not say it ran on 2 ranks (was fmsim built with MPI, and "
                      "did ${MPIEXEC} start 2 processes?); its stderr:\n${mpi_err}")
endif()

# 2. One process, one worker thread; and one process, three worker threads.
run_checked(jobs1 "${FMSIM}" plan "${PLAN}" --quiet --jobs 1 --json "${WORK_DIR}/threads-1.json")
run_checked(jobs3 "${FMSIM}" plan "${PLAN}" --quiet --jobs 3 --json "${WORK_DIR}/threads-3.json")

file(WRITE "${WORK_DIR}/mpi.txt" "${mpi_out}")
file(WRITE "${WORK_DIR}/threads-1.txt" "${jobs1_out}")
file(WRITE "${WORK_DIR}/threads-3.txt" "${jobs3_out}")

expect_same_file("${WORK_DIR}/mpi.json" "${WORK_DIR}/threads-1.json"
                 "the MPI result (mpirun -n 2) differs from the threaded result (--jobs 1)")
expect_same_file("${WORK_DIR}/threads-3.json" "${WORK_DIR}/threads-1.json"
                 "the result on 3 threads differs from the result on 1 thread")
expect_same_file("${WORK_DIR}/mpi.txt" "${WORK_DIR}/threads-1.txt"
                 "the table printed under mpirun -n 2 differs from the one printed by --jobs 1")
expect_same_file("${WORK_DIR}/threads-3.txt" "${WORK_DIR}/threads-1.txt"
                 "the table printed by --jobs 3 differs from the one printed by --jobs 1")

# A result with nothing in it would compare equal too: check there is something to compare.
file(READ "${WORK_DIR}/threads-1.json" result)
string(JSON feasible GET "${result}" feasible)
string(JSON space GET "${result}" space)
string(JSON pruned_reasons LENGTH "${result}" pruned)
if(feasible EQUAL 0 OR feasible EQUAL space OR pruned_reasons EQUAL 0)
  message(FATAL_ERROR "${PLAN} should mix feasible and pruned points: feasible ${feasible} of "
                      "${space}, ${pruned_reasons} pruning reason(s)")
endif()
message(STATUS "mpirun -n 2, --jobs 1 and --jobs 3 agree on ${space} points (${feasible} feasible)")
