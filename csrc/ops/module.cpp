// The Python module sslfast._C: loading it registers every op under
// torch.ops.sslfast; the pybind11 functions here report how it was built.
#include <torch/extension.h>

TORCH_LIBRARY(sslfast, m) {}

PYBIND11_MODULE(_C, m) {
  m.doc() = "sslfast native ops (registered as torch.ops.sslfast.*)";
  m.def("built_with_cuda", [] {
#ifdef SSLFAST_WITH_CUDA
    return true;
#else
    return false;
#endif
  }, "True when the CUDA backend was compiled in.");
}
