// OpenBLAS kernel selection: re-runs the process with OPENBLAS_CORETYPE when OpenBLAS fell back
// to generic kernels on a CPU it does not recognise (a 4-5x slower fp32 GEMM). Torch-free.
#pragma once

#include <string>

namespace packbench::train {

// The kernel family OpenBLAS chose in this process ("Cooperlake", "Haswell", "Prescott", ...),
// or "" when the BLAS in use is not OpenBLAS.
std::string blas_core_name();

// What the run's BLAS is, for people: "OpenBLAS Cooperlake" or "not OpenBLAS".
std::string blas_kernels_description();

// The best OpenBLAS kernel family this CPU can run ("Cooperlake", "SkylakeX", "Haswell"), or ""
// when there is nothing better than OpenBLAS's own choice to suggest.
std::string best_blas_core_for_cpu();

// Whether OpenBLAS's choice `current` is slower than `best` (a fallback to older kernels).
bool blas_core_is_fallback(const std::string& current, const std::string& best);

// Call first thing in main(). When OPENBLAS_CORETYPE is unset and OpenBLAS picked a fallback
// kernel family for this CPU, sets OPENBLAS_CORETYPE to the best one (saying so on stderr when
// PACKBENCH_VERBOSE is set; `packbench model info` and train_results.json show the kernels), and
// re-executes the program with the same arguments (OpenBLAS reads the variable only when it is
// loaded). Child processes inherit the variable. Returns normally otherwise, or if exec fails.
void ensure_fast_blas_kernels(char** argv);

}  // namespace packbench::train
