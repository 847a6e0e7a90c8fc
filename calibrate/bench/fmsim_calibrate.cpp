// fmsim-calibrate: microbenchmarks of this node's GPUs, network and storage, written as
// measurements.json (fmsim-measurements/1, calibrate/fit/measurements.h) for `fmsim calibrate fit`.
//
// Suites (docs/calibration.md has the run times and the Slurm/EKS recipes):
//   gemm     cuBLASLt GEMMs, BF16 and (on Hopper and later) FP8 E4M3, TN layout, FP32 accumulate:
//            the shapes a model preset's layers produce at the given TP (sim/model), plus a square
//            sweep
//   attention the unfused path, FP16: batched cuBLASLt GEMMs for Q K^T and P V and cuDNN's softmax
//            forward; backward the four GEMMs (dV, dP, dQ, dK) and cuDNN's softmax backward. The
//            records carry the FLOPs executed (no causal mask) and "implementation": "unfused";
//            a fused FlashAttention kernel is faster, so their efficiency is a floor
//   hbm      device-to-device copy (cudaMemcpyAsync) and a triad-like axpy (cublasSaxpy: reads two
//            arrays, writes one) over a size sweep; bytes = bytes read + written
//   nvlink   cudaMemcpyPeerAsync between every ordered pair of GPUs of the node
//   nccl     all_reduce, all_gather, reduce_scatter, alltoall, sendrecv over a size sweep: one
//            process driving every local GPU, or, under mpirun/srun (built with MPI), one process
//            per GPU across nodes; NCCL_ALGO/NCCL_PROTO from the environment are recorded
//   storage  sequential and random read and write with O_DIRECT on --storage-path, N threads
// Each record keeps every timed repetition (--reps) of --iters calls, warm-up calls excluded.
// Without a CUDA GPU it says so and exits 2. Fused attention (cuDNN's SDPA graph) is not measured
// yet.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <fcntl.h>
#include <nccl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"

#ifdef FMSIM_WITH_MPI
#include <mpi.h>
#endif

namespace {

using nlohmann::json;

// --- errors ----------------------------------------------------------------------------------

struct NoGpu : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}
void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(what) + ": cuBLAS status " +
                             std::to_string(static_cast<int>(status)));
  }
}
void check_cudnn(cudnnStatus_t status, const char* what) {
  if (status != CUDNN_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(what) + ": " + cudnnGetErrorString(status));
  }
}
void check_nccl(ncclResult_t status, const char* what) {
  if (status != ncclSuccess) {
    throw std::runtime_error(std::string(what) + ": " + ncclGetErrorString(status));
  }
}

// --- options and progress ----------------------------------------------------------------------

struct Options {
  std::vector<std::string> suites;
  std::string out = "measurements.json";
  std::string instance;
  std::string storage_path;
  std::string storage_tier = "other";
  std::vector<std::string> models = {"llama3-8b", "llama3-70b"};
  std::vector<int> tps = {1, 2, 4, 8};
  int tokens = 8192;  // per GPU, per GEMM of the model shapes
  int warmup = 3, iters = 10, reps = 5;
  double max_bytes = 4.0 * (1ULL << 30);
  int storage_threads = 16;
  double storage_block = 1 << 20;
  double storage_bytes = 16.0 * (1ULL << 30);  // the largest file of the storage sweep
  bool force = false;
  bool verbose = false;     // one line per timed record on stderr
  int rank = 0, ranks = 1;  // MPI
};

