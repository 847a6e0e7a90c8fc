// The flow-level engine: event queue, activity life cycle and the weighted max-min solver.
//
// Progressive filling (Bertsekas & Gallager, "Data Networks", 2nd ed., section 6.5.2; SimGrid's
// lmm::System::solve does the same). Inside one connected component, with lambda the common fill
// level, every unfrozen activity a runs at r_a = s_a * lambda. For a resource j let
//   spare_j = C_j - sum_{a frozen}   w_aj * r_a      (capacity not yet taken)
//   denom_j =       sum_{a unfrozen} w_aj * s_a      (how fast the unfrozen load grows with lambda)
// so j saturates at lambda_j = spare_j / denom_j, and activity a reaches its bound at B_a / s_a.
// The smallest of these levels is the next event of the filling: a resource freezes every unfrozen
// activity on it at s_a * lambda_j (its bottleneck is j), a bound freezes its activity at B_a
// (bottleneck none). Freezing raises (never lowers) the lambda_j of the other resources it
// crosses: removing an activity that runs at s_a * lambda <= s_a * lambda_k from both sides of
// spare_k / denom_k cannot decrease that ratio. So the min-heap of levels keeps each resource's
// last computed level as a lower bound and refreshes it only when it reaches the top ("lazy
// increase-key"): one heap entry per resource at any time and no push per freeze.
// Cost: O((A + U) log R) for A activities with U shared uses over R shared resources in the
// component.
//
// Worked example (the header's): L1 (C=10) carries x and y, L2 (C=4) carries y and z.
// Levels: L1 10/2 = 5, L2 4/2 = 2. L2 pops first: y = z = 2. L1 refreshes to (10 - 2)/1 = 8 > 5,
// goes back in the heap, pops again at 8: x = 8. Rates (8, 2, 2), bottlenecks (L1, L2, L2).
//
// Incremental solving: the engine keeps, for every resource, the list of activities working on it.
// After a timestamp's events, it walks the resource/activity graph from the activities that
// entered their work phase and from the resources of those that left, and re-solves only what it
// reaches. Activities whose rate comes out unchanged keep their completion event.
//
// Private resources: a resource with a single working user a saturates exactly when a's rate
// reaches C_j / w_j, whatever else happens, so it needs no level of its own. Each activity keeps
// its uses split into shared ones (first) and private ones, and folds the private ones into one
// rate cap, min C_j / w_j, that enters the filling like its bound (reporting j as the bottleneck
// when it binds). The cap is recomputed only when the resource that set it becomes shared; a
// resource that turns private lowers it in O(1). So an activity that crosses thousands of links
// nobody else uses (a data-parallel ring over every node, in symmetric mode) costs a solve only
// its few shared uses, and the loads of its private links follow its rate directly.
//
// Every solve brings the remaining work of the activities it reaches up to date (remaining -=
// rate * elapsed) before it may change their rates; anything left below 1e-12 * max(1, work) is
// rounding dust and the activity finishes then, instead of a moment later at a huge rate.
//
// Data layout: activities and resources in flat vectors by id; the uses of all activities back to
// back in one vector; each resource's users in a vector whose entries remember the use slot, and
// each use its position there, so that leaving is a swap-and-pop. Scratch buffers (component,
// filling heap, callbacks) are members, reused from solve to solve.
#include "engine/simulator.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "cancel.h"

