#include "scenario_form.h"

#include <QAction>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>
#include <cmath>

#include "hardware/catalog.h"
#include "model/model.h"
#include "scenario/scenario.h"

namespace fmsim::gui {
namespace {

const char* kErrorStyle = "border: 2px solid #d0312d; border-radius: 3px;";

// The stages, as bits of Field::stages.
constexpr unsigned kCollective = 1;
constexpr unsigned kPretrain = 2;
constexpr unsigned kSft = 4;
constexpr unsigned kRl = 8;
constexpr unsigned kInference = 16;
constexpr unsigned kTraining = kPretrain | kSft;
constexpr unsigned kAll = kCollective | kTraining | kRl | kInference;

constexpr int kMaxWidth = 16'777'216;  // 2^24, the model's widths
constexpr int kMaxCount = 1'048'576;

QStringList instance_names() {
  QStringList names;
  for (const InstanceSpec& i : Catalog::builtin().instances()) {
    names << QString::fromStdString(i.name);
  }
  return names;
}

QStringList preset_names() {
  QStringList names;
  for (const std::string& n : model_preset_names()) names << QString::fromStdString(n);
  return names;
}

const nlohmann::json* at(const nlohmann::json& doc, const QString& pointer) {
  try {
    const nlohmann::json::json_pointer p(pointer.toStdString());
    return doc.contains(p) ? &doc.at(p) : nullptr;
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

// The pointer a control edits covers an error at `error` when one is inside the other.
bool related(const QString& control, const QString& error) {
  if (error.isEmpty()) return false;
  return control == error || control.startsWith(error + "/") || error.startsWith(control + "/");
}

// The model as the simulator resolves it (every field written out), or null when it does not
// parse: what the model's controls show for the fields the scenario leaves to the preset.
nlohmann::json resolved_model(const nlohmann::json& doc) {
  if (!doc.is_object() || !doc.contains("model")) return nullptr;
  try {
    return to_json(parse_model(doc["model"], "/model"));
  } catch (const std::exception&) {
    return nullptr;
  }
}

bool is_integer(const QString& text) {
  bool ok = false;
  text.toInt(&ok);
  return ok;
}

void set_inherited_look(QWidget* widget, bool inherited) {
  QFont font = widget->font();
  if (font.italic() == inherited) return;
  font.setItalic(inherited);
  widget->setFont(font);
}

}  // namespace

ScenarioForm::ScenarioForm(ScenarioDocument* document, QWidget* parent)
    : QWidget(parent), document_(document) {
  auto* inner = new QWidget;
  auto* column = new QVBoxLayout(inner);

  const QString absentDefault = tr("default");

  beginGroup(tr("Cluster"), kAll);
  addCombo(tr("Instance"), "/cluster/instance", instance_names(),
           tr("AWS instance type from the catalog: its GPUs, NVLink domain, EFA and price "
              "(View > Catalog lists them with their sources)"));
  addSpin(tr("Nodes"), "/cluster/nodes", 1, 1'000'000, 1,
          tr("Number of instances; GPUs = nodes x GPUs per instance"), Absent::kNone, {}, {});

  beginGroup(tr("Network"), kAll);
  addDouble(tr("Oversubscription"), "/cluster/network/oversubscription", 1, 1e6, 2, ":1",
            tr("Leaf downlink : uplink capacity of the rail-optimised fat tree; 1 is "
               "non-blocking, 2 halves the bandwidth between leaves"),
            tr("default (1:1)"));
  addSpin(tr("Nodes per leaf"), "/cluster/network/nodes_per_leaf", 0, kMaxCount, 0,
          tr("Nodes under one leaf switch per rail; the default (sim/data/network.json) is a "
             "modelling choice, AWS does not publish it"),
          Absent::kRemove, tr("default (32)"));
  addSpin(tr("Spine planes"), "/cluster/network/spines", 0, 65'536, 0,
          tr("Spine planes each leaf connects to; traffic between leaves is split evenly"),
          Absent::kRemove, tr("default (16)"));

  beginGroup(tr("Storage"), kTraining);
  addCombo(tr("FSx for Lustre"), "/cluster/storage/fsx_lustre/deployment",
           {"none", "PERSISTENT_2", "PERSISTENT_1", "SCRATCH_2", "SCRATCH_1"},
           tr("An FSx for Lustre file system and its deployment type (throughput tiers, burst "
              "and price); none: data and checkpoints go to S3 or local NVMe"));
  addDouble(tr("FSx capacity"), "/cluster/storage/fsx_lustre/capacity_tib", 0, 1e6, 3, " TiB",
            tr("Storage capacity; aggregate throughput = capacity x throughput per TiB"),
            tr("none"));
  addDouble(tr("FSx throughput"), "/cluster/storage/fsx_lustre/throughput_per_tib_mbps", 0, 1e4, 0,
            tr(" MB/s per TiB"),
            tr("Baseline throughput per TiB: PERSISTENT_2 125, 250, 500 or 1000; PERSISTENT_1 "
               "12 to 200; SCRATCH 200"),
            tr("default (first tier)"));
  addCombo(tr("FSx burst"), "/cluster/storage/fsx_lustre/burst", {"true", "false"},
           tr("Reads may run at the tier's burst rate while the long-run demand stays below the "
              "baseline (burst credits)"),
           Kind::kBool);
  addSpin(tr("S3 prefixes"), "/cluster/storage/s3/prefixes", 0, kMaxCount, 0,
          tr("Partitioned prefixes: S3 serves 5,500 GETs and 3,500 PUTs per second per prefix"),
          Absent::kRemove, tr("default (1)"));

  beginGroup(tr("Reliability"), kTraining);
  addCombo(tr("Failures"), "/cluster/reliability/enabled", {"true", "false"},
           tr("false: no failures and no planned interruptions (checkpoints still stall)"),
           Kind::kBool);
  addDouble(tr("Failure-rate scale"), "/cluster/reliability/rate_scale", 0, 1e6, 2, " x",
            tr("Multiplies every failure class's rate (0.5: a cluster twice as reliable)"),
            tr("default (1 x)"));
  addSpin(tr("Hot spares"), "/cluster/reliability/spare_nodes", 0, kMaxCount, 0,
          tr("Spare nodes paid for and kept ready: a node failure takes one instead of waiting "
             "for a new node"),
          Absent::kRemove, tr("default (none)"));
  addDouble(tr("Restart"), "/cluster/reliability/restart_minutes", 0, 1e7, 1, " min",
            tr("Relaunch, rendezvous and NCCL initialisation after a failure (the checkpoint "
               "reload is simulated separately)"),
            tr("default (10 min)"));
  addCombo(tr("Run length"), "/cluster/reliability/mode", {"analytic", "monte-carlo"},
           tr("analytic: the expected run length; monte-carlo also simulates the run many times "
              "and reports p50/p90/p99"));
  addSpin(tr("Monte-Carlo trials"), "/cluster/reliability/trials", 0, 1'000'000, 0,
          tr("Runs simulated in monte-carlo mode, seeded by the scenario's seed"), Absent::kRemove,
          tr("default (1,000)"));

  beginGroup(tr("Pricing"), kAll);
  addCombo(tr("Pricing model"), "/cluster/pricing/model",
           {"on-demand", "reserved", "capacity-block"},
           tr("How the cluster is paid for; the catalog has on-demand prices, the others need a "
              "price below"));
  addDouble(tr("Price per GPU-hour"), "/cluster/pricing/usd_per_gpu_hour", 0, 1e6, 2, " $",
            tr("Overrides the catalog's price (reserved or negotiated), dollars per GPU-hour"),
            tr("catalog"));
  addDouble(tr("Price per node-hour"), "/cluster/pricing/usd_per_hour", 0, 1e7, 2, " $",
            tr("Price of one node per hour, dollars; the GPU-hour price wins when both are given"),
            tr("catalog"));

  beginGroup(tr("Model"), kTraining | kRl | kInference);
  addCombo(tr("Model"), "/model", preset_names() << "custom",
           tr("A preset (docs/models.md names its sources); changing a field below keeps the "
              "preset and overrides that field; custom writes every field out"));
  const QString preset = tr("—");
  const QString fromPreset = tr(" (italic: the preset's)");
  addSpin(tr("Layers"), "/model/layers", 0, 100'000, 0, tr("Transformer layers") + fromPreset,
          Absent::kRemove, preset);
  addSpin(tr("Hidden size"), "/model/hidden", 0, kMaxWidth, 0,
          tr("Width of the residual stream") + fromPreset, Absent::kRemove, preset);
  addSpin(tr("FFN width"), "/model/ffn_hidden", 0, kMaxWidth, 0,
          tr("Width of the dense MLP") + fromPreset, Absent::kRemove, preset);
  addSpin(tr("Heads"), "/model/heads", 0, kMaxWidth, 0, tr("Attention (query) heads") + fromPreset,
          Absent::kRemove, preset);
  addSpin(tr("KV heads"), "/model/kv_heads", 0, kMaxWidth, 0,
          tr("Key/value heads (grouped-query attention); must divide the heads") + fromPreset,
          Absent::kRemove, preset);
  addSpin(tr("Vocabulary"), "/model/vocab", 0, kMaxWidth, 0,
          tr("Vocabulary size (tokens)") + fromPreset, Absent::kRemove, preset, tr(" tokens"));
  addSpin(tr("Experts"), "/model/moe/experts", 0, kMaxWidth, 0,
          tr("Routed experts of a mixture-of-experts MLP; — is a dense model") + fromPreset,
          Absent::kRemove, tr("— (dense)"));
  addSpin(tr("Experts per token"), "/model/moe/top_k", 0, kMaxWidth, 0,
          tr("Experts each token is routed to (top-k)") + fromPreset, Absent::kRemove, preset);
  addSpin(tr("Expert FFN width"), "/model/moe/expert_ffn_hidden", 0, kMaxWidth, 0,
          tr("Width of one expert's MLP") + fromPreset, Absent::kRemove, preset);

  beginGroup(tr("Stage"), kAll);
  addCombo(tr("Stage"), "/workload/stage", {"pretrain", "sft", "rl", "inference", "collective"},
           tr("pretrain and sft simulate a training step; rl a rollout/train iteration; "
              "inference a serving run; collective an nccl-tests sweep"));

  beginGroup(tr("Collective"), kCollective);
  addCombo(tr("Operation"), "/workload/op",
           {"all_reduce", "all_gather", "reduce_scatter", "alltoall", "broadcast", "sendrecv"},
           tr("The collective, as nccl-tests' *_perf binary"));
  addCombo(tr("Element type"), "/workload/dtype",
           {"float", "half", "bfloat16", "double", "int32", "int8", "uint8", "int64", "uint32",
            "uint64"},
           tr("Element type [-d]: sizes are rounded to whole elements"));
  addDouble(tr("Smallest size"), "/workload/min_bytes", 1, 1e15, 0, " B",
            tr("First size of the sweep in bytes [-b]"), tr("default (8 B)"));
  addDouble(tr("Largest size"), "/workload/max_bytes", 1, 1e15, 0, " B",
            tr("Largest size of the sweep in bytes [-e]"), tr("default (8 GiB)"));
  addDouble(tr("Step factor"), "/workload/step_factor", 1, 1e6, 2, " x",
            tr("Multiply the size by this between rows [-f]"), tr("default (2 x)"));
  addSpin(tr("Ranks"), "/workload/ranks", 0, 1'000'000, 0,
          tr("Ranks in the communicator, taking GPUs in order"), Absent::kRemove, tr("all GPUs"));
  addSpin(tr("Channels"), "/workload/channels", 0, 64, 0,
          tr("NCCL channels per collective; default: the architecture's (sim/data)"),
          Absent::kRemove, absentDefault);

  beginGroup(tr("Training"), kTraining);
  addDouble(tr("Tokens"), "/workload/tokens", 0, 1e18, 0, tr(" tokens"),
            tr("Tokens to train, for the run's days and dollars (or give steps)"), tr("none"));
  addSpin(tr("Steps"), "/workload/steps", 0, 2'000'000'000, 0,
          tr("Optimizer steps to train, instead of tokens"), Absent::kRemove, tr("none"),
          tr(" steps"));
  addSpin(tr("Sequence length"), "/workload/seq_len", 1, kMaxWidth, 4096, tr("Tokens per sequence"),
          Absent::kNone, {}, tr(" tokens"));
  addSpin(tr("Global batch"), "/workload/global_batch", 1, 1'073'741'824, 1,
          tr("Sequences per optimizer step"), Absent::kNone, {}, tr(" seq"));
  addSpin(tr("Micro-batch"), "/workload/micro_batch", 1, kMaxCount, 1,
          tr("Sequences per micro-batch"), Absent::kNone, {}, tr(" seq"));
  addCombo(tr("Precision"), "/workload/precision", {"bf16", "fp16", "fp8"},
           tr("GEMM precision: the tensor-core peak the step runs at (fp8 falls back to bf16 on "
              "A100)"));
  addCombo(tr("Fine-tuning"), "/workload/method", {"full", "lora"},
           tr("full: every weight trained; lora: base weights frozen, rank-r adapters trained"),
           Kind::kText, kSft);
  addSpin(tr("LoRA rank"), "/workload/lora/rank", 0, 65'536, 0,
          tr("Rank of the LoRA adapters on q, k, v, o and the MLP matrices"), Absent::kRemove,
          tr("default (16)"), {}, kSft);
  addCombo(tr("Simulation"), "/workload/simulation", {"symmetric", "full"},
           tr("symmetric: one rank per pipeline stage (fast); full: every rank"));

  beginGroup(tr("Parallelism"), kTraining | kInference);
  const QString p = "/workload/parallelism/";
  addSpin(tr("Tensor (tp)"), p + "tp", 1, 1024, 1,
          tr("Tensor-parallel GPUs: split each layer's GEMMs (within the NVLink domain)"),
          Absent::kNone, {}, tr(" GPUs"));
  addSpin(tr("Pipeline (pp)"), p + "pp", 1, 1024, 1, tr("Pipeline stages: split the layers"),
          Absent::kNone, {}, tr(" stages"));
  addSpin(tr("Context (cp)"), p + "cp", 1, 1024, 1,
          tr("Context-parallel GPUs: split each sequence"), Absent::kNone, {}, tr(" GPUs"),
          kTraining);
  addSpin(tr("Expert (ep)"), p + "ep", 1, 1024, 1,
          tr("Expert-parallel GPUs (MoE models): split the experts"), Absent::kNone, {},
          tr(" GPUs"));
  addSpin(tr("Data (dp)"), p + "dp", 0, 1'000'000, 0,
          tr("Data-parallel replicas; auto = GPUs / (tp x pp x cp)"), Absent::kAuto, tr("auto"),
          tr(" replicas"), kTraining);
  addSpin(tr("Virtual stages (vpp)"), p + "vpp", 1, 1024, 1,
          tr("Virtual stages per pipeline rank: interleaved 1F1B when above 1"), Absent::kNone, {},
          {}, kTraining);
  addCombo(tr("ZeRO"), p + "zero", {"0", "1", "2", "3", "fsdp"},
           tr("ZeRO stage: 1 shards optimizer state, 2 also gradients, 3 (fsdp) also weights"),
           Kind::kNumber, kTraining);
  addCombo(tr("Sequence parallel"), p + "sequence_parallel", {"true", "false"},
           tr("Megatron sequence parallelism beside tp: LayerNorm and dropout activations split"),
           Kind::kBool, kTraining);
  addCombo(tr("Recompute"), p + "recompute", {"none", "selective", "full"},
           tr("Activation recomputation: memory against extra forward work"), Kind::kText,
           kTraining);

  beginGroup(tr("Data and checkpoints"), kTraining);
  addCombo(tr("Data tier"), "/workload/data/tier", {"fsx_lustre", "s3", "nvme", "host_memory"},
           tr("Where the dataset is read from; default: FSx when the cluster has it, else S3"));
  addCombo(tr("Data format"), "/workload/data/format", {"tokenized", "raw"},
           tr("Tokenized packed shards (4 bytes per token) or raw documents and samples"));
  addDouble(tr("Bytes per token"), "/workload/data/bytes_per_token", 0, 1e9, 3, " B",
            tr("Bytes read per training token (an image-text pair of 50 KB and 170 tokens: 300)"),
            tr("default (4 B)"));
  addDouble(tr("File size"), "/workload/data/file_bytes", 0, 1e15, 0, " B",
            tr("Size of one file or object: small files mean many requests, each paying the "
               "tier's latency"),
            absentDefault);
  addCombo(tr("Cache"), "/workload/data/cache", {"none", "nvme", "host_memory"},
           tr("Copy the dataset to this tier before training, then read from it"));
  addCombo(tr("Checkpoints"), "/workload/checkpoint/enabled", {"true", "false"},
           tr("false: no checkpoints; a failure restarts the run from the beginning"), Kind::kBool);
  addCombo(tr("Checkpoint tier"), "/workload/checkpoint/tier", {"fsx_lustre", "s3", "nvme"},
           tr("Where each checkpoint is written first"));
  addCombo(tr("Upload to"), "/workload/checkpoint/upload_to", {"s3", "fsx_lustre"},
           tr("A second, durable copy made in the background (required from nvme)"));
  addCombo(tr("Checkpoint mode"), "/workload/checkpoint/mode", {"async", "sync"},
           tr("sync: training waits for the write; async: only for a snapshot to host memory"));
  addDouble(tr("Checkpoint every"), "/workload/checkpoint/every_minutes", 0, 1e7, 1, " min",
            tr("Training minutes between checkpoints; auto: the Young/Daly optimum"), tr("auto"));

  beginGroup(tr("Serving"), kInference);
  addCombo(tr("Precision"), "/workload/precision", {"bf16", "fp16", "fp8"},
           tr("Weights and GEMMs (fp8 needs FP8 tensor cores)"), Kind::kText, kInference);
  addSpin(tr("Replicas"), "/workload/replicas", 0, 16'777'216, 0,
          tr("Model replicas of tp x ep x pp GPUs each"), Absent::kRemove, tr("all GPUs"));
  addDouble(tr("Request rate"), "/workload/requests/rate_per_s", 0.01, 1e9, 2, " /s",
            tr("Prompts per second (Poisson arrivals)"), tr("default (1 /s)"));
  addSpin(tr("Requests"), "/workload/requests/count", 1, 10'000'000, 1000, tr("Prompts simulated"),
          Absent::kNone, {}, tr(" prompts"));
  // Prompt and output lengths under `requests` (serving's, and the RL rollout engine's).
  const auto lengths = [this](const QString& requests, const QString& input,
                              const QString& output) {
    addSpin(input, requests + "/input_tokens", 1, 100'000'000, 512,
            tr("Prompt tokens (a mean and stdev are edited in the JSON view)"), Absent::kNone, {},
            tr(" tokens"));
    addSpin(output, requests + "/output_tokens", 1, 100'000'000, 256,
            tr("Generated tokens per sequence (a mean and stdev are edited in the JSON view)"),
            Absent::kNone, {}, tr(" tokens"));
  };
  lengths("/workload/requests", tr("Input length"), tr("Output length"));
  addSpin(tr("Samples per prompt"), "/workload/requests/samples_per_prompt", 1, 1024, 1,
          tr("Sequences per prompt: best-of-n and other test-time compute"), Absent::kNone, {},
          tr(" seq"));
  addSpin(tr("Max batch"), "/workload/batching/max_batch", 1, kMaxCount, 256,
          tr("Sequences running at once per replica"), Absent::kNone, {}, tr(" seq"));
  addSpin(tr("Tokens per step"), "/workload/batching/max_tokens_per_step", 1, kMaxWidth, 8192,
          tr("Token budget of one iteration"), Absent::kNone, {}, tr(" tokens"));
  addCombo(tr("Chunked prefill"), "/workload/batching/chunked_prefill", {"true", "false"},
           tr("Prompts split into chunks that share iterations with decode tokens"), Kind::kBool);
  addCombo(tr("Scheduler"), "/workload/batching/scheduler", {"preempt", "reserve"},
           tr("preempt: admit while the prompt fits and preempt when the cache runs out (vLLM); "
              "reserve: admit only when prompt and output fit (TensorRT-LLM)"));
  addSpin(tr("Prefill replicas"), "/workload/disaggregation/prefill_replicas", 0, 16'777'216, 0,
          tr("Disaggregated serving: replicas that only compute prompts and hand the KV cache "
             "to the others"),
          Absent::kRemove, tr("none"));
  addDouble(tr("Memory fraction"), "/workload/kv_cache/memory_fraction", 0.01, 1, 2, "",
            tr("Share of HBM for weights, workspace and KV cache (gpu_memory_utilization)"),
            tr("default (0.9)"));
  addCombo(tr("KV cache type"), "/workload/kv_cache/precision", {"bf16", "fp8"},
           tr("KV cache element type"));

  beginGroup(tr("Reinforcement learning"), kRl);
  addCombo(tr("Algorithm"), "/workload/algorithm", {"grpo", "ppo"},
           tr("GRPO, or PPO (adds a critic, scored and trained too)"));
  addSpin(tr("Group size"), "/workload/group_size", 1, 4096, 8, tr("Samples per prompt"),
          Absent::kNone, {}, tr(" samples"));
  addSpin(tr("Prompts per iteration"), "/workload/prompts_per_iteration", 1, kMaxCount, 512,
          tr("Prompts generated for and trained on per iteration"), Absent::kNone, {},
          tr(" prompts"));
  addCombo(tr("Placement"), "/workload/placement", {"colocated", "disaggregated"},
           tr("colocated: generation and training time-share the GPUs; disaggregated: separate "
              "pools"));
  addSpin(tr("Rollout GPUs"), "/workload/rollout_gpus", 0, 1'000'000, 0,
          tr("GPUs that generate when disaggregated (whole nodes)"), Absent::kRemove, tr("none"),
          tr(" GPUs"));
  addCombo(tr("Asynchronous"), "/workload/async", {"false", "true"},
           tr("Disaggregated only: generation one step ahead of training (off-policy by one)"),
           Kind::kBool);
  addDouble(tr("Iterations"), "/workload/iterations", 0, 1e9, 0, "",
            tr("Iterations of the run, for days and dollars"), tr("none"));
  addSpin(tr("Policy tp"), "/workload/policy/parallelism/tp", 1, 1024, 1,
          tr("Tensor parallelism of the policy's training step"), Absent::kNone, {}, tr(" GPUs"));
  addCombo(tr("Policy ZeRO"), "/workload/policy/parallelism/zero", {"0", "1", "2", "3", "fsdp"},
           tr("ZeRO stage of the policy's training step"), Kind::kNumber);
  addSpin(tr("Rollout tp"), "/workload/rollout/parallelism/tp", 1, 1024, 1,
          tr("Tensor parallelism of each generation engine"), Absent::kNone, {}, tr(" GPUs"));
  lengths("/workload/rollout/requests", tr("Rollout input"), tr("Rollout output"));
  addSpin(tr("Rollout max batch"), "/workload/rollout/batching/max_batch", 1, kMaxCount, 256,
          tr("Sequences running at once per generation engine"), Absent::kNone, {}, tr(" seq"));

  for (const Group& g : groups_) column->addWidget(g.box);
  unplaced_ = new QLabel;
  unplaced_->setWordWrap(true);
  unplaced_->setStyleSheet("color: #d0312d;");
  unplaced_->hide();
  column->addWidget(unplaced_);
  column->addStretch();

  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  scroll->setWidget(inner);
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(scroll);

  connect(document_, &ScenarioDocument::changed, this,
          [this](const QObject* origin) { refresh(origin == this ? editing_ : nullptr); });
  refresh();
}

void ScenarioForm::beginGroup(const QString& title, unsigned stages) {
  auto* box = new QGroupBox(title);
  groups_.push_back({box, new QFormLayout(box), stages});
}

QWidget* ScenarioForm::addRow(const QString& label, const QString& pointer, QWidget* widget,
                              const QString& tooltip, unsigned stages, double fallback) {
  Group& group = groups_.back();
  widget->setToolTip(tooltip);
  widget->setAccessibleName(pointer);
  widget->setFocusPolicy(Qt::StrongFocus);
  widget->installEventFilter(this);  // the wheel scrolls the form unless the control has focus
  auto* reset = new QAction(tr("Reset to default"), widget);
  connect(reset, &QAction::triggered, this, [this, pointer] { resetField(pointer); });
  widget->addAction(reset);
  widget->setContextMenuPolicy(Qt::ActionsContextMenu);
  group.form->addRow(label, widget);
  Field field;
  field.pointer = pointer;
  field.widget = widget;
  field.form = group.form;
  field.stages = stages == 0 ? group.stages : stages;
  field.tooltip = tooltip;
  field.fallback = fallback;
  fields_.push_back(field);
  return widget;
}

QSpinBox* ScenarioForm::addSpin(const QString& label, const QString& pointer, int min, int max,
                                double fallback, const QString& tooltip, Absent absent,
                                const QString& special, const QString& suffix, unsigned stages) {
  auto* spin = new QSpinBox;
  spin->setRange(min, max);
  spin->setGroupSeparatorShown(true);
  spin->setSuffix(suffix);
  if (absent != Absent::kNone) spin->setSpecialValueText(special);
  addRow(label, pointer, spin, tooltip, stages, fallback);
  connect(spin, qOverload<int>(&QSpinBox::valueChanged), this,
          [this, pointer, spin, absent](int v) {
            if (absent == Absent::kAuto && v == spin->minimum()) {
              setField(pointer, "auto", spin);
            } else if (absent == Absent::kRemove && v == spin->minimum()) {
              resetField(pointer);
            } else {
              setField(pointer, v, spin);
            }
          });
  return spin;
}

QDoubleSpinBox* ScenarioForm::addDouble(const QString& label, const QString& pointer, double min,
                                        double max, int decimals, const QString& suffix,
                                        const QString& tooltip, const QString& absent,
                                        unsigned stages) {
  auto* spin = new QDoubleSpinBox;
  spin->setDecimals(decimals);
  // One step below `min` stands for "absent": the field's default applies.
  const double none = min - std::pow(10.0, -decimals);
  spin->setRange(none, max);
  spin->setSuffix(suffix);
  spin->setSpecialValueText(absent);
  spin->setValue(none);
  spin->setGroupSeparatorShown(true);
  addRow(label, pointer, spin, tooltip, stages, none);
  connect(spin, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
          [this, pointer, spin](double v) {
            if (v <= spin->minimum()) {
              resetField(pointer);
            } else {
              setField(pointer, v, spin);
            }
          });
  return spin;
}

QComboBox* ScenarioForm::addCombo(const QString& label, const QString& pointer,
                                  const QStringList& items, const QString& tooltip, Kind kind,
                                  unsigned stages) {
  auto* combo = new QComboBox;
  combo->addItems(items);
  combo->setPlaceholderText(tr("default"));  // shown while the field is absent
  addRow(label, pointer, combo, tooltip, stages);
  connect(combo, &QComboBox::currentTextChanged, this,
          [this, pointer, combo, kind](const QString& text) {
            if (text.isEmpty()) return;
            if (pointer == "/model") {
              chooseModel(text, combo);
            } else if (pointer == "/cluster/storage/fsx_lustre/deployment") {
              chooseFsx(text, combo);
            } else if (kind == Kind::kBool) {
              setField(pointer, text == "true", combo);
            } else if (kind == Kind::kNumber && is_integer(text)) {
              setField(pointer, text.toInt(), combo);
            } else {
              setField(pointer, text.toStdString(), combo);
            }
          });
  return combo;
}

bool ScenarioForm::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::Wheel) {
    auto* widget = qobject_cast<QWidget*>(watched);
    if (widget != nullptr && !widget->hasFocus()) {
      event->ignore();  // passed on to the scroll area
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
}

void ScenarioForm::setField(const QString& pointer, const nlohmann::json& value, QWidget* from) {
  nlohmann::json next = document_->json();
  // A field of a preset model: the model becomes the preset with that field overridden.
  if (pointer.startsWith("/model/") && next.contains("model") && next["model"].is_string()) {
    next["model"] = nlohmann::json{{"preset", next["model"]}};
  }
  set_at_pointer(next, pointer.toStdString(), value);
  editing_ = from;
  document_->setJson(next, this, pointer);  // typing in one control is one undo step
  editing_ = nullptr;
}

void ScenarioForm::resetField(const QString& pointer) {
  if (at(document_->json(), pointer) == nullptr) {
    refresh();  // the control may show a value the document never had
    return;
  }
  document_->removeValue(pointer, this);
}

// A preset replaces the model (with its overrides); "custom" writes the current model out in full
// so that every field can be edited and none depends on a preset.
void ScenarioForm::chooseModel(const QString& choice, QWidget* from) {
  if (choice != "custom") {
    setField("/model", choice.toStdString(), from);
    return;
  }
  const nlohmann::json model = resolved_model(document_->json());
  if (model.is_null()) return;  // the current model has an error; it is shown where it is
  setField("/model", model, from);
}

// "none" removes the file system; a deployment on a cluster without one adds one at the
// deployment's smallest capacity, so that the scenario stays valid.
void ScenarioForm::chooseFsx(const QString& deployment, QWidget* from) {
  const QString fsx = "/cluster/storage/fsx_lustre";
  if (deployment == "none") {
    resetField(fsx);
    return;
  }
  nlohmann::json next = document_->json();
  const nlohmann::json* existing = at(next, fsx);
  nlohmann::json value =
      existing != nullptr && existing->is_object() ? *existing : nlohmann::json::object();
  value["deployment"] = deployment.toStdString();
  if (!value.contains("capacity_tib")) value["capacity_tib"] = 1.2;
  setField(fsx, value, from);
}

unsigned ScenarioForm::currentStage() const {
  const nlohmann::json* stage = at(document_->json(), "/workload/stage");
  const std::string name =
      stage != nullptr && stage->is_string() ? stage->get<std::string>() : "collective";
  if (name == "pretrain") return kPretrain;
  if (name == "sft") return kSft;
  if (name == "rl") return kRl;
  if (name == "inference") return kInference;
  return kCollective;
}

void ScenarioForm::updateGroups() {
  const unsigned stage = currentStage();
  for (const Field& f : fields_) f.form->setRowVisible(f.widget, (f.stages & stage) != 0);
  for (const Group& g : groups_) g.box->setVisible((g.stages & stage) != 0);
}

void ScenarioForm::refresh(const QWidget* skip) {
  updateGroups();
  const nlohmann::json& doc = document_->json();
  const nlohmann::json model = resolved_model(doc);
  for (Field& f : fields_) {
    if (f.widget != skip) {
      refreshField(f, doc, model);
    } else {  // its value is the user's, being typed; only whether the document holds it changes
      f.inherited = at(doc, f.pointer) == nullptr;
      set_inherited_look(f.widget, f.inherited);
    }
  }
}

void ScenarioForm::refreshField(Field& f, const nlohmann::json& doc, const nlohmann::json& model) {
  const nlohmann::json* value = at(doc, f.pointer);
  const QSignalBlocker block(f.widget);
  f.inherited = value == nullptr;
  if (auto* spin = qobject_cast<QSpinBox*>(f.widget)) {
    // A model field the scenario leaves to the preset shows the preset's value.
    const nlohmann::json* preset =
        f.pointer.startsWith("/model/") && !model.is_null() ? at(model, f.pointer.mid(6)) : nullptr;
    if (value != nullptr && value->is_number()) {
      spin->setValue(static_cast<int>(value->get<double>()));
    } else if (value != nullptr && value->is_string() && !spin->specialValueText().isEmpty()) {
      spin->setValue(spin->minimum());  // "auto"
    } else if (value == nullptr && preset != nullptr && preset->is_number()) {
      spin->setValue(static_cast<int>(preset->get<double>()));
    } else if (value == nullptr) {
      spin->setValue(spin->specialValueText().isEmpty() ? static_cast<int>(f.fallback)
                                                        : spin->minimum());
    }
    // An object (a mean and a stdev) is edited in the JSON view.
    spin->setEnabled(value == nullptr || value->is_number() || value->is_string());
  } else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(f.widget)) {
    dspin->setValue(value != nullptr && value->is_number() ? value->get<double>()
                                                           : dspin->minimum());
    dspin->setEnabled(value == nullptr || value->is_number() || value->is_string());
  } else if (auto* combo = qobject_cast<QComboBox*>(f.widget)) {
    QString text;
    if (f.pointer == "/model" && value != nullptr && value->is_object()) {
      const nlohmann::json* name = at(*value, "/preset");
      text = name != nullptr && name->is_string() ? QString::fromStdString(name->get<std::string>())
                                                  : QString("custom");
    } else if (f.pointer == "/cluster/storage/fsx_lustre/deployment" &&
               at(doc, "/cluster/storage/fsx_lustre") == nullptr) {
      text = "none";
    } else if (value != nullptr && value->is_string()) {
      text = QString::fromStdString(value->get<std::string>());
    } else if (value != nullptr && value->is_boolean()) {
      text = value->get<bool>() ? "true" : "false";
    } else if (value != nullptr && value->is_number()) {
      text = QString::number(value->get<double>());
    }
    if (text.isEmpty()) {
      combo->setCurrentIndex(-1);
    } else {
      if (combo->findText(text) < 0) combo->addItem(text);
      combo->setCurrentText(text);
    }
  }
  set_inherited_look(f.widget, f.inherited);
}

bool ScenarioForm::showValidation(const Validation& validation) {
  // The controls of exactly the pointer named take the error; without one, those inside or above.
  // Only a control the stage shows counts as placing it; otherwise it is written under the form.
  const unsigned stage = currentStage();
  bool exact = false;
  for (const Field& f : fields_) {
    exact = exact || (!validation.ok && f.pointer == validation.pointer && (f.stages & stage) != 0);
  }
  bool placed = false;
  for (Field& f : fields_) {
    const bool hit = !validation.ok && (exact ? f.pointer == validation.pointer
                                              : related(f.pointer, validation.pointer));
    f.error = hit ? validation.message : QString();
    f.widget->setStyleSheet(hit ? kErrorStyle : "");
    f.widget->setToolTip(hit ? validation.pointer + ": " + validation.message : f.tooltip);
    placed = placed || (hit && (f.stages & stage) != 0);
  }
  if (!validation.ok && !placed) {
    unplaced_->setText((validation.pointer.isEmpty() ? QString() : validation.pointer + ": ") +
                       validation.message);
    unplaced_->show();
  } else {
    unplaced_->hide();
  }
  return placed;
}

const ScenarioForm::Field* ScenarioForm::find(const QString& pointer) const {
  const unsigned stage = currentStage();
  const Field* first = nullptr;
  for (const Field& f : fields_) {
    if (f.pointer != pointer) continue;
    if ((f.stages & stage) != 0) return &f;
    if (first == nullptr) first = &f;
  }
  return first;
}

QWidget* ScenarioForm::control(const QString& pointer) const {
  const Field* f = find(pointer);
  return f != nullptr ? f->widget : nullptr;
}

QString ScenarioForm::errorAt(const QString& pointer) const {
  const Field* f = find(pointer);
  return f != nullptr ? f->error : QString();
}

QString ScenarioForm::unplacedError() const {
  return unplaced_->isHidden() ? QString() : unplaced_->text();
}

bool ScenarioForm::isInherited(const QString& pointer) const {
  const Field* f = find(pointer);
  return f != nullptr && f->inherited;
}

}  // namespace fmsim::gui