class Progress {
 public:
  explicit Progress(bool on) : on_(on && isatty(STDERR_FILENO)) {}
  void operator()(const std::string& suite, std::size_t done, std::size_t total) const {
    if (!on_) return;
    std::fprintf(stderr, "\r%-8s %5zu / %-5zu", suite.c_str(), done, total);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  bool on_;
};

// With --verbose, one line per timed record: what it was and its median time per call.
void note(const Options& o, const std::string& what, const std::vector<double>& samples) {
  if (!o.verbose || samples.empty()) return;
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  std::fprintf(stderr, "%s: %.4g ms\n", what.c_str(), sorted[sorted.size() / 2] * 1e3);
}

// Times `reps` repetitions of `iters` calls of `launch` on `stream` with CUDA events, after
// `warmup` calls: seconds per call, one sample per repetition.
template <typename Launch>
std::vector<double> time_on_stream(cudaStream_t stream, const Options& o, Launch launch) {
  for (int i = 0; i < o.warmup; ++i) launch();
  check_cuda(cudaStreamSynchronize(stream), "warm-up");
  cudaEvent_t start, stop;
  check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> samples;
  for (int r = 0; r < o.reps; ++r) {
    check_cuda(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int i = 0; i < o.iters; ++i) launch();
    check_cuda(cudaEventRecord(stop, stream), "cudaEventRecord");
    check_cuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    samples.push_back(ms * 1e-3 / o.iters);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return samples;
}

std::vector<double> size_sweep(double from, double to, double factor) {
  std::vector<double> sizes;
  for (double b = from; b <= to; b *= factor) sizes.push_back(b);
  return sizes;
}

// Number formats of the operands the suites fill.
enum class Format { fp32, fp16, bf16, fp8_e4m3 };

// Fills `bytes` of device memory with random finite values of magnitude 2^-4 to 2 in `format`
// (a 16 MiB host pattern, repeated). Tensor cores run measurably faster and cooler on zeros than
// on real data (about 13% for a large BF16 GEMM on an H200), so timing zeroed operands would
// overstate the efficiency the simulator then assumes.
void fill_random(void* device, std::size_t bytes, Format format) {
  struct Bits {
    int width, exponent_shift, exponent_low, mantissa_bits;
  };
  const Bits bits = format == Format::fp32   ? Bits{4, 23, 123, 23}
                    : format == Format::fp16 ? Bits{2, 10, 11, 10}
                    : format == Format::bf16 ? Bits{2, 7, 123, 7}
                                             : Bits{1, 3, 3, 3};
  const std::size_t pattern_bytes = std::min<std::size_t>(bytes, 16u << 20);
  std::vector<unsigned char> pattern(pattern_bytes);
  std::mt19937_64 rng(0x5eed);
  for (std::size_t at = 0; at + bits.width <= pattern_bytes; at += bits.width) {
    const std::uint64_t r = rng();
    const std::uint32_t mantissa = static_cast<std::uint32_t>(r) & ((1u << bits.mantissa_bits) - 1);
    const std::uint32_t exponent = bits.exponent_low + static_cast<std::uint32_t>((r >> 32) % 5);
    const std::uint32_t sign = static_cast<std::uint32_t>(r >> 63);
    const std::uint32_t value =
        sign << (8 * bits.width - 1) | exponent << bits.exponent_shift | mantissa;
    std::memcpy(&pattern[at], &value, bits.width);  // little-endian: the low bytes
  }
  for (std::size_t at = 0; at < bytes; at += pattern_bytes) {
    check_cuda(cudaMemcpy(static_cast<unsigned char*>(device) + at, pattern.data(),
                          std::min(pattern_bytes, bytes - at), cudaMemcpyHostToDevice),
               "cudaMemcpy (fill)");
  }
}

// --- gemm ----------------------------------------------------------------------------------------

// A (strided batched) cuBLASLt GEMM in the TN layout FP8 requires: D = A^T B per batch, A stored
// k x m, B k x n, D m x n, column-major, FP32 accumulation, with cuBLASLt's first heuristic
// algorithm. Throws std::runtime_error when cuBLASLt has none for the shape and types.
class TnGemm {
 public:
  TnGemm(cublasLtHandle_t lt, cudaDataType_t ab, cudaDataType_t d, std::uint64_t m, std::uint64_t n,
         std::uint64_t k, int batch, void* workspace, std::size_t workspace_bytes)
      : lt_(lt), workspace_(workspace), workspace_bytes_(workspace_bytes) {
    check_cublas(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc");
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    check_cublas(
        cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa),
        "TRANSA");
    check_cublas(
        cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb),
        "TRANSB");
    layout(&a_, ab, k, m, batch);
    layout(&b_, ab, k, n, batch);
    layout(&d_, d, m, n, batch);
    cublasLtMatmulPreference_t pref;
    check_cublas(cublasLtMatmulPreferenceCreate(&pref), "preference");
    check_cublas(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspace_bytes, sizeof workspace_bytes),
        "workspace");
    int found = 0;
    check_cublas(
        cublasLtMatmulAlgoGetHeuristic(lt, op_, a_, b_, d_, d_, pref, 1, &heuristic_, &found),
        "heuristic");
    cublasLtMatmulPreferenceDestroy(pref);
    if (found == 0) throw std::runtime_error("cuBLASLt has no algorithm for this shape and type");
  }
  ~TnGemm() {
    cublasLtMatrixLayoutDestroy(a_);
    cublasLtMatrixLayoutDestroy(b_);
    cublasLtMatrixLayoutDestroy(d_);
    cublasLtMatmulDescDestroy(op_);
  }
  TnGemm(const TnGemm&) = delete;
  TnGemm& operator=(const TnGemm&) = delete;

  void run(const void* a, const void* b, void* d, cudaStream_t stream) const {
    const float alpha = 1.0f, beta = 0.0f;
    check_cublas(cublasLtMatmul(lt_, op_, &alpha, a, a_, b, b_, &beta, d, d_, d, d_,
                                &heuristic_.algo, workspace_, workspace_bytes_, stream),
                 "cublasLtMatmul");
  }

 private:
  static void layout(cublasLtMatrixLayout_t* l, cudaDataType_t type, std::uint64_t rows,
                     std::uint64_t cols, int batch) {
    check_cublas(cublasLtMatrixLayoutCreate(l, type, rows, cols, rows), "layout");
    if (batch == 1) return;
    const std::int64_t stride = static_cast<std::int64_t>(rows * cols);
    check_cublas(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                                  sizeof batch),
                 "batch");
    check_cublas(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                  &stride, sizeof stride),
                 "stride");
  }
  cublasLtHandle_t lt_;
  void* workspace_;
  std::size_t workspace_bytes_;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, d_ = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic_{};
};