namespace fmsim {
namespace {

// Remaining work below this fraction of max(1, work) is rounding dust: the activity is done.
constexpr double kFinishedFraction = 1e-12;

enum class Phase : std::uint8_t { kLatency, kWorking, kDone };
enum class EventKind : std::uint8_t { kLatencyEnd, kCompletion, kTimer };

struct Event {
  double time_s;
  std::uint64_t sequence;  // insertion order: breaks ties between equal times
  std::uint64_t payload;   // activity events: the activity's version when scheduled; timers: tag
  std::uint32_t id;        // activity id (unused for timers)
  EventKind kind;
};

struct LaterEventFirst {
  bool operator()(const Event& a, const Event& b) const {
    if (a.time_s != b.time_s) return a.time_s > b.time_s;
    return a.sequence > b.sequence;
  }
};

// std::priority_queue with access to its storage, so that scratch heaps can be emptied without
// freeing memory and the event queue can drop stale entries in one pass.
template <class T, class LowerPriority>
class ReusableHeap : public std::priority_queue<T, std::vector<T>, LowerPriority> {
 public:
  void clear() { this->c.clear(); }
  // Appends without keeping the heap order; heapify() restores it in O(n) for all at once.
  void push_unordered(const T& value) { this->c.push_back(value); }
  void heapify() { std::make_heap(this->c.begin(), this->c.end(), this->comp); }
  template <class Predicate>
  void erase_if(Predicate predicate) {
    std::erase_if(this->c, predicate);
    std::make_heap(this->c.begin(), this->c.end(), this->comp);
  }
};

// One step of the progressive filling: a resource that may saturate at `level`, or an activity
// that reaches its bound at `level` (B_a / s_a).
struct FillLevel {
  double level;
  std::uint32_t id;
  bool is_bound;
};

struct HigherLevelLast {
  bool operator()(const FillLevel& a, const FillLevel& b) const {
    if (a.level != b.level) return a.level > b.level;
    if (a.is_bound != b.is_bound) return !a.is_bound;  // bounds first on ties
    return a.id > b.id;
  }
};

// An activity on a resource's list of users.
struct UserEntry {
  double weight;
  ActivityId activity;
  std::uint32_t use_slot;  // index into Impl::uses
};

struct Activity {
  double work = 0.0;
  double remaining = 0.0;
  double rate = 0.0;
  double new_rate = 0.0;  // scratch of the solve
  double share = 1.0;
  double bound = kUnbounded;
  double last_update_s = 0.0;   // time at which `remaining` was exact
  std::uint32_t use_begin = 0;  // uses are Impl::uses[use_begin, use_begin + use_count)
  std::uint32_t use_count = 0;
  // While working: the first shared_count uses are on resources it shares with other working
  // activities, the rest on resources it has to itself (private).
  std::uint32_t shared_count = 0;
  std::uint32_t version = 0;  // bumped when a scheduled event becomes stale
  std::uint32_t visit_mark = 0;
  ResourceId bottleneck = kNoResource;
  // The private resources as one rate cap: min over them of C_j / w_j (lowest id on ties), and
  // the resource that sets it; recomputed only when private_valid is false.
  double private_cap = kUnbounded;
  ResourceId private_argmin = kNoResource;
  bool private_valid = false;
  ResourceId cap_bottleneck = kNoResource;  // scratch of the solve: what its bound entry stands for
  Phase phase = Phase::kLatency;
  bool frozen = false;  // scratch of the solve
};

// What the solver needs of a resource, kept apart from the public ResourceState so that a solve
// touches the latter only for resources whose load changes.
struct ResourceInternals {
  std::vector<UserEntry> users;  // activities now working on the resource
  double capacity = 0.0;
  double spare = 0.0;          // scratch of the solve: C_j minus the frozen load
  double denom = 0.0;          // scratch: sum of w_aj * s_a over unfrozen users
  std::uint32_t unfrozen = 0;  // scratch: number of unfrozen user entries
  std::uint32_t visit_mark = 0;
  bool load_stale = false;  // a user came, left or changed rate since the load was summed
};

struct Callback {
  EventKind kind;
  std::uint32_t id;
  std::uint64_t tag;
};

std::string describe(const char* where, const std::string& what, double value) {
  std::ostringstream out;
  out << "Simulator::" << where << ": " << what << ", got " << value;
  return out.str();
}

}  // namespace

struct Simulator::Impl {
  double now_s = 0.0;
  std::uint64_t next_sequence = 0;
  EventHandler* handler = nullptr;
  bool in_callback = false;
  bool tracing = false;
  std::size_t unfinished = 0;  // activities not yet done
  std::size_t pending_timers = 0;
  std::uint32_t visit_epoch = 0;

