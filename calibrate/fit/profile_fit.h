// From measurements (measurements.json files, nccl-tests logs) to a calibration profile, with the
// report an operator reads to see where the model departs from the hardware: a table of every
// fitted parameter with its standard error, R^2 and largest residual, and one plot per suite of
// the measured points against the fitted curve. `fmsim calibrate fit` is this plus file output.
//
// What each suite fits (models in fit.h; the simulator parameter in parentheses):
//   gemm       max efficiency and output tile per precision over the measured shapes, efficiency =
//              FLOPs / (median time x the GPU's dense peak)   (compute.gemm.<precision>)
//   attention  the mean efficiency forward and backward, FLOPs / (median time x BF16 peak)
//   hbm        latency + bytes / bandwidth of the copy kernel (triad if no copy); efficiency =
//              bandwidth / the GPU's HBM bandwidth              (compute.hbm_efficiency)
//   nvlink     latency + bytes / bandwidth per GPU pair; per-link bandwidth = the median pair's
//              bandwidth / the GPU's NVLink links               (nvlink.link_effective_bw)
//   nccl       latency + bytes / algorithm bandwidth per (op, algorithm, protocol, ranks, nodes),
//              records and nccl-tests logs alike; bus bandwidth by nccl-tests' factor
//   network    NIC efficiency = the best inter-node (nodes >= 2) all_reduce bus bandwidth / the
//              per-GPU EFA line rate (a ring all-reduce moves its bus bandwidth through each GPU's
//              NIC share on a rail-optimised fabric)     (network.nic_efficiency)
//   storage    latency + bytes / bandwidth per (tier, mode, pattern, block, threads)
// The GPU's peaks and links come from the catalog instance the measurements name.
#pragma once

#include <string>
#include <vector>

#include "calibration/profile.h"
#include "fit/fit.h"
#include "fit/measurements.h"
#include "fit/nccl_tests.h"

namespace fmsim {

// One fitted parameter, as the report's table shows it.
struct FitRow {
  std::string suite, item, parameter, unit;
  double value = 0, standard_error = 0;
  double r2 = 0, max_relative_residual = 0;
  int points = 0;
  std::string display;  // shown instead of the value when set (a tile shape)
};

// Measured points and the fitted curve at the same x, for one series of one suite's plot.
struct FitSeries {
  std::string name;
  std::vector<double> x, measured, fitted;
};

struct SuitePlot {
  std::string suite, title, x_label, y_label;
  std::vector<FitSeries> series;
};

struct ProfileFit {
  CalibrationProfile profile;
  std::vector<FitRow> rows;
  std::vector<SuitePlot> plots;
  std::vector<std::string> notes;
};

// Throws fmsim::Error(kBadInput) when nothing can be fitted, when suites that need the GPU's
// peaks come without a catalog instance (naming /environment/instance), or when measurements of
// different machines are mixed.
ProfileFit fit_profile(const std::vector<Measurements>& measurements,
                       const std::vector<NcclTestsLog>& logs, const Catalog& catalog);

std::string render_fit_table(const ProfileFit& fit);
// A log-log plot of the suite: points measured, lines fitted.
std::string render_fit_svg(const SuitePlot& plot);

}  // namespace fmsim