struct Shape {
  double m, n, k;
};

// The distinct GEMM shapes of the presets' layers at each TP, plus squares 256 .. 16384.
std::vector<Shape> gemm_shapes(const Options& o) {
  std::vector<Shape> shapes;
  auto add = [&](double m, double n, double k) {
    for (const Shape& s : shapes) {
      if (s.m == m && s.n == n && s.k == k) return;
    }
    shapes.push_back({m, n, k});
  };
  for (const std::string& name : o.models) {
    const fmsim::ModelSpec& model = fmsim::model_preset(name, "--model");
    for (int tp : o.tps) {
      const auto kernels = fmsim::layer_forward_kernels(model, 0, o.tokens, 4096, tp, 2.0);
      for (const fmsim::GemmShape& g : kernels.gemms) {
        if (g.count == 1) add(g.m, g.n, g.k);
      }
    }
  }
  for (double s = 256; s <= 16384; s *= 2) add(s, s, s);
  return shapes;
}

json gemm_suite(const Options& o, const Progress& progress) {
  json records = json::array();
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::vector<std::pair<std::string, cudaDataType_t>> precisions = {{"bf16", CUDA_R_16BF}};
  if (prop.major >= 9) precisions.push_back({"fp8", CUDA_R_8F_E4M3});
  const auto shapes = gemm_shapes(o);
  cublasLtHandle_t lt;
  check_cublas(cublasLtCreate(&lt), "cublasLtCreate");
  cudaStream_t stream;
  check_cuda(cudaStreamCreate(&stream), "cudaStreamCreate");
  const std::size_t workspace_bytes = 64ULL << 20;
  void* workspace = nullptr;
  check_cuda(cudaMalloc(&workspace, workspace_bytes), "cudaMalloc workspace");
  // One set of operands, as large as the largest shape needs, filled once per precision.
  double largest_a = 0, largest_b = 0, largest_d = 0;
  for (const Shape& s : shapes) {
    largest_a = std::max(largest_a, s.m * s.k);
    largest_b = std::max(largest_b, s.k * s.n);
    largest_d = std::max(largest_d, s.m * s.n);
  }
  void *a = nullptr, *b = nullptr, *d = nullptr;
  check_cuda(cudaMalloc(&a, static_cast<std::size_t>(largest_a) * 2), "cudaMalloc A");
  check_cuda(cudaMalloc(&b, static_cast<std::size_t>(largest_b) * 2), "cudaMalloc B");
  check_cuda(cudaMalloc(&d, static_cast<std::size_t>(largest_d) * 2), "cudaMalloc D");
  std::size_t done = 0;
  for (const auto& [precision, type] : precisions) {
    const std::size_t element = type == CUDA_R_16BF ? 2 : 1;
    const Format format = type == CUDA_R_16BF ? Format::bf16 : Format::fp8_e4m3;
    fill_random(a, static_cast<std::size_t>(largest_a) * element, format);
    fill_random(b, static_cast<std::size_t>(largest_b) * element, format);
    for (const Shape& s : shapes) {
      progress("gemm " + precision, done++, shapes.size() * precisions.size());
      const auto m = static_cast<std::uint64_t>(s.m), n = static_cast<std::uint64_t>(s.n),
                 k = static_cast<std::uint64_t>(s.k);
      // D (m x n, column-major) = A^T (A stored k x m) x B (k x n): the TN layout FP8 requires.
      // A shape cuBLASLt has no algorithm for is skipped; a failure while timing is an error.
      std::unique_ptr<TnGemm> gemm;
      try {
        gemm =
            std::make_unique<TnGemm>(lt, type, CUDA_R_16BF, m, n, k, 1, workspace, workspace_bytes);
      } catch (const std::runtime_error& e) {
        std::cerr << "fmsim-calibrate: " << precision << " " << m << "x" << n << "x" << k << ": "
                  << e.what() << "; skipped\n";
      }
      if (gemm) {
        const auto samples = time_on_stream(stream, o, [&] { gemm->run(a, b, d, stream); });
        note(o,
             "gemm " + precision + " " + std::to_string(m) + "x" + std::to_string(n) + "x" +
                 std::to_string(k),
             samples);
        records.push_back({{"precision", precision},
                           {"m", s.m},
                           {"n", s.n},
                           {"k", s.k},
                           {"count", 1},
                           {"time_s", samples}});
      }
    }
  }
  cudaFree(a);
  cudaFree(b);
  cudaFree(d);
  progress("gemm", 1, 1);
  cudaFree(workspace);
  cudaStreamDestroy(stream);
  cublasLtDestroy(lt);
  return records;
}

// --- attention -----------------------------------------------------------------------------------