  std::vector<Activity> activities;
  std::vector<std::uint64_t> tags;     // by activity id
  std::vector<Use> uses;               // positive-weight uses of all activities, back to back
  std::vector<std::uint32_t> use_pos;  // position of each use in its resource's users list
  std::vector<ResourceState> resources;
  std::vector<ResourceInternals> internals;
  std::vector<double> integrated_until_s;  // by resource: work_done and busy_s are exact up to it

  ReusableHeap<Event, LaterEventFirst> events;
  EngineStats stats;
  std::vector<LoadSample> samples;

  // Work waiting for the next solve, and reusable scratch.
  std::vector<ActivityId> dirty_activities;
  std::vector<ResourceId> dirty_resources;
  std::vector<ActivityId> component_activities;
  std::vector<ResourceId> component_resources;
  std::vector<ActivityId> dust;  // visited activities with nothing left to do
  std::size_t unfrozen_activities = 0;
  ReusableHeap<FillLevel, HigherLevelLast> fill;
  std::vector<Callback> callbacks;

  void push_event(double time_s, EventKind kind, std::uint32_t id, std::uint64_t payload) {
    events.push(Event{time_s, next_sequence++, payload, id, kind});
  }

  bool stale(const Event& event) const {
    if (event.kind == EventKind::kTimer) return false;
    const Activity& a = activities[event.id];
    if (event.payload != a.version) return true;
    return event.kind == EventKind::kLatencyEnd ? a.phase != Phase::kLatency
                                                : a.phase != Phase::kWorking;
  }

  // Drops stale entries from the top; rebuilds the heap without them when they outnumber the live
  // ones (each activity and timer has at most one live entry), so a long run of rate changes
  // cannot grow the queue without bound.
  void skip_stale() {
    while (!events.empty() && stale(events.top())) events.pop();
    const std::size_t live = unfinished + pending_timers;
    if (events.size() > 2 * live + 1024) {
      events.erase_if([this](const Event& e) { return stale(e); });
    }
  }

  // Integrates the resource's load from its last change to now.
  void integrate(ResourceId id) {
    ResourceState& r = resources[id];
    const double elapsed = now_s - integrated_until_s[id];
    if (elapsed > 0.0 && r.load > 0.0) {
      r.work_done += r.load * elapsed;
      r.busy_s += elapsed;
    }
    integrated_until_s[id] = now_s;
  }

  // Swaps two use slots of one activity, keeping the users lists pointing at them.
  void swap_uses(std::uint32_t x, std::uint32_t y) {
    if (x == y) return;
    std::swap(uses[x], uses[y]);
    std::swap(use_pos[x], use_pos[y]);
    internals[uses[x].resource].users[use_pos[x]].use_slot = x;
    internals[uses[y].resource].users[use_pos[y]].use_slot = y;
  }

  // Moves a use into its activity's shared part; its resource may have set the private cap.
  void mark_shared(ActivityId id, std::uint32_t slot) {
    Activity& a = activities[id];
    const std::uint32_t boundary = a.use_begin + a.shared_count;
    if (slot < boundary) return;
    if (uses[slot].resource == a.private_argmin) a.private_valid = false;
    swap_uses(slot, boundary);
    ++a.shared_count;
  }

  // Moves a use into its activity's private part and folds it into the private cap.
  void mark_private(ActivityId id, std::uint32_t slot) {
    Activity& a = activities[id];
    const std::uint32_t last_shared = a.use_begin + a.shared_count - 1;
    swap_uses(slot, last_shared);
    --a.shared_count;
    if (a.private_valid) offer_private(a, uses[last_shared]);
  }

