// Tests of the hardware catalog: the embedded data against the figures of
// shared/data/hardware-facts.md (worked by hand in each comment), and the loader's rules for user
// catalog files, lookups and display.
#include "hardware/catalog.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "data/embedded.h"
#include "error.h"

namespace fmsim {
namespace {

using nlohmann::json;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

const Catalog& builtin() { return Catalog::builtin(); }

const GpuSpec& gpu(const std::string& name) { return builtin().gpu(name, "test"); }
const InstanceSpec& instance(const std::string& name) { return builtin().instance(name, "test"); }

// Runs `action`, which must throw fmsim::Error, and returns that error.
template <class Action>
Error error_of(Action action) {
  try {
    action();
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "expected fmsim::Error";
  return Error(ExitCode::kOk, "", "");
}

std::string write_temp_file(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// Every {"value", "source"} object anywhere under `node`, with its JSON pointer.
void collect_values(const json& node, const std::string& pointer,
                    std::vector<std::pair<std::string, json>>& out) {
  if (node.is_object() && node.contains("value")) {
    out.emplace_back(pointer, node);
    return;
  }
  if (node.is_object()) {
    for (const auto& [key, child] : node.items()) collect_values(child, pointer + "/" + key, out);
  }
  if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      collect_values(node[i], pointer + "/" + std::to_string(i), out);
    }
  }
}

// --- The embedded data: every value sourced ---------------------------------------------------

TEST(CatalogData, EveryEmbeddedValueNamesASourceDefinedInSourcesJson) {
  // Read the files as written, independently of the loader.
  const json sources = json::parse(embedded_file("sources.json")).at("sources");
  for (const std::string file : {"gpus.json", "instances.json"}) {
    std::vector<std::pair<std::string, json>> values;
    collect_values(json::parse(embedded_file(file)), "", values);
    EXPECT_GT(values.size(), 40u) << file;
    for (const auto& [pointer, value] : values) {
      ASSERT_TRUE(value.contains("source")) << file << "#" << pointer;
      EXPECT_TRUE(sources.contains(value["source"].get<std::string>()))
          << file << "#" << pointer << " cites " << value["source"];
    }
  }
}

TEST(CatalogData, EveryLoadedFieldRecordsAKnownSource) {
  // 12 sourced GPU fields (all but name and arch), 12 sourced instance fields (all but name,
  // price_date, price_region and the optional ultraserver).
  for (const auto& spec : builtin().gpus()) {
    EXPECT_EQ(spec.sources.size(), 12u) << spec.name;
    for (const auto& [field, id] : spec.sources) {
      EXPECT_TRUE(builtin().sources().contains(id)) << spec.name << "." << field;
    }
  }
  for (const auto& spec : builtin().instances()) {
    EXPECT_GE(spec.sources.size(), 12u) << spec.name;
    for (const auto& [field, id] : spec.sources) {
      EXPECT_TRUE(builtin().sources().contains(id)) << spec.name << "." << field;
    }
  }
}

TEST(CatalogData, SourcesHaveAKnownStatusAndConfirmedOnesAUrl) {
  for (const auto& [id, source] : builtin().sources()) {
    EXPECT_TRUE(source.status == "confirmed" || source.status == "third-party" ||
                source.status == "unconfirmed")
        << id;
    EXPECT_FALSE(source.title.empty()) << id;
    if (source.status != "unconfirmed") {
      EXPECT_TRUE(source.url.starts_with("https://")) << id;
    }
  }
  EXPECT_EQ(builtin().sources().at("memory-unconfirmed").status, "unconfirmed");
}

TEST(CatalogData, HoldsTheSixGpusAndSevenInstances) {
  std::set<std::string> gpus;
  for (const auto& spec : builtin().gpus()) gpus.insert(spec.name);
  EXPECT_EQ(gpus,
            (std::set<std::string>{"A100-40GB", "A100-80GB", "H100-SXM", "H200", "B200", "GB200"}));
  std::set<std::string> instances;
  for (const auto& spec : builtin().instances()) instances.insert(spec.name);
  EXPECT_EQ(instances,
            (std::set<std::string>{"p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5e.48xlarge",
                                   "p5en.48xlarge", "p6-b200.48xlarge", "p6e-gb200.36xlarge"}));
}

// --- GPUs against the spec sheets --------------------------------------------------------------

TEST(CatalogGpu, H100PeaksAreDenseNotSparse) {
  // Datasheet BF16 1,979 TFLOP/s is with 2:4 sparsity; dense is half: 989.4e12 FLOP/s.
  // FP8 dense 1,978.9 = 3,957.8 sparse / 2, i.e. 2 x BF16 within the sheet's rounding (0.1 TF).
  const GpuSpec& h100 = gpu("H100-SXM");
  EXPECT_DOUBLE_EQ(h100.bf16_flops, 989.4e12);
  EXPECT_DOUBLE_EQ(h100.fp16_flops, 989.4e12);
  EXPECT_NEAR(h100.fp8_flops, 2 * h100.bf16_flops, 0.1e12);
  EXPECT_DOUBLE_EQ(h100.tf32_flops, 494.7e12);
  EXPECT_EQ(h100.sources.at("bf16_dense_tflops"), "klockwood-h100");
}

TEST(CatalogGpu, H100MemoryAndLinksInSiUnits) {
  // 80 GB = 80e9 bytes; 3,350 GB/s = 3.35e12 bytes/s; NVLink 900 GB/s bidirectional = 450e9 per
  // direction; PCIe Gen5 128 GB/s bidirectional = 64e9 per direction; 700 W.
  const GpuSpec& h100 = gpu("H100-SXM");
  EXPECT_DOUBLE_EQ(h100.hbm_bytes, 81920.0 * 1024 * 1024);  // AWS: 81,920 MiB per GPU
  EXPECT_DOUBLE_EQ(h100.hbm_bw_bytes_per_s, 3.35e12);
  EXPECT_EQ(h100.nvlink_links, 18);
  EXPECT_DOUBLE_EQ(h100.nvlink_bw_bytes_per_s, 450e9);
  EXPECT_DOUBLE_EQ(h100.pcie_bw_bytes_per_s, 64e9);
  EXPECT_DOUBLE_EQ(h100.tdp_w, 700.0);
  EXPECT_EQ(h100.arch, GpuArch::kHopper);
}

TEST(CatalogGpu, H100NcclEffectiveNvlinkIs18LinksOf20_6GBps) {
  // NCCL topo.h SM90_NVLINK_BW = 20.6 GB/s per link: 18 x 20.6 = 370.8 GB/s per direction.
  const GpuSpec& h100 = gpu("H100-SXM");
  EXPECT_DOUBLE_EQ(h100.nvlink_link_effective_bw_bytes_per_s, 20.6e9);
  EXPECT_NEAR(h100.nvlink_effective_bw_bytes_per_s(), 370.8e9, 1.0);
  EXPECT_LT(h100.nvlink_effective_bw_bytes_per_s(), h100.nvlink_bw_bytes_per_s);
}

TEST(CatalogGpu, NcclPerLinkFiguresFollowTheArchitecture) {
  // topo.h: SM80 20.0, SM90 20.6, SM100 40.1 GB/s.
  EXPECT_DOUBLE_EQ(gpu("A100-40GB").nvlink_link_effective_bw_bytes_per_s, 20.0e9);
  EXPECT_DOUBLE_EQ(gpu("H200").nvlink_link_effective_bw_bytes_per_s, 20.6e9);
  EXPECT_DOUBLE_EQ(gpu("B200").nvlink_link_effective_bw_bytes_per_s, 40.1e9);
  EXPECT_DOUBLE_EQ(gpu("GB200").nvlink_link_effective_bw_bytes_per_s, 40.1e9);
}

TEST(CatalogGpu, A100HasNoFp8AndNoNvls) {
  // A100: BF16 312, TF32 156 TFLOP/s dense; no FP8 tensor cores; NCCL nvlsEfficiency 0 on Ampere.
  // HBM2 1,555 GB/s (40 GB), HBM2e 2,039 GB/s (80 GB); NVLink3 300 GB/s per direction; 400 W.
  const GpuSpec& a100 = gpu("A100-40GB");
  EXPECT_DOUBLE_EQ(a100.bf16_flops, 312e12);
  EXPECT_DOUBLE_EQ(a100.tf32_flops, 156e12);
  EXPECT_EQ(a100.fp8_flops, 0.0);
  EXPECT_FALSE(a100.nvls);
  EXPECT_DOUBLE_EQ(a100.hbm_bytes, 40.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(a100.hbm_bw_bytes_per_s, 1.555e12);
  EXPECT_DOUBLE_EQ(gpu("A100-80GB").hbm_bytes, 80.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(gpu("A100-80GB").hbm_bw_bytes_per_s, 2.039e12);
  EXPECT_DOUBLE_EQ(a100.nvlink_bw_bytes_per_s, 300e9);
  EXPECT_DOUBLE_EQ(a100.pcie_bw_bytes_per_s, 32e9);
  EXPECT_DOUBLE_EQ(a100.tdp_w, 400.0);
}

TEST(CatalogGpu, NvlsOnHopperAndBlackwellOnly) {
  // nvlsEfficiency: Ampere 0, Hopper 0.85, Blackwell 0.74.
  for (const auto& spec : builtin().gpus()) {
    EXPECT_EQ(spec.nvls, spec.arch != GpuArch::kAmpere) << spec.name;
    EXPECT_EQ(spec.sources.at("nvls"), "nccl-tuning-cc") << spec.name;
  }
}

TEST(CatalogGpu, H200IsAnH100DieWithMoreAndFasterMemory) {
  // Same GH100 compute (989.4 dense BF16), 141 GB HBM3e at 4,800 GB/s, 700 W.
  const GpuSpec& h200 = gpu("H200");
  EXPECT_DOUBLE_EQ(h200.bf16_flops, gpu("H100-SXM").bf16_flops);
  EXPECT_DOUBLE_EQ(h200.hbm_bytes, 141.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(h200.hbm_bw_bytes_per_s, 4.8e12);
  EXPECT_DOUBLE_EQ(h200.tdp_w, 700.0);
}

TEST(CatalogGpu, BlackwellVariantsDifferByPowerConfiguration) {
  // HGX B200 at 1,000 W: BF16 2,250, FP8 4,500, TF32 1,100 TFLOP/s dense.
  // GB200's B200 at 1,200 W: BF16 2,500, FP8 5,000, TF32 1,250. NVLink5 1,800 GB/s = 900 per
  // direction over 18 links. GB200 on NVLink-C2C: 900 GB/s bidirectional = 450e9 per direction.
  const GpuSpec& b200 = gpu("B200");
  EXPECT_DOUBLE_EQ(b200.bf16_flops, 2250e12);
  EXPECT_DOUBLE_EQ(b200.fp8_flops, 4500e12);
  EXPECT_DOUBLE_EQ(b200.tf32_flops, 1100e12);
  EXPECT_DOUBLE_EQ(b200.tdp_w, 1000.0);
  const GpuSpec& gb200 = gpu("GB200");
  EXPECT_DOUBLE_EQ(gb200.bf16_flops, 2500e12);
  EXPECT_DOUBLE_EQ(gb200.fp8_flops, 5000e12);
  EXPECT_DOUBLE_EQ(gb200.tf32_flops, 1250e12);
  EXPECT_DOUBLE_EQ(gb200.tdp_w, 1200.0);
  for (const GpuSpec* spec : {&b200, &gb200}) {
    EXPECT_EQ(spec->arch, GpuArch::kBlackwell);
    EXPECT_EQ(spec->nvlink_links, 18);
    EXPECT_DOUBLE_EQ(spec->nvlink_bw_bytes_per_s, 900e9);
  }
  EXPECT_DOUBLE_EQ(gb200.pcie_bw_bytes_per_s, 450e9);
}

TEST(CatalogGpu, ArchNamesAreLowercaseWords) {
  EXPECT_EQ(to_string(GpuArch::kAmpere), "ampere");
  EXPECT_EQ(to_string(GpuArch::kHopper), "hopper");
  EXPECT_EQ(to_string(GpuArch::kBlackwell), "blackwell");
}

// --- Instances against the AWS data ------------------------------------------------------------

TEST(CatalogInstance, P5HasEightH100sAnd3200GbpsOfEfa) {
  // 32 EFA NICs x 100 Gbit/s = 3,200 Gbit/s = 400e9 bytes/s (karpenter bandwidth 3,200,000 Mbps).
  const InstanceSpec& p5 = instance("p5.48xlarge");
  EXPECT_EQ(p5.gpu, "H100-SXM");
  EXPECT_EQ(&builtin().gpu_of(p5), &gpu("H100-SXM"));
  EXPECT_EQ(p5.gpus_per_node, 8);
  EXPECT_EQ(p5.nvlink_domain_gpus, 8);
  EXPECT_EQ(p5.efa_nics, 32);
  EXPECT_DOUBLE_EQ(p5.efa_nic_bw_bytes_per_s, 12.5e9);
  EXPECT_DOUBLE_EQ(p5.efa_bw_bytes_per_s(), 400e9);
  EXPECT_EQ(p5.efa_generation, "EFAv2");
}

TEST(CatalogInstance, P5HostFromDescribeInstanceTypes) {
  // AMD, 192 vCPUs, 2,097,152 MiB = 2,048 GiB = 2,199,023,255,552 bytes; NVMe 30,400 GB = 30.4e12.
  const InstanceSpec& p5 = instance("p5.48xlarge");
  EXPECT_EQ(p5.cpu_vendor, "amd");
  EXPECT_EQ(p5.vcpus, 192);
  EXPECT_DOUBLE_EQ(p5.host_memory_bytes, 2199023255552.0);
  EXPECT_EQ(p5.nvme_drives, 8);
  EXPECT_DOUBLE_EQ(p5.nvme_bytes, 30.4e12);
  EXPECT_EQ(p5.sources.at("cpu_vendor"), "karpenter-describe-p5");
}

TEST(CatalogInstance, P5PriceIsTheJuly2026OnDemandFigure) {
  // karpenter pricing file generated 2026-07-20, us-east-1: $55.04/h (= $6.88 per GPU-hour).
  const InstanceSpec& p5 = instance("p5.48xlarge");
  ASSERT_TRUE(p5.price_usd_per_hour.has_value());
  EXPECT_DOUBLE_EQ(*p5.price_usd_per_hour, 55.04);
  EXPECT_DOUBLE_EQ(*p5.price_usd_per_hour / p5.gpus_per_node, 6.88);
  EXPECT_EQ(p5.price_date, "2026-07-20");
  EXPECT_EQ(p5.price_region, "us-east-1");
  EXPECT_EQ(p5.sources.at("price_usd_per_hour"), "karpenter-pricing-2026-07-20");
}

TEST(CatalogInstance, OtherOnDemandPricesMatchTheSameFile) {
  EXPECT_DOUBLE_EQ(*instance("p4d.24xlarge").price_usd_per_hour, 21.957642);
  EXPECT_DOUBLE_EQ(*instance("p4de.24xlarge").price_usd_per_hour, 27.44705);
  EXPECT_DOUBLE_EQ(*instance("p5en.48xlarge").price_usd_per_hour, 63.296);
  EXPECT_DOUBLE_EQ(*instance("p6-b200.48xlarge").price_usd_per_hour, 113.9328);
}

TEST(CatalogInstance, NoPriceWhereAwsListsNoneOnDemand) {
  // p5e and the GB200 UltraServer nodes are sold as capacity blocks only.
  EXPECT_FALSE(instance("p5e.48xlarge").price_usd_per_hour.has_value());
  EXPECT_FALSE(instance("p6e-gb200.36xlarge").price_usd_per_hour.has_value());
}

TEST(CatalogInstance, EfaTotalsMatchKarpenterBandwidth) {
  // Network cards x per-card rate: p4d 4 x 100 = 400 Gbit/s = 50e9 B/s; p5en 16 x 200 and
  // p6-b200 8 x 400 = 3,200 Gbit/s = 400e9 B/s.
  EXPECT_DOUBLE_EQ(instance("p4d.24xlarge").efa_bw_bytes_per_s(), 50e9);
  EXPECT_EQ(instance("p5en.48xlarge").efa_nics, 16);
  EXPECT_DOUBLE_EQ(instance("p5en.48xlarge").efa_bw_bytes_per_s(), 400e9);
  EXPECT_EQ(instance("p6-b200.48xlarge").efa_nics, 8);
  EXPECT_DOUBLE_EQ(instance("p6-b200.48xlarge").efa_bw_bytes_per_s(), 400e9);
}

TEST(CatalogInstance, Gb200NodeSpansA72GpuNvlinkDomain) {
  // u-p6e-gb200x72 = 18 nodes x 4 GPUs = 72 GPUs in one NVLink domain. EFA 28.8 Tbit/s / 72 GPUs
  // = 400 Gbit/s per GPU = 1.6 Tbit/s per node = 200e9 bytes/s.
  const InstanceSpec& node = instance("p6e-gb200.36xlarge");
  EXPECT_EQ(node.gpu, "GB200");
  EXPECT_EQ(node.gpus_per_node, 4);
  EXPECT_EQ(node.nvlink_domain_gpus, 72);
  EXPECT_EQ(node.nvlink_domain_nodes(), 18);
  EXPECT_EQ(node.ultraserver, "u-p6e-gb200x72");
  EXPECT_DOUBLE_EQ(node.efa_bw_bytes_per_s(), 200e9);
  EXPECT_DOUBLE_EQ(node.efa_bw_bytes_per_s() / node.gpus_per_node, 50e9);  // 400 Gbit/s
  EXPECT_EQ(node.cpu_vendor, "arm");
  EXPECT_EQ(node.vcpus, 144);
  EXPECT_DOUBLE_EQ(node.host_memory_bytes, 960 * kGiB);
}

TEST(CatalogInstance, HgxNodesAreTheirOwnNvlinkDomain) {
  for (const auto& spec : builtin().instances()) {
    if (!spec.ultraserver.empty()) continue;
    EXPECT_EQ(spec.nvlink_domain_gpus, 8) << spec.name;
    EXPECT_EQ(spec.nvlink_domain_nodes(), 1) << spec.name;
  }
}

TEST(CatalogInstance, EveryInstanceGpuResolves) {
  for (const auto& spec : builtin().instances()) {
    EXPECT_EQ(builtin().gpu_of(spec).name, spec.gpu) << spec.name;
  }
}

TEST(CatalogInstance, CpuVendorsAsRecorded) {
  // p5en Intel (dstack); p4d and p6-b200 Intel only from memory: their source says so.
  EXPECT_EQ(instance("p5en.48xlarge").cpu_vendor, "intel");
  EXPECT_EQ(instance("p4d.24xlarge").cpu_vendor, "intel");
  EXPECT_EQ(instance("p4d.24xlarge").sources.at("cpu_vendor"), "memory-unconfirmed");
  EXPECT_EQ(instance("p6-b200.48xlarge").sources.at("cpu_vendor"), "memory-unconfirmed");
}

// --- Lookups -----------------------------------------------------------------------------------

TEST(CatalogLookup, UnknownInstanceSuggestsTheNearName) {
  const Error error = error_of([] { builtin().instance("p5.48xl", "/cluster/instance"); });
  EXPECT_EQ(error.code(), ExitCode::kBadInput);
  EXPECT_EQ(error.where(), "/cluster/instance");
  EXPECT_NE(error.message().find("did you mean \"p5.48xlarge\""), std::string::npos)
      << error.what();
}

TEST(CatalogLookup, UnknownGpuSuggestsTheNearName) {
  const Error error = error_of([] { builtin().gpu("H100", "/gpu"); });
  EXPECT_NE(error.message().find("did you mean \"H100-SXM\""), std::string::npos) << error.what();
}

TEST(CatalogLookup, FindReturnsNullForUnknownNames) {
  EXPECT_EQ(builtin().find_instance("p9.48xlarge"), nullptr);
  EXPECT_EQ(builtin().find_gpu("V100"), nullptr);
  EXPECT_NE(builtin().find_instance("p5.48xlarge"), nullptr);
}

// --- User catalog files ------------------------------------------------------------------------

TEST(CatalogMerge, UserFileAddsAnInstanceOnABuiltinGpu) {
  // Plain numbers in display units: 100 Gbit/s = 12.5e9 bytes/s; 1,024 GiB; 15.36 TB.
  const std::string path = write_temp_file("catalog_user_instance.json", R"({
    "instances": [{
      "name": "p5-half.24xlarge", "gpu": "H100-SXM", "gpus_per_node": 4, "nvlink_domain_gpus": 4,
      "efa_nics": 16, "efa_nic_gbps": 100, "efa_generation": "EFAv2", "cpu_vendor": "amd",
      "vcpus": 96, "host_memory_gib": 1024, "nvme_drives": 4, "nvme_tb_total": 15.36,
      "price_usd_per_hour": 27.52, "price_date": "2026-08-01", "price_region": "us-west-2"
    }]
  })");
  Catalog catalog = builtin();
  catalog.merge_file(path);
  const InstanceSpec& added = catalog.instance("p5-half.24xlarge", "test");
  EXPECT_EQ(catalog.gpu_of(added).name, "H100-SXM");
  EXPECT_DOUBLE_EQ(added.efa_bw_bytes_per_s(), 16 * 12.5e9);
  EXPECT_DOUBLE_EQ(added.host_memory_bytes, 1024 * kGiB);
  EXPECT_DOUBLE_EQ(added.nvme_bytes, 15.36e12);
  EXPECT_DOUBLE_EQ(*added.price_usd_per_hour, 27.52);
  EXPECT_EQ(added.sources.at("vcpus"), "user");
  EXPECT_EQ(catalog.sources().at("user").url, path);
  EXPECT_EQ(catalog.instances().size(), builtin().instances().size() + 1);
}

TEST(CatalogMerge, InstanceMayUseAGpuFromTheSameDocumentWithItsOwnSource) {
  const json document = json::parse(R"({
    "sources": {"my-bench": {"title": "our HBM test", "url": "", "status": "unconfirmed"}},
    "gpus": [{
      "name": "H100-NVL", "arch": "hopper", "bf16_dense_tflops": 835.5, "fp16_dense_tflops": 835.5,
      "fp8_dense_tflops": 1671, "tf32_dense_tflops": 417.5, "hbm_gib": 94,
      "hbm_bw_gbps": {"value": 3900, "source": "my-bench", "note": "measured"},
      "nvlink_links": 18, "nvlink_gbps_per_direction": 300, "nvlink_link_effective_gbps": 20.6,
      "pcie_gbps_per_direction": 64, "tdp_w": 400, "nvls": false
    }],
    "instances": [{
      "name": "lab-node", "gpu": "H100-NVL", "gpus_per_node": 2, "nvlink_domain_gpus": 2,
      "efa_nics": 0, "efa_nic_gbps": 0, "efa_generation": "none", "cpu_vendor": "intel",
      "vcpus": 64, "host_memory_gib": 512, "nvme_drives": null, "nvme_tb_total": 0,
      "price_usd_per_hour": null, "price_date": "-", "price_region": "-"
    }]
  })");
  Catalog catalog = builtin();
  catalog.merge(document, "lab.json");
  const GpuSpec& added = catalog.gpu_of(catalog.instance("lab-node", "test"));
  EXPECT_DOUBLE_EQ(added.hbm_bw_bytes_per_s, 3.9e12);
  EXPECT_EQ(added.sources.at("hbm_bw_gbps"), "my-bench");
  EXPECT_EQ(added.notes.at("hbm_bw_gbps"), "measured");
  EXPECT_EQ(added.sources.at("tdp_w"), "user");
}

TEST(CatalogMerge, ExistingNameOverridesOnlyTheGivenFields) {
  Catalog catalog = builtin();
  catalog.merge(
      json::parse(R"({"instances": [{"name": "p5.48xlarge", "price_usd_per_hour": 40}]})"),
      "discount.json");
  const InstanceSpec& p5 = catalog.instance("p5.48xlarge", "test");
  EXPECT_DOUBLE_EQ(*p5.price_usd_per_hour, 40.0);
  EXPECT_EQ(p5.sources.at("price_usd_per_hour"), "user");
  EXPECT_EQ(p5.efa_nics, 32);
  EXPECT_EQ(p5.sources.at("efa_nics"), "karpenter-describe-p5");
  EXPECT_EQ(catalog.instances().size(), builtin().instances().size());
}

TEST(CatalogMerge, WrongTypeNamesTheJsonPointer) {
  Catalog catalog = builtin();
  const json document = json::parse(R"({"instances": [{"name": "x", "gpus_per_node": "eight"}]})");
  const Error error = error_of([&] { catalog.merge(document, "extra.json"); });
  EXPECT_EQ(error.code(), ExitCode::kBadInput);
  EXPECT_EQ(error.where(), "extra.json#/instances/0/gpus_per_node");
  EXPECT_EQ(error.message(), "expected a positive integer");
}

TEST(CatalogMerge, WrappedValueErrorPointsAtTheValue) {
  Catalog catalog = builtin();
  const json document = json::parse(
      R"({"gpus": [{"name": "H100-SXM", "hbm_gib": {"value": -1, "source": "user"}}]})");
  const Error error = error_of([&] { catalog.merge(document, "extra.json"); });
  EXPECT_EQ(error.where(), "extra.json#/gpus/0/hbm_gib/value");
  EXPECT_EQ(error.message(), "expected a positive number");
}

TEST(CatalogMerge, NewEntryWithAMissingFieldIsRejected) {
  Catalog catalog = builtin();
  const json document = json::parse(R"({"gpus": [{"name": "X1", "arch": "hopper"}]})");
  const Error error = error_of([&] { catalog.merge(document, "extra.json"); });
  EXPECT_EQ(error.where(), "extra.json#/gpus/0");
  // Every missing field is named in one message.
  EXPECT_TRUE(error.message().starts_with("missing fields \"bf16_dense_tflops\", "))
      << error.what();
  EXPECT_NE(error.message().find("\"nvls\""), std::string::npos) << error.what();
}

TEST(CatalogMerge, UnknownFieldSuggestsTheSpelling) {
  Catalog catalog = builtin();
  const json document =
      json::parse(R"({"instances": [{"name": "p5.48xlarge", "gpu_per_node": 8}]})");
  const Error error = error_of([&] { catalog.merge(document, "extra.json"); });
  EXPECT_EQ(error.where(), "extra.json#/instances/0/gpu_per_node");
  EXPECT_NE(error.message().find("did you mean \"gpus_per_node\""), std::string::npos)
      << error.what();
}

TEST(CatalogMerge, UnknownGpuOrSourceIsRejected) {
  Catalog catalog = builtin();
  const Error gpu_error = error_of([&] {
    catalog.merge(json::parse(R"({"instances": [{"name": "p5.48xlarge", "gpu": "H100-SMX"}]})"),
                  "extra.json");
  });
  EXPECT_EQ(gpu_error.where(), "extra.json#/instances/0/gpu");
  EXPECT_NE(gpu_error.message().find("did you mean \"H100-SXM\""), std::string::npos);
  const Error source_error = error_of([&] {
    catalog.merge(
        json::parse(R"({"gpus": [{"name": "H200", "tdp_w": {"value": 600, "source": "nope"}}]})"),
        "extra.json");
  });
  EXPECT_EQ(source_error.where(), "extra.json#/gpus/0/tdp_w/source");
}

TEST(CatalogMerge, DomainMustBeAMultipleOfTheNode) {
  // p5 has an 8-GPU domain; 3 GPUs per node cannot tile it.
  Catalog catalog = builtin();
  const Error error = error_of([&] {
    catalog.merge(json::parse(R"({"instances": [{"name": "p5.48xlarge", "gpus_per_node": 3}]})"),
                  "extra.json");
  });
  EXPECT_EQ(error.where(), "extra.json#/instances/0/nvlink_domain_gpus");
}

TEST(CatalogMerge, FailedMergeLeavesTheCatalogUnchanged) {
  // The first entry is valid, the second is not: neither is applied.
  Catalog catalog = builtin();
  const json document = json::parse(R"({"instances": [
    {"name": "p5.48xlarge", "vcpus": 1},
    {"name": "p5e.48xlarge", "vcpus": 0}]})");
  EXPECT_THROW(catalog.merge(document, "extra.json"), Error);
  EXPECT_EQ(catalog.instance("p5.48xlarge", "test").vcpus, 192);
}

TEST(CatalogMerge, MissingOrMalformedFileNamesThePath) {
  Catalog catalog;
  const Error missing = error_of([&] { catalog.merge_file("/nonexistent/catalog.json"); });
  EXPECT_EQ(missing.where(), "/nonexistent/catalog.json");
  EXPECT_EQ(missing.code(), ExitCode::kBadInput);
  const std::string path = write_temp_file("catalog_bad.json", "{\"gpus\": [");
  const Error malformed = error_of([&] { catalog.merge_file(path); });
  EXPECT_EQ(malformed.where(), path);
  const Error not_object = error_of([&] { catalog.merge(json::array(), "a.json"); });
  EXPECT_EQ(not_object.where(), "a.json");
}

// --- Display -----------------------------------------------------------------------------------

TEST(CatalogOutput, TableListsEveryInstanceGpuAndSource) {
  const std::string table = catalog_table(builtin());
  for (const auto& spec : builtin().instances()) {
    EXPECT_NE(table.find(spec.name), std::string::npos) << spec.name;
  }
  for (const auto& spec : builtin().gpus()) {
    EXPECT_NE(table.find(spec.name), std::string::npos) << spec.name;
  }
  for (const auto& [id, source] : builtin().sources()) {
    EXPECT_NE(table.find(id), std::string::npos) << id;
  }
  EXPECT_NE(table.find("989.4"), std::string::npos);
  EXPECT_NE(table.find("55.04"), std::string::npos);
}

TEST(CatalogOutput, JsonIsInDisplayUnitsWithSources) {
  // H100 989.4e12 FLOP/s -> 989.4 TFLOP/s; p5 12.5e9 bytes/s per NIC -> 100 Gbit/s.
  const json out = catalog_json(builtin());
  const json& h100 = out["gpus"][2];
  ASSERT_EQ(h100["name"], "H100-SXM");
  EXPECT_EQ(h100["bf16_dense_tflops"]["value"], 989.4);
  EXPECT_EQ(h100["bf16_dense_tflops"]["source"], "klockwood-h100");
  EXPECT_EQ(h100["arch"], "hopper");
  const json& p5 = out["instances"][2];
  ASSERT_EQ(p5["name"], "p5.48xlarge");
  EXPECT_EQ(p5["efa_nic_gbps"]["value"], 100.0);
  EXPECT_EQ(p5["host_memory_gib"]["value"], 2048.0);
  EXPECT_TRUE(out["instances"][3]["price_usd_per_hour"]["value"].is_null());
  EXPECT_TRUE(out["sources"].contains("nccl-topo-h"));
}

TEST(CatalogOutput, JsonMergesBackIntoAnEqualCatalog) {
  // catalog_json() uses the same mapping as the loader, so it reads back to the same values.
  Catalog copy;
  copy.merge(catalog_json(builtin()), "roundtrip.json");
  ASSERT_EQ(copy.gpus().size(), builtin().gpus().size());
  for (std::size_t i = 0; i < copy.gpus().size(); ++i) {
    const GpuSpec& a = copy.gpus()[i];
    const GpuSpec& b = builtin().gpus()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_DOUBLE_EQ(a.bf16_flops, b.bf16_flops);
    EXPECT_DOUBLE_EQ(a.hbm_bytes, b.hbm_bytes);
    EXPECT_DOUBLE_EQ(a.nvlink_link_effective_bw_bytes_per_s,
                     b.nvlink_link_effective_bw_bytes_per_s);
    EXPECT_EQ(a.sources, b.sources);
    EXPECT_EQ(a.notes, b.notes);
  }
  ASSERT_EQ(copy.instances().size(), builtin().instances().size());
  for (std::size_t i = 0; i < copy.instances().size(); ++i) {
    const InstanceSpec& a = copy.instances()[i];
    const InstanceSpec& b = builtin().instances()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_DOUBLE_EQ(a.efa_nic_bw_bytes_per_s, b.efa_nic_bw_bytes_per_s);
    EXPECT_DOUBLE_EQ(a.host_memory_bytes, b.host_memory_bytes);
    EXPECT_EQ(a.price_usd_per_hour, b.price_usd_per_hour);
    EXPECT_EQ(a.ultraserver, b.ultraserver);
    EXPECT_EQ(a.sources, b.sources);
  }
  EXPECT_FALSE(copy.sources().contains("user"));
}

}  // namespace
}  // namespace fmsim