json attention_suite(const Options& o, const Progress& progress) {
  json records = json::array();
  const int heads = 16, head_dim = 128, tokens = 8192;
  cublasLtHandle_t lt;
  check_cublas(cublasLtCreate(&lt), "cublasLtCreate");
  cudnnHandle_t dnn;
  check_cudnn(cudnnCreate(&dnn), "cudnnCreate");
  cudaStream_t stream;
  check_cuda(cudaStreamCreate(&stream), "cudaStreamCreate");
  check_cudnn(cudnnSetStream(dnn, stream), "cudnnSetStream");
  const std::size_t workspace_bytes = 64ULL << 20;
  void* workspace = nullptr;
  check_cuda(cudaMalloc(&workspace, workspace_bytes), "cudaMalloc workspace");
  const std::vector<int> seq_lens = {1024, 2048, 4096, 8192};
  std::size_t done = 0;
  for (int seq : seq_lens) {
    progress("attention", done++, seq_lens.size());
    const int batch = std::max(1, tokens / seq);
    const int bh = batch * heads;
    const std::size_t qkv = static_cast<std::size_t>(bh) * seq * head_dim * 2;  // FP16 bytes
    const std::size_t scores = static_cast<std::size_t>(bh) * seq * seq * 2;
    std::vector<void*> buffers;
    const auto alloc = [&](std::size_t bytes) {
      void* p = nullptr;
      check_cuda(cudaMalloc(&p, bytes), "cudaMalloc");
      fill_random(p, bytes, Format::fp16);
      buffers.push_back(p);
      return p;
    };
    void *q = alloc(qkv), *k = alloc(qkv), *v = alloc(qkv), *out = alloc(qkv), *dout = alloc(qkv),
         *dq = alloc(qkv), *dk = alloc(qkv), *dv = alloc(qkv);
    void *s = alloc(scores), *p = alloc(scores), *dp = alloc(scores), *ds = alloc(scores);
    const auto len = static_cast<std::uint64_t>(seq), dim = static_cast<std::uint64_t>(head_dim);
    // Per head: S = Q K^T (s x s, k = d), O = P V (s x d, k = s); backward dV = P^T dO,
    // dP = dO V^T, dQ = dS K, dK = dS^T Q.
    const TnGemm scores_gemm(lt, CUDA_R_16F, CUDA_R_16F, len, len, dim, bh, workspace,
                             workspace_bytes);
    const TnGemm value_gemm(lt, CUDA_R_16F, CUDA_R_16F, len, dim, len, bh, workspace,
                            workspace_bytes);
    // One softmax row per (batch, head, query): N = bh * seq rows of C = seq scores. INSTANCE
    // mode (over C x H x W) is the same softmax as CHANNEL mode here, but cuDNN 9's CHANNEL-mode
    // backward was about 200x slower on an H200 (1.1 s against 5 ms at seq 8192).
    cudnnTensorDescriptor_t rows;
    check_cudnn(cudnnCreateTensorDescriptor(&rows), "cudnnCreateTensorDescriptor");
    check_cudnn(
        cudnnSetTensor4dDescriptor(rows, CUDNN_TENSOR_NCHW, CUDNN_DATA_HALF, bh * seq, seq, 1, 1),
        "cudnnSetTensor4dDescriptor");
    const float one = 1.0f, zero = 0.0f;
    const double forward_flops = 4.0 * bh * static_cast<double>(seq) * seq * head_dim;
    const auto forward = [&] {
      scores_gemm.run(k, q, s, stream);
      check_cudnn(cudnnSoftmaxForward(dnn, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                                      &one, rows, s, &zero, rows, p),
                  "cudnnSoftmaxForward");
      value_gemm.run(p, v, out, stream);
    };
    const auto backward = [&] {
      value_gemm.run(p, dout, dv, stream);
      scores_gemm.run(v, dout, dp, stream);
      check_cudnn(cudnnSoftmaxBackward(dnn, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                                       &one, rows, p, rows, dp, &zero, rows, ds),
                  "cudnnSoftmaxBackward");
      value_gemm.run(ds, k, dq, stream);
      value_gemm.run(ds, q, dk, stream);
    };
    const json shape = {{"batch", batch},       {"heads", heads},  {"seq_len", seq},
                        {"head_dim", head_dim}, {"causal", false}, {"implementation", "unfused"}};
    json fwd = shape, bwd = shape;
    fwd["direction"] = "forward";
    fwd["flops"] = forward_flops;
    note(o, "attention seq " + std::to_string(seq) + " operands ready", {0.0});
    fwd["time_s"] = time_on_stream(stream, o, forward);
    note(o, "attention seq " + std::to_string(seq) + " forward", fwd["time_s"]);
    bwd["direction"] = "backward";
    bwd["flops"] = 2.0 * forward_flops;
    bwd["time_s"] = time_on_stream(stream, o, backward);
    note(o, "attention seq " + std::to_string(seq) + " backward", bwd["time_s"]);
    records.push_back(fwd);
    records.push_back(bwd);
    cudnnDestroyTensorDescriptor(rows);
    for (void* b : buffers) cudaFree(b);
  }
  progress("attention", seq_lens.size(), seq_lens.size());
  cudaFree(workspace);
  cudaStreamDestroy(stream);
  cudnnDestroy(dnn);
  cublasLtDestroy(lt);
  return records;
}