  void offer_private(Activity& a, const Use& use) const {
    const double cap = internals[use.resource].capacity / use.weight;
    if (cap < a.private_cap || (cap == a.private_cap && use.resource < a.private_argmin)) {
      a.private_cap = cap;
      a.private_argmin = use.resource;
    }
  }

  void refresh_private_cap(Activity& a) {
    if (a.private_valid) return;
    a.private_cap = kUnbounded;
    a.private_argmin = kNoResource;
    for (std::uint32_t slot = a.use_begin + a.shared_count; slot < a.use_begin + a.use_count;
         ++slot) {
      offer_private(a, uses[slot]);
    }
    a.private_valid = true;
  }

  void enter_work_phase(ActivityId id) {
    Activity& a = activities[id];
    a.phase = Phase::kWorking;
    a.remaining = a.work;
    a.rate = 0.0;
    a.last_update_s = now_s;
    a.shared_count = 0;
    a.private_valid = false;
    // Slots before `slot` are settled (shared ones first), so a swap in mark_shared only moves a
    // settled private use to `slot`.
    for (std::uint32_t slot = a.use_begin; slot < a.use_begin + a.use_count; ++slot) {
      ResourceInternals& in = internals[uses[slot].resource];
      use_pos[slot] = static_cast<std::uint32_t>(in.users.size());
      in.users.push_back(UserEntry{uses[slot].weight, id, slot});
      in.load_stale = true;
      if (in.users.size() == 2) {
        const UserEntry first = in.users.front();
        mark_shared(first.activity, first.use_slot);
      }
      if (in.users.size() >= 2) mark_shared(id, slot);
    }
    dirty_activities.push_back(id);
  }

  // Takes a working activity off its resources (their loads are summed again by the solve that
  // follows at the same time) and queues its completion callback. A resource left with one user
  // becomes private to it.
  void finish(ActivityId id) {
    Activity& a = activities[id];
    for (std::uint32_t slot = a.use_begin; slot < a.use_begin + a.use_count; ++slot) {
      const ResourceId rid = uses[slot].resource;
      ResourceInternals& in = internals[rid];
      const std::uint32_t pos = use_pos[slot];
      in.users[pos] = in.users.back();
      use_pos[in.users[pos].use_slot] = pos;
      in.users.pop_back();
      in.load_stale = true;
      dirty_resources.push_back(rid);
      if (in.users.size() == 1 && in.users.front().activity != id) {
        mark_private(in.users.front().activity, in.users.front().use_slot);
      }
    }
    complete(id);
  }

  // Marks an activity done (its pending events become stale) and queues its callback.
  void complete(ActivityId id) {
    Activity& a = activities[id];
    a.phase = Phase::kDone;
    a.remaining = 0.0;
    a.rate = 0.0;
    ++a.version;
    --unfinished;
    callbacks.push_back(Callback{EventKind::kCompletion, id, tags[id]});
  }

  void apply(const Event& event) {
    ++stats.events;
    switch (event.kind) {
      case EventKind::kTimer:
        --pending_timers;
        callbacks.push_back(Callback{EventKind::kTimer, 0, event.payload});
        return;
      case EventKind::kCompletion:
        finish(event.id);
        return;
      case EventKind::kLatencyEnd:
        if (activities[event.id].work == 0.0) {
          complete(event.id);
          return;
        }
        enter_work_phase(event.id);
        return;
    }
  }

  void run_callbacks() {
    if (handler == nullptr) {
      callbacks.clear();
      return;
    }
    in_callback = true;
    // By index: the handler cannot append here (it only starts activities and schedules events),
    // but a reference into the vector must not outlive a call.
    for (std::size_t i = 0; i < callbacks.size(); ++i) {
      const Callback cb = callbacks[i];
      if (cb.kind == EventKind::kTimer) {
        handler->on_timer(cb.tag);
      } else {
        handler->on_activity_done(cb.id, cb.tag);
      }
    }
    in_callback = false;
    callbacks.clear();
  }