// --- hbm -----------------------------------------------------------------------------------------

json hbm_suite(const Options& o, const Progress& progress) {
  json records = json::array();
  cudaStream_t stream;
  check_cuda(cudaStreamCreate(&stream), "cudaStreamCreate");
  cublasHandle_t blas;
  check_cublas(cublasCreate(&blas), "cublasCreate");
  check_cublas(cublasSetStream(blas, stream), "cublasSetStream");
  const auto sizes = size_sweep(1 << 16, o.max_bytes, 4);  // bytes per array
  void *x = nullptr, *y = nullptr;
  check_cuda(cudaMalloc(&x, static_cast<std::size_t>(sizes.back())), "cudaMalloc");
  check_cuda(cudaMalloc(&y, static_cast<std::size_t>(sizes.back())), "cudaMalloc");
  fill_random(x, static_cast<std::size_t>(sizes.back()), Format::fp32);
  fill_random(y, static_cast<std::size_t>(sizes.back()), Format::fp32);
  std::size_t done = 0;
  for (double bytes : sizes) {
    progress("hbm", done++, sizes.size());
    const auto n = static_cast<std::size_t>(bytes);
    records.push_back({{"kernel", "copy"},
                       {"bytes", 2 * bytes},
                       {"time_s", time_on_stream(stream, o, [&] {
                          check_cuda(cudaMemcpyAsync(y, x, n, cudaMemcpyDeviceToDevice, stream),
                                     "copy");
                        })}});
  }
  for (double bytes : sizes) {
    const int count = static_cast<int>(bytes / sizeof(float));
    const float alpha = 0.5f;
    records.push_back({{"kernel", "triad"},
                       {"bytes", 3 * bytes},
                       {"time_s", time_on_stream(stream, o, [&] {
                          check_cublas(cublasSaxpy(blas, count, &alpha, static_cast<float*>(x), 1,
                                                   static_cast<float*>(y), 1),
                                       "saxpy");
                        })}});
  }
  progress("hbm", 1, 1);
  cudaFree(x);
  cudaFree(y);
  cublasDestroy(blas);
  cudaStreamDestroy(stream);
  return records;
}

// --- nvlink --------------------------------------------------------------------------------------

json nvlink_suite(const Options& o, int devices, const Progress& progress) {
  json records = json::array();
  if (devices < 2) {
    std::cerr << "fmsim-calibrate: nvlink: one GPU on this node, no pair to measure\n";
    return records;
  }
  const auto sizes = size_sweep(1 << 16, std::min(o.max_bytes, 1.0 * (1ULL << 30)), 4);
  std::vector<void*> buffers(devices, nullptr);
  for (int d = 0; d < devices; ++d) {
    check_cuda(cudaSetDevice(d), "cudaSetDevice");
    check_cuda(cudaMalloc(&buffers[d], static_cast<std::size_t>(sizes.back())), "cudaMalloc");
    for (int e = 0; e < devices; ++e) {
      int can = 0;
      if (e != d && cudaDeviceCanAccessPeer(&can, d, e) == cudaSuccess && can) {
        const cudaError_t status = cudaDeviceEnablePeerAccess(e, 0);
        if (status != cudaSuccess && status != cudaErrorPeerAccessAlreadyEnabled) {
          check_cuda(status, "cudaDeviceEnablePeerAccess");
        }
        cudaGetLastError();
      }
    }
  }
  std::size_t done = 0;
  const std::size_t total = static_cast<std::size_t>(devices) * (devices - 1);
  for (int src = 0; src < devices; ++src) {
    check_cuda(cudaSetDevice(src), "cudaSetDevice");
    cudaStream_t stream;
    check_cuda(cudaStreamCreate(&stream), "cudaStreamCreate");
    for (int dst = 0; dst < devices; ++dst) {
      if (dst == src) continue;
      progress("nvlink", done++, total);
      for (double bytes : sizes) {
        records.push_back({{"src", src},
                           {"dst", dst},
                           {"bytes", bytes},
                           {"time_s", time_on_stream(stream, o, [&] {
                              check_cuda(
                                  cudaMemcpyPeerAsync(buffers[dst], dst, buffers[src], src,
                                                      static_cast<std::size_t>(bytes), stream),
                                  "cudaMemcpyPeerAsync");
                            })}});
      }
    }
    cudaStreamDestroy(stream);
  }
  progress("nvlink", total, total);
  for (int d = 0; d < devices; ++d) {
    cudaSetDevice(d);
    cudaFree(buffers[d]);
  }
  return records;
}

// --- nccl ----------------------------------------------------------------------------------------

// One GPU's part in the NCCL suite: its communicator, stream and buffers.
struct NcclMember {
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void *send = nullptr, *recv = nullptr;
};

// Launches one collective of `bytes` (nccl-tests' size: the buffer per rank for all_reduce and
// all_gather output, ...) on every member, as one NCCL group.
void launch_collective(const std::string& op, std::vector<NcclMember>& members, int ranks,
                       int first_rank, double bytes) {
  const std::size_t count = static_cast<std::size_t>(bytes) / 4;  // floats
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  for (std::size_t i = 0; i < members.size(); ++i) {
    NcclMember& m = members[i];
    const int rank = first_rank + static_cast<int>(i);
    if (op == "all_reduce") {
      check_nccl(ncclAllReduce(m.send, m.recv, count, ncclFloat, ncclSum, m.comm, m.stream),
                 op.c_str());
    } else if (op == "all_gather") {
      check_nccl(ncclAllGather(m.send, m.recv, count / ranks, ncclFloat, m.comm, m.stream),
                 op.c_str());
    } else if (op == "reduce_scatter") {
      check_nccl(
          ncclReduceScatter(m.send, m.recv, count / ranks, ncclFloat, ncclSum, m.comm, m.stream),
          op.c_str());
    } else if (op == "alltoall") {
      const std::size_t chunk = count / ranks;
      for (int peer = 0; peer < ranks; ++peer) {
        check_nccl(ncclSend(static_cast<float*>(m.send) + peer * chunk, chunk, ncclFloat, peer,
                            m.comm, m.stream),
                   "ncclSend");
        check_nccl(ncclRecv(static_cast<float*>(m.recv) + peer * chunk, chunk, ncclFloat, peer,
                            m.comm, m.stream),
                   "ncclRecv");
      }
    } else {  // sendrecv: to the next rank, from the previous one
      check_nccl(ncclSend(m.send, count, ncclFloat, (rank + 1) % ranks, m.comm, m.stream),
                 "ncclSend");
      check_nccl(ncclRecv(m.recv, count, ncclFloat, (rank - 1 + ranks) % ranks, m.comm, m.stream),
                 "ncclRecv");
    }
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd");
}

json nccl_suite(const Options& o, int devices, const Progress& progress) {
  json records = json::array();
  // Single process: every local GPU. Under MPI: one GPU per rank, ranks across nodes.
  const bool mpi = o.ranks > 1;
  const int ranks = mpi ? o.ranks : devices;
  if (ranks < 2) {
    std::cerr << "fmsim-calibrate: nccl: one GPU and no MPI ranks beside it, nothing to measure\n";
    return records;
  }
  std::vector<NcclMember> members(mpi ? 1 : devices);
  const double max_bytes = std::min(o.max_bytes, 8.0 * (1ULL << 30));
  const std::size_t buffer = static_cast<std::size_t>(max_bytes);
  if (mpi) {
#ifdef FMSIM_WITH_MPI
    ncclUniqueId id;
    if (o.rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
    members[0].device = o.rank % devices;
    check_cuda(cudaSetDevice(members[0].device), "cudaSetDevice");
    check_nccl(ncclCommInitRank(&members[0].comm, ranks, id, o.rank), "ncclCommInitRank");
#endif
  } else {
    std::vector<ncclComm_t> comms(devices);
    std::vector<int> list(devices);
    for (int d = 0; d < devices; ++d) list[d] = d;
    check_nccl(ncclCommInitAll(comms.data(), devices, list.data()), "ncclCommInitAll");
    for (int d = 0; d < devices; ++d) members[d].device = d, members[d].comm = comms[d];
  }
  for (NcclMember& m : members) {
    check_cuda(cudaSetDevice(m.device), "cudaSetDevice");
    check_cuda(cudaStreamCreate(&m.stream), "cudaStreamCreate");
    check_cuda(cudaMalloc(&m.send, buffer), "cudaMalloc");
    check_cuda(cudaMalloc(&m.recv, buffer), "cudaMalloc");
    check_cuda(cudaMemset(m.send, 0, buffer), "cudaMemset");
  }
  const char* algorithm = std::getenv("NCCL_ALGO");
  const char* protocol = std::getenv("NCCL_PROTO");
  int hosts = 1;
#ifdef FMSIM_WITH_MPI
  if (mpi) hosts = std::max(1, o.ranks / devices);
#endif
  const std::vector<std::string> ops = {"all_reduce", "all_gather", "reduce_scatter", "alltoall",
                                        "sendrecv"};
  const auto sizes = size_sweep(1024, max_bytes, 4);
  std::size_t done = 0;
  for (const std::string& op : ops) {
    for (double bytes : sizes) {
      if (o.rank == 0) progress("nccl", done, ops.size() * sizes.size());
      ++done;
      const auto sync_all = [&] {
        for (NcclMember& m : members) {
          check_cuda(cudaSetDevice(m.device), "cudaSetDevice");
          check_cuda(cudaStreamSynchronize(m.stream), "cudaStreamSynchronize");
        }
      };
      const int first_rank = mpi ? o.rank : 0;
      for (int i = 0; i < o.warmup; ++i) launch_collective(op, members, ranks, first_rank, bytes);
      sync_all();
      std::vector<double> samples;
      for (int r = 0; r < o.reps; ++r) {
#ifdef FMSIM_WITH_MPI
        if (mpi) MPI_Barrier(MPI_COMM_WORLD);
#endif
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < o.iters; ++i) launch_collective(op, members, ranks, first_rank, bytes);
        sync_all();
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
            o.iters;
#ifdef FMSIM_WITH_MPI
        // The slowest rank's time, as nccl-tests reports with -a 2 (max).
        if (mpi) MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#endif
        samples.push_back(seconds);
      }
      records.push_back({{"op", op},
                         {"algorithm", algorithm != nullptr ? algorithm : "any"},
                         {"protocol", protocol != nullptr ? protocol : "any"},
                         {"ranks", ranks},
                         {"nodes", hosts},
                         {"bytes", bytes},
                         {"time_s", samples}});
    }
  }
  if (o.rank == 0) progress("nccl", done, done);
  for (NcclMember& m : members) {
    cudaSetDevice(m.device);
    ncclCommDestroy(m.comm);
    cudaFree(m.send);
    cudaFree(m.recv);
    cudaStreamDestroy(m.stream);
  }
  return records;
}

// --- storage -------------------------------------------------------------------------------------

json storage_suite(const Options& o, const Progress& progress) {
  json records = json::array();
  if (o.storage_path.empty()) return records;
  const std::string file = o.storage_path + "/fmsim-calibrate-" + std::to_string(getpid()) + ".bin";
  const auto block = static_cast<std::size_t>(o.storage_block);
  const int threads = o.storage_threads;
  const auto sizes = size_sweep(64.0 * block, std::max(64.0 * block, o.storage_bytes), 4);
  const auto run = [&](bool write, bool random, double bytes) {
    const std::size_t blocks = static_cast<std::size_t>(bytes) / block;
    const std::size_t per_thread = std::max<std::size_t>(1, blocks / threads);
    std::vector<std::thread> pool;
    std::vector<std::string> errors(threads);
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        void* buffer = nullptr;
        if (posix_memalign(&buffer, 4096, block) != 0) {
          errors[t] = "posix_memalign";
          return;
        }
        std::memset(buffer, t, block);
        const int fd = open(file.c_str(), (write ? O_WRONLY | O_CREAT : O_RDONLY) | O_DIRECT, 0600);
        if (fd < 0) {
          errors[t] = std::string("open ") + file + ": " + std::strerror(errno);
          free(buffer);
          return;
        }
        std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
        for (std::size_t i = 0; i < per_thread; ++i) {
          const std::size_t index = random ? rng() % (per_thread * threads)
                                           : static_cast<std::size_t>(t) * per_thread + i;
          const off_t offset = static_cast<off_t>(index * block);
          const ssize_t done =
              write ? pwrite(fd, buffer, block, offset) : pread(fd, buffer, block, offset);
          if (done != static_cast<ssize_t>(block)) {
            errors[t] = std::string(write ? "pwrite: " : "pread: ") + std::strerror(errno);
            break;
          }
        }
        if (write) fsync(fd);
        close(fd);
        free(buffer);
      });
    }
    for (std::thread& th : pool) th.join();
    for (const std::string& e : errors) {
      if (!e.empty()) throw std::runtime_error("storage suite: " + e);
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::size_t done = 0;
  for (double bytes : sizes) {
    progress("storage", done++, sizes.size());
    for (const bool random : {false, true}) {
      for (const bool write : {true, false}) {
        std::vector<double> samples;
        for (int r = 0; r < std::max(1, o.reps / 2); ++r)
          samples.push_back(run(write, random, bytes));
        records.push_back({{"tier", o.storage_tier},
                           {"path", o.storage_path},
                           {"mode", write ? "write" : "read"},
                           {"pattern", random ? "random" : "sequential"},
                           {"block_bytes", o.storage_block},
                           {"threads", threads},
                           {"bytes", bytes},
                           {"time_s", samples}});
      }
    }
  }
  progress("storage", sizes.size(), sizes.size());
  std::remove(file.c_str());
  // One series per (mode, pattern): sizes increase within each, as the fit requires.
  std::stable_sort(records.begin(), records.end(), [](const json& a, const json& b) {
    return a["mode"].get<std::string>() + a["pattern"].get<std::string>() <
           b["mode"].get<std::string>() + b["pattern"].get<std::string>();
  });
  return records;
}