  // Settles the current timestamp: applies the events due now, reports them, re-solves, and
  // repeats while reporting or solving produced more work at this same time. Returns whether any
  // event was processed.
  bool settle_now() {
    const std::uint64_t events_before = stats.events;
    while (true) {
      skip_stale();
      if (!events.empty() && events.top().time_s <= now_s) {
        while (!events.empty() && events.top().time_s <= now_s) {
          const Event event = events.top();
          events.pop();
          if (!stale(event)) apply(event);
        }
      } else if (!dirty_activities.empty() || !dirty_resources.empty()) {
        solve();
      } else {
        break;
      }
      run_callbacks();
    }
    return stats.events != events_before;
  }

  bool advance_to_next_event(double until_s) {
    skip_stale();
    if (events.empty()) return false;
    const double next_s = events.top().time_s;
    if (next_s > until_s) {
      now_s = std::max(now_s, until_s);
      return false;
    }
    now_s = next_s;
    return true;
  }

  void solve();
  void visit_activity(ActivityId id);
  void visit_resource(ResourceId id);
  void collect_component();
  void fill_levels();
  void freeze(ActivityId id, double rate, ResourceId bottleneck);
  double resource_level(ResourceId id);
  void apply_rates_and_loads();
  void set_load(ResourceId rid, double load);
};

// First visit of an activity in a solve: brings its remaining work up to now and either sets it
// aside as finished (rounding dust) or enters it unfrozen into the filling.
void Simulator::Impl::visit_activity(ActivityId id) {
  Activity& a = activities[id];
  if (a.visit_mark == visit_epoch || a.phase != Phase::kWorking) return;
  a.visit_mark = visit_epoch;
  component_activities.push_back(id);
  a.remaining = std::max(0.0, a.remaining - a.rate * (now_s - a.last_update_s));
  a.last_update_s = now_s;
  if (a.remaining <= kFinishedFraction * std::max(1.0, a.work)) {
    a.frozen = true;  // takes no part in the filling
    dust.push_back(id);
    return;
  }
  a.frozen = false;
  ++unfrozen_activities;
  // Its own bound and its private resources enter the filling as one bound entry.
  refresh_private_cap(a);
  const bool by_resource = a.private_cap < a.bound;
  a.cap_bottleneck = by_resource ? a.private_argmin : kNoResource;
  const double cap = by_resource ? a.private_cap : a.bound;
  if (cap < kUnbounded) fill.push_unordered(FillLevel{cap / a.share, id, true});
}

// First visit of a resource in a solve: all of its capacity is spare until users freeze.
void Simulator::Impl::visit_resource(ResourceId id) {
  ResourceInternals& in = internals[id];
  if (in.visit_mark == visit_epoch) return;
  in.visit_mark = visit_epoch;
  component_resources.push_back(id);
  in.spare = in.capacity;
  in.denom = 0.0;
  in.unfrozen = 0;
}

// Gathers every working activity and resource reachable from the dirty ones through the users
// lists (breadth first, so the order is deterministic), and sums denom_j over the way.
void Simulator::Impl::collect_component() {
  ++visit_epoch;
  component_activities.clear();
  component_resources.clear();
  dust.clear();
  fill.clear();
  unfrozen_activities = 0;
  for (ActivityId id : dirty_activities) visit_activity(id);
  for (ResourceId id : dirty_resources) visit_resource(id);
  const std::size_t seeds = component_resources.size();
  dirty_activities.clear();
  dirty_resources.clear();

  std::size_t next_activity = 0;
  std::size_t next_resource = 0;
  while (next_activity < component_activities.size() ||
         next_resource < component_resources.size()) {
    while (next_activity < component_activities.size()) {
      const Activity& a = activities[component_activities[next_activity++]];
      if (a.frozen) continue;  // dust: solve() finishes it and collects again
      // Only shared resources lead on and need a level of their own; private ones are in the
      // activity's cap.
      for (std::uint32_t slot = a.use_begin; slot < a.use_begin + a.shared_count; ++slot) {
        const Use& use = uses[slot];
        visit_resource(use.resource);
        ResourceInternals& in = internals[use.resource];
        in.denom += use.weight * a.share;
        ++in.unfrozen;
      }
    }
    while (next_resource < component_resources.size()) {
      const bool seed = next_resource < seeds;
      const std::vector<UserEntry>& users = internals[component_resources[next_resource++]].users;
      // A resource reached from its only user leads nowhere new (a private link, typically).
      if (!seed && users.size() == 1) continue;
      for (const UserEntry& user : users) visit_activity(user.activity);
    }
  }
}

double Simulator::Impl::resource_level(ResourceId id) {
  ResourceInternals& in = internals[id];
  if (!(in.denom > 0.0)) {
    // Subtraction left the running sum at or below zero while unfrozen users remain: recount.
    in.denom = 0.0;
    for (const UserEntry& user : in.users) {
      const Activity& a = activities[user.activity];
      if (!a.frozen) in.denom += user.weight * a.share;
    }
    if (!(in.denom > 0.0)) return 0.0;  // saturate at the current level
  }
  return in.spare / in.denom;
}

// Fixes an activity's rate and takes its consumption off the spare capacity of its resources.
void Simulator::Impl::freeze(ActivityId id, double rate, ResourceId bottleneck) {
  Activity& a = activities[id];
  a.frozen = true;
  a.new_rate = rate;
  a.bottleneck = bottleneck;
  --unfrozen_activities;
  for (std::uint32_t slot = a.use_begin; slot < a.use_begin + a.shared_count; ++slot) {
    const Use& use = uses[slot];
    ResourceInternals& in = internals[use.resource];
    in.spare -= use.weight * rate;
    in.denom -= use.weight * a.share;
    --in.unfrozen;
  }
}

// Progressive filling over the collected component (see the top of this file). The bound entries
// were gathered by visit_activity; the resource levels are added here, then heapified at once.
void Simulator::Impl::fill_levels() {
  for (ResourceId rid : component_resources) {
    const ResourceInternals& in = internals[rid];
    if (in.unfrozen > 0) fill.push_unordered(FillLevel{in.spare / in.denom, rid, false});
  }
  fill.heapify();

  double level = 0.0;
  while (unfrozen_activities > 0 && !fill.empty()) {
    const FillLevel top = fill.top();
    fill.pop();
    if (top.is_bound) {
      const Activity& a = activities[top.id];
      if (a.frozen) continue;
      level = std::max(level, top.level);
      freeze(top.id, std::min(a.bound, a.private_cap), a.cap_bottleneck);
      continue;
    }
    ResourceInternals& in = internals[top.id];
    if (in.unfrozen == 0) continue;
    const double current = resource_level(top.id);
    if (current > top.level) {
      fill.push(FillLevel{current, top.id, false});  // raised since it was pushed: not yet
      continue;
    }
    level = std::max(level, current);
    for (const UserEntry& user : in.users) {
      const Activity& a = activities[user.activity];
      if (a.frozen) continue;
      freeze(user.activity, a.share * level, top.id);
    }
  }
}

void Simulator::Impl::apply_rates_and_loads() {
  for (ActivityId id : component_activities) {
    Activity& a = activities[id];
    if (a.phase != Phase::kWorking) continue;
    assert(a.frozen && "progressive filling left an activity unfrozen");
    if (a.new_rate == a.rate) continue;  // its completion event still holds
    a.rate = a.new_rate;
    ++a.version;
    for (std::uint32_t slot = a.use_begin; slot < a.use_begin + a.shared_count; ++slot) {
      internals[uses[slot].resource].load_stale = true;
    }
    // A private resource carries this activity alone: its load follows the rate directly.
    for (std::uint32_t slot = a.use_begin + a.shared_count; slot < a.use_begin + a.use_count;
         ++slot) {
      set_load(uses[slot].resource, uses[slot].weight * a.rate);
    }
    // A zero or non-finite rate cannot come from valid inputs (capacities and bounds are > 0);
    // such an activity would stall rather than divide by zero.
    if (a.rate > 0.0 && std::isfinite(a.rate)) {
      push_event(now_s + a.remaining / a.rate, EventKind::kCompletion, id, a.version);
    }
  }
  for (ResourceId rid : component_resources) {
    ResourceInternals& in = internals[rid];
    if (!in.load_stale) continue;
    in.load_stale = false;
    double load = 0.0;
    for (const UserEntry& user : in.users) load += user.weight * activities[user.activity].rate;
    set_load(rid, load);
  }
}

void Simulator::Impl::set_load(ResourceId rid, double load) {
  internals[rid].load_stale = false;
  ResourceState& r = resources[rid];
  if (load == r.load) return;
  integrate(rid);  // the old load held until now
  r.load = load;
  if (tracing) samples.push_back(LoadSample{now_s, rid, load / r.capacity});
}

void Simulator::Impl::solve() {
  collect_component();
  ++stats.solves;
  if (!dust.empty()) {
    // Finishing the dust changes which resources are shared: collect again, from its resources
    // (finish() marks them dirty) and from every activity this collection reached.
    for (ActivityId id : dust) {
      ++stats.events;
      finish(id);
    }
    for (ActivityId id : component_activities) {
      if (activities[id].phase == Phase::kWorking) dirty_activities.push_back(id);
    }
    collect_component();  // no new dust: remaining work was brought up to now already
  }
  stats.activities_resolved += component_activities.size();
  fill_levels();
  apply_rates_and_loads();
}

Simulator::Simulator() : impl_(std::make_unique<Impl>()) {}
Simulator::~Simulator() = default;

ResourceId Simulator::add_resource(std::string name, double capacity) {
  if (!(capacity > 0.0) || !std::isfinite(capacity)) {
    throw std::invalid_argument(
        describe("add_resource", "capacity of '" + name + "' must be finite and > 0", capacity));
  }
  Impl& s = *impl_;
  const auto id = static_cast<ResourceId>(s.resources.size());
  s.resources.push_back(ResourceState{std::move(name), capacity, 0.0, 0.0, 0.0});
  s.internals.push_back(ResourceInternals{});
  s.internals.back().capacity = capacity;
  s.integrated_until_s.push_back(s.now_s);
  return id;
}

ActivityId Simulator::start(const ActivitySpec& spec) {
  Impl& s = *impl_;
  if (!(spec.latency_s >= 0.0) || !std::isfinite(spec.latency_s)) {
    throw std::invalid_argument(
        describe("start", "latency_s must be finite and >= 0", spec.latency_s));
  }
  if (!(spec.work >= 0.0) || !std::isfinite(spec.work)) {
    throw std::invalid_argument(describe("start", "work must be finite and >= 0", spec.work));
  }
  if (!(spec.share > 0.0) || !std::isfinite(spec.share)) {
    throw std::invalid_argument(describe("start", "share must be finite and > 0", spec.share));
  }
  if (!(spec.bound > 0.0)) {
    throw std::invalid_argument(describe("start", "bound must be > 0", spec.bound));
  }
  std::uint32_t consuming = 0;
  for (const Use& use : spec.uses) {
    if (use.resource >= s.resources.size()) {
      throw std::invalid_argument(
          describe("start", "unknown resource id", static_cast<double>(use.resource)));
    }
    if (!(use.weight >= 0.0) || !std::isfinite(use.weight)) {
      throw std::invalid_argument(describe(
          "start", "weight on '" + s.resources[use.resource].name + "' must be finite and >= 0",
          use.weight));
    }
    if (use.weight > 0.0) ++consuming;
  }
  if (spec.work > 0.0 && consuming == 0 && spec.bound == kUnbounded) {
    throw std::invalid_argument(describe(
        "start", "work > 0 needs a resource with weight > 0 or a finite bound", spec.work));
  }

  const auto id = static_cast<ActivityId>(s.activities.size());
  Activity a;
  a.work = spec.work;
  a.share = spec.share;
  a.bound = spec.bound;
  a.use_begin = static_cast<std::uint32_t>(s.uses.size());
  a.use_count = consuming;
  s.activities.push_back(a);
  s.tags.push_back(spec.tag);
  for (const Use& use : spec.uses) {
    if (use.weight > 0.0) s.uses.push_back(use);
  }
  s.use_pos.resize(s.uses.size());
  ++s.unfinished;

  if (spec.latency_s == 0.0 && spec.work > 0.0) {
    s.enter_work_phase(id);  // no event needed: it joins the next solve at this time
  } else {
    s.push_event(s.now_s + spec.latency_s, EventKind::kLatencyEnd, id, 0);
  }
  return id;
}

void Simulator::schedule_timer(double at_s, std::uint64_t tag) {
  Impl& s = *impl_;
  if (!(at_s >= s.now_s) || !std::isfinite(at_s)) {
    std::ostringstream what;
    what << "timer time must be finite and >= now (" << s.now_s << ")";
    throw std::invalid_argument(describe("schedule_timer", what.str(), at_s));
  }
  ++s.pending_timers;
  s.push_event(at_s, EventKind::kTimer, 0, tag);
}

void Simulator::set_handler(EventHandler* handler) { impl_->handler = handler; }

bool Simulator::step() {
  Impl& s = *impl_;
  if (s.in_callback) throw std::logic_error("Simulator::step called from inside a callback");
  if (s.settle_now()) return true;
  if (!s.advance_to_next_event(kUnbounded)) return false;
  s.settle_now();
  return true;
}

void Simulator::run(double until_s) {
  Impl& s = *impl_;
  if (s.in_callback) throw std::logic_error("Simulator::run called from inside a callback");
  if (std::isnan(until_s)) throw std::invalid_argument("Simulator::run: until_s is NaN");
  do {
    throw_if_cancelled();
    s.settle_now();
  } while (s.advance_to_next_event(until_s));
}

double Simulator::now() const { return impl_->now_s; }

bool Simulator::idle() const { return impl_->unfinished == 0 && impl_->pending_timers == 0; }

namespace {
void check_id(std::size_t id, std::size_t count, const char* what) {
  if (id >= count) {
    throw std::out_of_range(std::string("Simulator: unknown ") + what + " id " +
                            std::to_string(id));
  }
}
}  // namespace

double Simulator::rate(ActivityId id) const {
  check_id(id, impl_->activities.size(), "activity");
  return impl_->activities[id].rate;
}

ResourceId Simulator::bottleneck(ActivityId id) const {
  check_id(id, impl_->activities.size(), "activity");
  return impl_->activities[id].bottleneck;
}

bool Simulator::finished(ActivityId id) const {
  check_id(id, impl_->activities.size(), "activity");
  return impl_->activities[id].phase == Phase::kDone;
}

const ResourceState& Simulator::resource(ResourceId id) const {
  check_id(id, impl_->resources.size(), "resource");
  impl_->integrate(id);
  return impl_->resources[id];
}

std::size_t Simulator::resource_count() const { return impl_->resources.size(); }

const EngineStats& Simulator::stats() const { return impl_->stats; }

void Simulator::set_load_tracing(bool on) { impl_->tracing = on; }

const std::vector<LoadSample>& Simulator::load_samples() const { return impl_->samples; }

}  // namespace fmsim