// --- environment ---------------------------------------------------------------------------------

json environment(const Options& o, int devices) {
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  int driver = 0, runtime = 0, nccl = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  ncclGetVersion(&nccl);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string arch;
  if (prop.major == 8) arch = "ampere";
  if (prop.major == 9) arch = "hopper";
  if (prop.major >= 10) arch = "blackwell";
  json env = {{"gpu", prop.name},
              {"driver", std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10)},
              {"cuda", std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10)},
              {"nccl", std::to_string(nccl)},
              {"cudnn", std::to_string(cudnnGetVersion())},
              {"cublaslt", std::to_string(cublasLtGetVersion())},
              {"hostname", host},
              {"date", date},
              {"gpus_per_node", devices},
              {"l2_bytes", prop.l2CacheSize},
              {"nodes", std::max(1, o.ranks / std::max(1, devices))}};
  if (!arch.empty()) env["gpu_arch"] = arch;
  if (!o.instance.empty()) env["instance"] = o.instance;
  return env;
}

int run(const Options& o) {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    throw NoGpu(std::string("no CUDA GPU on this machine (cudaGetDeviceCount: ") +
                (status != cudaSuccess ? cudaGetErrorString(status) : "0 devices") +
                "); run fmsim-calibrate on a GPU node, or fit nccl-tests logs you already have "
                "with 'fmsim calibrate fit'");
  }
  const Progress progress(true);
  const auto wants = [&](const char* suite) {
    return std::find(o.suites.begin(), o.suites.end(), suite) != o.suites.end();
  };
  json doc = {{"format", "fmsim-measurements/1"}, {"environment", environment(o, devices)}};
  // Under MPI only the NCCL suite runs on every rank; the node-local suites run on rank 0.
  if (o.rank == 0) {
    if (wants("gemm")) doc["gemm"] = gemm_suite(o, progress);
    if (wants("attention")) doc["attention"] = attention_suite(o, progress);
    if (wants("hbm")) doc["hbm"] = hbm_suite(o, progress);
    if (wants("nvlink")) doc["nvlink"] = nvlink_suite(o, devices, progress);
    if (wants("storage")) doc["storage"] = storage_suite(o, progress);
  }
  if (wants("nccl")) doc["nccl"] = nccl_suite(o, devices, progress);
  if (o.rank == 0) {
    std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
    out << doc.dump(1) << "\n";
    if (!out) throw std::runtime_error("cannot write " + o.out);
    std::cerr << "fmsim-calibrate: wrote " << o.out << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string suites = "gemm,hbm,nvlink,nccl";
  CLI::App app{"fmsim-calibrate: GPU, NVLink, NCCL and storage microbenchmarks for fmsim"};
  app.add_option("--suite", suites, "Comma-separated: gemm, attention, hbm, nvlink, nccl, storage");
  app.add_option("--out,-o", o.out, "measurements.json to write");
  app.add_option("--instance", o.instance,
                 "This node's instance type (p5.48xlarge, ...): the fit needs the GPU's peaks");
  app.add_option("--storage-path", o.storage_path, "Folder to benchmark (the storage suite)");
  app.add_option("--storage-threads", o.storage_threads, "I/O threads")->check(CLI::Range(1, 1024));
  app.add_option("--storage-bytes", o.storage_bytes,
                 "Largest file of the storage sweep (64 blocks x 4^i up to this; default 16 GiB)");
  app.add_option("--storage-tier", o.storage_tier, "What --storage-path is")
      ->check(CLI::IsMember({"local_nvme", "fsx_lustre", "s3", "other"}));
  app.add_option("--model", o.models, "Model presets whose layer GEMMs to time");
  app.add_option("--tp", o.tps, "Tensor-parallel degrees for the model shapes");
  app.add_option("--iters", o.iters, "Calls per timed repetition")->check(CLI::Range(1, 100000));
  app.add_option("--reps", o.reps, "Timed repetitions per record")->check(CLI::Range(1, 1000));
  app.add_option("--warmup", o.warmup, "Untimed calls first")->check(CLI::Range(0, 1000));
  app.add_option("--max-bytes", o.max_bytes, "Largest size of the sweeps");
  app.add_flag("--force", o.force, "Overwrite --out if it exists");
  app.add_flag("--verbose,-v", o.verbose, "Print each timed record's median to stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::stringstream list(suites);
  for (std::string s; std::getline(list, s, ',');) {
    if (s != "gemm" && s != "attention" && s != "hbm" && s != "nvlink" && s != "nccl" &&
        s != "storage") {
      std::cerr << "fmsim-calibrate: --suite: unknown suite '" << s
                << "'; expected gemm, attention, hbm, nvlink, nccl or storage\n";
      return 2;
    }
    o.suites.push_back(s);
  }
  struct stat st {};
  if (!o.force && stat(o.out.c_str(), &st) == 0) {
    std::cerr << "fmsim-calibrate: " << o.out << " exists; pass --force to overwrite it\n";
    return 2;
  }
#ifdef FMSIM_WITH_MPI
  const bool under_mpi = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
                         std::getenv("PMI_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
  if (under_mpi) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &o.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &o.ranks);
  }
#endif
  int code = 0;
  try {
    code = run(o);
  } catch (const NoGpu& e) {
    std::cerr << "fmsim-calibrate: " << e.what() << "\n";
    code = 2;
  } catch (const std::exception& e) {
    std::cerr << "fmsim-calibrate: error: " << e.what() << "\n";
    code = 70;
  }
#ifdef FMSIM_WITH_MPI
  if (under_mpi) MPI_Finalize();
#endif
  return code;
}
