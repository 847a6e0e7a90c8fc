// Specifications of the flow-level engine: every expected number is worked out by hand in the
// comment above its check (max-min rates by progressive filling, then time = work / rate).
#include "engine/simulator.h"

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace fmsim {
namespace {

struct Record {
  double time_s;
  bool is_timer;
  std::uint64_t id_or_tag;
  bool operator==(const Record&) const = default;
};

// Records every callback with the time it came at; optional hooks let a test react inside.
class Recorder : public EventHandler {
 public:
  explicit Recorder(Simulator& sim) : sim_(sim) { sim.set_handler(this); }

  void on_activity_done(ActivityId id, std::uint64_t tag) override {
    records.push_back(Record{sim_.now(), false, id});
    done_at[id] = sim_.now();
    if (on_done) on_done(id, tag);
  }
  void on_timer(std::uint64_t tag) override {
    records.push_back(Record{sim_.now(), true, tag});
    if (on_tick) on_tick(tag);
  }

  double finish_time(ActivityId id) const { return done_at.at(id); }

  std::vector<Record> records;
  std::map<ActivityId, double> done_at;
  std::function<void(ActivityId, std::uint64_t)> on_done;
  std::function<void(std::uint64_t)> on_tick;

 private:
  Simulator& sim_;
};

ActivitySpec flow(double work, std::vector<Use> uses, double latency_s = 0.0) {
  ActivitySpec spec;
  spec.work = work;
  spec.uses = std::move(uses);
  spec.latency_s = latency_s;
  return spec;
}

TEST(Simulator, OneActivityAloneTakesLatencyPlusWorkOverCapacity) {
  // 0.5 s latency, then 200 bytes at the full 100 bytes/s: 0.5 + 200 / 100 = 2.5 s.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 100.0);
  const ActivityId a = sim.start(flow(200.0, {{link, 1.0}}, 0.5));
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 2.5);
  EXPECT_DOUBLE_EQ(sim.now(), 2.5);
  EXPECT_TRUE(sim.finished(a));
  EXPECT_TRUE(sim.idle());
}

TEST(Simulator, RateIsZeroDuringLatencyAndCapacityWhileWorking) {
  // Latency 1 s: at t = 0 it has not started (rate 0); from t = 1 it runs alone at C = 100.
  Simulator sim;
  const ResourceId link = sim.add_resource("link", 100.0);
  const ActivityId a = sim.start(flow(200.0, {{link, 1.0}}, 1.0));
  EXPECT_DOUBLE_EQ(sim.rate(a), 0.0);
  ASSERT_TRUE(sim.step());
  EXPECT_DOUBLE_EQ(sim.now(), 1.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 100.0);
  EXPECT_DOUBLE_EQ(sim.resource(link).load, 100.0);
  ASSERT_TRUE(sim.step());
  EXPECT_DOUBLE_EQ(sim.now(), 3.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 0.0);
  EXPECT_FALSE(sim.step());
}

TEST(SimulatorMaxMin, TwoEqualFlowsOnOneLinkEachGetHalfAndFinishAtTwoWOverC) {
  // C = 10, W = 20 each: each runs at C/2 = 5 and both finish at 2W/C = 4, in one step.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 10.0);
  const ActivityId a = sim.start(flow(20.0, {{link, 1.0}}));
  const ActivityId b = sim.start(flow(20.0, {{link, 1.0}}));
  ASSERT_TRUE(sim.step());  // t = 0: nothing due yet, rates are solved, then t = 4
  EXPECT_DOUBLE_EQ(sim.now(), 4.0);
  EXPECT_EQ(recorder.records.size(), 2u);
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 4.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(b), 4.0);
  EXPECT_FALSE(sim.step());
}

TEST(SimulatorMaxMin, HeaderExampleGivesEightTwoTwoThenResolvesWhenZFinishes) {
  // L1 (C=10) carries x and y, L2 (C=4) carries y and z. L2 saturates at lambda = 2 (y = z = 2),
  // L1 leaves 10 - 2 = 8 for x: rates (8, 2, 2), bottlenecks (L1, L2, L2).
  // Works x = 26, y = 10, z = 2: z finishes first at t = 2/2 = 1 (x has 26 - 8 = 18 left,
  // y has 10 - 2 = 8). Then x and y share L1 (level 5) while y alone is on L2 (level 4): L2
  // saturates first, y = 4, and x takes 10 - 4 = 6. y finishes at 1 + 8/4 = 3, when x has
  // 18 - 6*2 = 6 left; alone on L1, x runs at 10 and finishes at 3 + 6/10 = 3.6.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId l1 = sim.add_resource("L1", 10.0);
  const ResourceId l2 = sim.add_resource("L2", 4.0);
  const ActivityId x = sim.start(flow(26.0, {{l1, 1.0}}));
  const ActivityId y = sim.start(flow(10.0, {{l1, 1.0}, {l2, 1.0}}));
  const ActivityId z = sim.start(flow(2.0, {{l2, 1.0}}));

  sim.run(0.0);  // solves at t = 0 without processing anything later
  EXPECT_DOUBLE_EQ(sim.rate(x), 8.0);
  EXPECT_DOUBLE_EQ(sim.rate(y), 2.0);
  EXPECT_DOUBLE_EQ(sim.rate(z), 2.0);
  EXPECT_EQ(sim.bottleneck(x), l1);
  EXPECT_EQ(sim.bottleneck(y), l2);
  EXPECT_EQ(sim.bottleneck(z), l2);

  ASSERT_TRUE(sim.step());
  EXPECT_DOUBLE_EQ(sim.now(), 1.0);
  EXPECT_TRUE(sim.finished(z));
  EXPECT_DOUBLE_EQ(sim.rate(x), 6.0);
  EXPECT_DOUBLE_EQ(sim.rate(y), 4.0);
  EXPECT_EQ(sim.bottleneck(x), l1);
  EXPECT_EQ(sim.bottleneck(y), l2);

  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(z), 1.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(y), 3.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(x), 3.6);
  EXPECT_EQ(recorder.records.size(), 3u);
}

TEST(SimulatorMaxMin, WeightTwoConsumesTwiceTheCapacityAtTheSameRate) {
  // C = 12; a has weight 2, b weight 1, equal shares: both run at lambda with 2 lambda + lambda
  // = 12, so lambda = 4. a consumes 2 * 4 = 8 of the link, b consumes 4; the link is full (12).
  // With 8 units of work each, both finish at 8 / 4 = 2 s.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 12.0);
  const ActivityId a = sim.start(flow(8.0, {{link, 2.0}}));
  const ActivityId b = sim.start(flow(8.0, {{link, 1.0}}));
  sim.run(0.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 4.0);
  EXPECT_DOUBLE_EQ(sim.rate(b), 4.0);
  EXPECT_DOUBLE_EQ(sim.resource(link).load, 12.0);
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 2.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(b), 2.0);
}

TEST(SimulatorMaxMin, SharesSplitAContendedLinkInProportion) {
  // C = 8, shares 3 and 1: rates 3 lambda and lambda with 4 lambda = 8, so 6 and 2.
  Simulator sim;
  const ResourceId link = sim.add_resource("link", 8.0);
  ActivitySpec heavy = flow(60.0, {{link, 1.0}});
  heavy.share = 3.0;
  const ActivityId a = sim.start(heavy);
  const ActivityId b = sim.start(flow(60.0, {{link, 1.0}}));
  sim.run(0.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 6.0);
  EXPECT_DOUBLE_EQ(sim.rate(b), 2.0);
}

TEST(SimulatorMaxMin, BoundedFlowTakesItsBoundAndTheOtherTakesTheRest) {
  // C = 10, a bounded at 3 (below the fair 5): a = 3 (its bound froze it, no bottleneck),
  // b = 10 - 3 = 7 (the link froze it). a: 6 / 3 = 2 s. b has 14 - 7*2 = 0 left at t = 2 too.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 10.0);
  ActivitySpec capped = flow(6.0, {{link, 1.0}});
  capped.bound = 3.0;
  const ActivityId a = sim.start(capped);
  const ActivityId b = sim.start(flow(14.0, {{link, 1.0}}));
  sim.run(0.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 3.0);
  EXPECT_DOUBLE_EQ(sim.rate(b), 7.0);
  EXPECT_EQ(sim.bottleneck(a), kNoResource);
  EXPECT_EQ(sim.bottleneck(b), link);
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 2.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(b), 2.0);
}

TEST(SimulatorMaxMin, AtATieTheBoundIsReportedAsTheLimit) {
  // C = 10, a bounded at exactly its fair share 5, b unbounded: both end at 5. The bound and the
  // link bind a at the same level; the engine names the bound (a link twice as large would not
  // speed a up), so bottleneck(a) is none and bottleneck(b) is the link.
  Simulator sim;
  const ResourceId link = sim.add_resource("link", 10.0);
  ActivitySpec capped = flow(50.0, {{link, 1.0}});
  capped.bound = 5.0;
  const ActivityId a = sim.start(capped);
  const ActivityId b = sim.start(flow(50.0, {{link, 1.0}}));
  sim.run(0.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 5.0);
  EXPECT_DOUBLE_EQ(sim.rate(b), 5.0);
  EXPECT_EQ(sim.bottleneck(a), kNoResource);
  EXPECT_EQ(sim.bottleneck(b), link);
}

TEST(SimulatorMaxMin, ActivityWithoutResourcesRunsAtItsBound) {
  // No resource, bound 4 units/s, 10 units after 1 s of latency: 1 + 10 / 4 = 3.5 s.
  Simulator sim;
  Recorder recorder(sim);
  ActivitySpec spec = flow(10.0, {}, 1.0);
  spec.bound = 4.0;
  const ActivityId a = sim.start(spec);
  ASSERT_TRUE(sim.step());
  EXPECT_DOUBLE_EQ(sim.rate(a), 4.0);
  EXPECT_EQ(sim.bottleneck(a), kNoResource);
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 3.5);
}

TEST(SimulatorMaxMin, BottleneckIsTheResourceThatSaturates) {
  // One flow over links of 10 and 4: the 4 saturates first, the flow runs at 4 and the 10 link
  // carries 4 (40 % utilised).
  Simulator sim;
  const ResourceId fast = sim.add_resource("fast", 10.0);
  const ResourceId slow = sim.add_resource("slow", 4.0);
  const ActivityId a = sim.start(flow(100.0, {{fast, 1.0}, {slow, 1.0}}));
  sim.run(0.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 4.0);
  EXPECT_EQ(sim.bottleneck(a), slow);
  EXPECT_DOUBLE_EQ(sim.resource(fast).load, 4.0);
}

TEST(SimulatorMaxMin, ZeroWeightUseConsumesNothing) {
  // A weight-0 use does not count: alone on a C = 5 link with a weight-0 use of a C = 1 resource,
  // the flow runs at 5, and the C = 1 resource carries nothing.
  Simulator sim;
  const ResourceId link = sim.add_resource("link", 5.0);
  const ResourceId tiny = sim.add_resource("tiny", 1.0);
  const ActivityId a = sim.start(flow(10.0, {{link, 1.0}, {tiny, 0.0}}));
  sim.run(0.0);
  EXPECT_DOUBLE_EQ(sim.rate(a), 5.0);
  EXPECT_DOUBLE_EQ(sim.resource(tiny).load, 0.0);
}

// What progressive filling guarantees, checked on random systems after every incremental
// re-solve: (1) no resource carries more than its capacity, and each resource's load is the sum
// of w * rate over its users; (2) an activity is either at its bound (bottleneck none) or its
// bottleneck j is saturated and no other activity on j has a higher rate per share
// (r_b / s_b <= r_a / s_a): no one could be given more without taking from someone who has no
// more than it. These conditions define the weighted max-min allocation uniquely.
void check_random_systems(int resources, int activity_count, int max_hops, std::uint64_t seed) {
  std::uint64_t state = seed;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53);
  };
  for (int trial = 0; trial < 20; ++trial) {
    Simulator sim;
    for (int i = 0; i < resources; ++i) sim.add_resource("r", 1.0 + 9.0 * next());
    std::vector<ActivitySpec> specs;
    for (int i = 0; i < activity_count; ++i) {
      ActivitySpec spec;
      spec.work = 1.0 + 20.0 * next();
      spec.latency_s = next() < 0.7 ? 0.0 : 2.0 * next();
      spec.share = next() < 0.7 ? 1.0 : 0.5 + 3.0 * next();
      if (next() < 0.3) spec.bound = 0.2 + 3.0 * next();
      const int hops = 1 + static_cast<int>(max_hops * next());
      for (int h = 0; h < hops; ++h) {
        const auto r = static_cast<ResourceId>(resources * next());
        spec.uses.push_back({r, 0.25 + 2.0 * next()});
      }
      specs.push_back(spec);
      sim.start(spec);
    }
    int checked_steps = 0;
    do {
      std::vector<double> load(resources, 0.0);
      for (ActivityId a = 0; a < specs.size(); ++a) {
        for (const Use& use : specs[a].uses) load[use.resource] += use.weight * sim.rate(a);
      }
      for (ResourceId r = 0; r < static_cast<ResourceId>(resources); ++r) {
        const double capacity = sim.resource(r).capacity;
        ASSERT_LE(load[r], capacity * (1 + 1e-9)) << "trial " << trial << " resource " << r;
        EXPECT_NEAR(sim.resource(r).load, load[r], 1e-9 * capacity);
      }
      for (ActivityId a = 0; a < specs.size(); ++a) {
        const double rate = sim.rate(a);
        if (rate == 0.0) continue;  // not working now
        const ResourceId j = sim.bottleneck(a);
        if (j == kNoResource) {
          EXPECT_DOUBLE_EQ(rate, specs[a].bound) << "trial " << trial << " activity " << a;
          continue;
        }
        const double capacity = sim.resource(j).capacity;
        EXPECT_NEAR(load[j], capacity, 1e-9 * capacity) << "trial " << trial << " activity " << a;
        for (ActivityId b = 0; b < specs.size(); ++b) {
          bool on_j = false;
          for (const Use& use : specs[b].uses) on_j = on_j || use.resource == j;
          if (!on_j) continue;
          EXPECT_LE(sim.rate(b) / specs[b].share, rate / specs[a].share * (1 + 1e-9))
              << "trial " << trial << " activities " << a << ", " << b;
        }
      }
      ++checked_steps;
    } while (sim.step());
    EXPECT_GT(checked_steps, 2);
  }
}

TEST(SimulatorMaxMin, RandomSystemsMeetTheMaxMinConditionsAfterEveryStep) {
  // 30 activities of 1 to 3 uses on 8 resources: nearly every resource is shared.
  check_random_systems(8, 30, 3, 99);
}

TEST(SimulatorMaxMin, RandomSparseSystemsMeetTheMaxMinConditionsAfterEveryStep) {
  // 12 activities of 1 to 12 uses on 60 resources, starting at different times: many resources
  // have one user (the engine folds those into the activity's own cap) and turn shared and
  // private again as activities start and finish.
  check_random_systems(60, 12, 12, 7);
}

TEST(SimulatorEvents, LatencyOnlyActivityCompletesAfterItsLatency) {
  // work = 0: done at its latency, 1.5 s, never consuming anything.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 1.0);
  const ActivityId a = sim.start(flow(0.0, {{link, 1.0}}, 1.5));
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 1.5);
  EXPECT_DOUBLE_EQ(sim.resource(link).work_done, 0.0);
  EXPECT_DOUBLE_EQ(sim.resource(link).busy_s, 0.0);
}

TEST(SimulatorEvents, ActivityStartedInsideTheHandlerSharesFromTheSameTimestamp) {
  // C = 10. x (work 30) and a (work 10) share: 5 each; a finishes at 10 / 5 = 2 with x at 20 left.
  // The handler starts b (work 10) at t = 2: the solve at t = 2 must include it, so x = b = 5
  // (not x = 10 for an instant). b finishes at 2 + 10/5 = 4 with x at 10 left; x alone runs at
  // 10 and finishes at 5.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 10.0);
  const ActivityId x = sim.start(flow(30.0, {{link, 1.0}}));
  const ActivityId a = sim.start(flow(10.0, {{link, 1.0}}));
  ActivityId b = 0;
  recorder.on_done = [&](ActivityId id, std::uint64_t) {
    if (id == a) b = sim.start(flow(10.0, {{link, 1.0}}));
  };
  ASSERT_TRUE(sim.step());
  EXPECT_DOUBLE_EQ(sim.now(), 2.0);
  EXPECT_DOUBLE_EQ(sim.rate(x), 5.0);
  EXPECT_DOUBLE_EQ(sim.rate(b), 5.0);
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 2.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(b), 4.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(x), 5.0);
}

TEST(SimulatorEvents, ZeroWorkActivityStartedInsideTheHandlerCompletesAtTheSameTime) {
  // a finishes at 1 (10 units at 10/s); the handler starts c with no latency and no work, which is
  // done right then: its callback comes at t = 1, within the same step.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 10.0);
  const ActivityId a = sim.start(flow(10.0, {{link, 1.0}}));
  ActivityId c = 0;
  recorder.on_done = [&](ActivityId id, std::uint64_t) {
    if (id == a) c = sim.start(flow(0.0, {}));
  };
  ASSERT_TRUE(sim.step());
  ASSERT_EQ(recorder.records.size(), 2u);
  EXPECT_DOUBLE_EQ(recorder.finish_time(c), 1.0);
  EXPECT_FALSE(sim.step());
}

TEST(SimulatorEvents, TimersFireInTimeOrderThenInsertionOrder) {
  // Timers at 3, 1, 2, 2 (tags 30, 10, 20, 21): fire 10 @1, 20 @2, 21 @2, 30 @3; the two at t = 2
  // in the order they were scheduled, in one step.
  Simulator sim;
  Recorder recorder(sim);
  sim.schedule_timer(3.0, 30);
  sim.schedule_timer(1.0, 10);
  sim.schedule_timer(2.0, 20);
  sim.schedule_timer(2.0, 21);
  EXPECT_FALSE(sim.idle());
  ASSERT_TRUE(sim.step());
  ASSERT_TRUE(sim.step());
  EXPECT_EQ(recorder.records.size(), 3u);
  sim.run();
  const std::vector<Record> expected = {
      {1.0, true, 10}, {2.0, true, 20}, {2.0, true, 21}, {3.0, true, 30}};
  EXPECT_EQ(recorder.records, expected);
  EXPECT_TRUE(sim.idle());
}

TEST(SimulatorEvents, TimerAndCompletionAtTheSameTimeKeepInsertionOrder) {
  // The timer for t = 1 is scheduled before the activity (10 units at 10/s, done at t = 1) gets
  // its completion event, so the timer is reported first.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 10.0);
  sim.schedule_timer(1.0, 7);
  const ActivityId a = sim.start(flow(10.0, {{link, 1.0}}));
  sim.run();
  const std::vector<Record> expected = {{1.0, true, 7}, {1.0, false, a}};
  EXPECT_EQ(recorder.records, expected);
}

TEST(SimulatorEvents, RunUntilStopsTheClockAndRatesChangeAtThatTime) {
  // a: 10 units alone on C = 1. run(4) stops at t = 4 with 6 left. b (work 2) starts at t = 4:
  // both run at 0.5, b finishes at 4 + 2/0.5 = 8 with a at 6 - 2 = 4 left; a alone at 1 finishes
  // at 12. (a's remaining work must be brought up to date at t = 4, which is no event of its own.)
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 1.0);
  const ActivityId a = sim.start(flow(10.0, {{link, 1.0}}));
  sim.run(4.0);
  EXPECT_DOUBLE_EQ(sim.now(), 4.0);
  EXPECT_FALSE(sim.finished(a));
  const ActivityId b = sim.start(flow(2.0, {{link, 1.0}}));
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(b), 8.0);
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 12.0);
}

TEST(SimulatorEvents, ProcessorSharingOfStaggeredFlows) {
  // N = 100 flows on C = 1 with works 1, 2, ..., N. All remaining flows progress equally, so flow k
  // finishes when each has done k units: t_k = sum_{i=1..k} (N - i + 1) = k N - k (k - 1) / 2.
  // Every completion changes every rate (about N^2 / 2 stale queue entries in total).
  constexpr int kFlows = 100;
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId link = sim.add_resource("link", 1.0);
  std::vector<ActivityId> ids;
  for (int k = 1; k <= kFlows; ++k) ids.push_back(sim.start(flow(k, {{link, 1.0}})));
  sim.run();
  for (int k = 1; k <= kFlows; ++k) {
    const double expected = k * kFlows - k * (k - 1) / 2.0;
    EXPECT_NEAR(recorder.finish_time(ids[k - 1]), expected, 1e-9 * expected) << "flow " << k;
  }
}

TEST(SimulatorEvents, OnlyTheTouchedComponentIsResolved) {
  // L1 carries a (work 10, C = 10: done at 1); L2 carries b and c (works 20 and 40, C = 10: 5 each,
  // b done at 4, then c alone at 10 with 20 left, done at 6).
  // Solves: t = 0 (a, b, c: 3 activities), t = 1 (L1 only: 0 working), t = 4 (L2: c), t = 6 (L2:
  // none) = 4 solves visiting 3 + 0 + 1 + 0 = 4 activities. A global solver would visit 3+2+1+0.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId l1 = sim.add_resource("L1", 10.0);
  const ResourceId l2 = sim.add_resource("L2", 10.0);
  sim.start(flow(10.0, {{l1, 1.0}}));
  sim.start(flow(20.0, {{l2, 1.0}}));
  const ActivityId c = sim.start(flow(40.0, {{l2, 1.0}}));
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(c), 6.0);
  EXPECT_EQ(sim.stats().solves, 4u);
  EXPECT_EQ(sim.stats().activities_resolved, 4u);
  EXPECT_EQ(sim.stats().events, 3u);
}

TEST(SimulatorResources, WorkDoneIsWeightTimesWorkOfEveryActivityThatCrossed) {
  // L1 (C=10): a with weight 1.5 (work 10) and b with weight 1 (work 4); L2 (C=4): b with weight 2.
  // Levels: L1 10 / (1.5 + 1) = 4, L2 4 / 2 = 2: L2 first, b = 2 (uses 2 of L1), then
  // 1.5 a = 10 - 2, a = 16/3. a finishes at 10 / (16/3) = 1.875; b has 4 - 2*1.875 = 0.25 left,
  // still limited by L2 at 2, done at 2. work_done: L1 = 1.5*10 + 1*4 = 19, L2 = 2*4 = 8;
  // both links are busy from 0 to 2.
  Simulator sim;
  Recorder recorder(sim);
  const ResourceId l1 = sim.add_resource("L1", 10.0);
  const ResourceId l2 = sim.add_resource("L2", 4.0);
  const ActivityId a = sim.start(flow(10.0, {{l1, 1.5}}));
  const ActivityId b = sim.start(flow(4.0, {{l1, 1.0}, {l2, 2.0}}));
  sim.run(0.0);
  EXPECT_DOUBLE_EQ(sim.rate(b), 2.0);
  EXPECT_NEAR(sim.rate(a), 16.0 / 3.0, 1e-12);
  sim.run();
  EXPECT_NEAR(recorder.finish_time(a), 1.875, 1e-12);
  EXPECT_NEAR(recorder.finish_time(b), 2.0, 1e-12);
  EXPECT_NEAR(sim.resource(l1).work_done, 19.0, 1e-9);
  EXPECT_NEAR(sim.resource(l2).work_done, 8.0, 1e-9);
  EXPECT_NEAR(sim.resource(l1).busy_s, 2.0, 1e-12);
  EXPECT_NEAR(sim.resource(l2).busy_s, 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(sim.resource(l1).load, 0.0);
}

TEST(SimulatorResources, WorkDoneIsUpToDateBetweenEvents) {
  // One flow at 10/s on a 10/s link from t = 0 (work 100, done at 10): at run(2.5) the link has
  // carried 25 units and been busy 2.5 s, although no event happened since t = 0.
  Simulator sim;
  const ResourceId link = sim.add_resource("link", 10.0);
  sim.start(flow(100.0, {{link, 1.0}}));
  sim.run(2.5);
  EXPECT_DOUBLE_EQ(sim.resource(link).work_done, 25.0);
  EXPECT_DOUBLE_EQ(sim.resource(link).busy_s, 2.5);
}

TEST(SimulatorResources, LoadTracingRecordsEveryChange) {
  // C = 10. a (work 20) runs alone at 10 from t = 0: utilisation 1. b (work 10, latency 1) joins
  // at t = 1 when a has 10 left: both run at 5, the link is still full, so no new sample. Both
  // have 10 left at 5/s and finish at t = 3: utilisation 0. Samples: (0, 1.0), (3, 0.0).
  Simulator sim;
  sim.set_load_tracing(true);
  const ResourceId link = sim.add_resource("link", 10.0);
  sim.start(flow(20.0, {{link, 1.0}}));
  sim.start(flow(10.0, {{link, 1.0}}, 1.0));
  sim.run();
  const std::vector<LoadSample>& samples = sim.load_samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_DOUBLE_EQ(samples[0].time_s, 0.0);
  EXPECT_EQ(samples[0].resource, link);
  EXPECT_DOUBLE_EQ(samples[0].utilization, 1.0);
  EXPECT_DOUBLE_EQ(samples[1].time_s, 3.0);
  EXPECT_DOUBLE_EQ(samples[1].utilization, 0.0);
}

TEST(SimulatorResources, LoadTracingIsOffByDefault) {
  Simulator sim;
  const ResourceId link = sim.add_resource("link", 10.0);
  sim.start(flow(20.0, {{link, 1.0}}));
  sim.run();
  EXPECT_TRUE(sim.load_samples().empty());
}

// A tangle of activities, latencies and timers that start more activities, for the determinism
// check below. Pseudo-random numbers come from a fixed linear congruential generator.
std::vector<Record> run_tangle(std::vector<double>& work_done) {
  Simulator sim;
  Recorder recorder(sim);
  std::uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53);
  };
  std::vector<ResourceId> links;
  for (int i = 0; i < 20; ++i) links.push_back(sim.add_resource("l", 1.0 + 9.0 * next()));
  auto random_flow = [&] {
    ActivitySpec spec;
    spec.work = 1.0 + 10.0 * next();
    spec.latency_s = next() < 0.5 ? 0.0 : next();
    spec.share = next() < 0.8 ? 1.0 : 2.0;
    const int hops = 1 + static_cast<int>(3.0 * next());
    for (int h = 0; h < hops; ++h) {
      spec.uses.push_back({links[static_cast<std::size_t>(20.0 * next())], 0.5 + next()});
    }
    return spec;
  };
  for (int i = 0; i < 100; ++i) sim.start(random_flow());
  for (int i = 0; i < 10; ++i) sim.schedule_timer(5.0 * next(), static_cast<std::uint64_t>(i));
  recorder.on_tick = [&](std::uint64_t) { sim.start(random_flow()); };
  recorder.on_done = [&](ActivityId id, std::uint64_t) {
    if (id % 7 == 0) sim.start(random_flow());
  };
  sim.run();
  for (ResourceId id : links) work_done.push_back(sim.resource(id).work_done);
  return recorder.records;
}

TEST(Simulator, SameInputsGiveTheSameEventsBitForBit) {
  // Two runs of the same tangle must agree exactly: same callbacks, same order, same times.
  std::vector<double> first_work;
  std::vector<double> second_work;
  const std::vector<Record> first = run_tangle(first_work);
  const std::vector<Record> second = run_tangle(second_work);
  EXPECT_GT(first.size(), 100u);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first_work, second_work);
}

TEST(Simulator, StepReturnsFalseWhenNothingIsLeft) {
  Simulator sim;
  EXPECT_TRUE(sim.idle());
  EXPECT_FALSE(sim.step());
  EXPECT_DOUBLE_EQ(sim.now(), 0.0);
}

TEST(Simulator, StepAndRunRefuseToBeCalledFromACallback) {
  Simulator sim;
  Recorder recorder(sim);
  sim.schedule_timer(1.0, 0);
  bool threw = false;
  recorder.on_tick = [&](std::uint64_t) {
    try {
      sim.step();
    } catch (const std::logic_error&) {
      threw = true;
    }
  };
  sim.run();
  EXPECT_TRUE(threw);
}

TEST(SimulatorValidation, InvalidSpecsThrow) {
  Simulator sim;
  const ResourceId link = sim.add_resource("link", 1.0);
  EXPECT_THROW(sim.add_resource("zero", 0.0), std::invalid_argument);
  EXPECT_THROW(sim.add_resource("negative", -1.0), std::invalid_argument);
  EXPECT_THROW(sim.add_resource("infinite", kUnbounded), std::invalid_argument);

  EXPECT_THROW(sim.start(flow(-1.0, {{link, 1.0}})), std::invalid_argument);
  EXPECT_THROW(sim.start(flow(1.0, {{link, 1.0}}, -0.1)), std::invalid_argument);
  EXPECT_THROW(sim.start(flow(1.0, {{link, -1.0}})), std::invalid_argument);
  EXPECT_THROW(sim.start(flow(1.0, {{link + 1, 1.0}})), std::invalid_argument);
  EXPECT_THROW(sim.start(flow(1.0, {})), std::invalid_argument);  // no resource, no bound
  EXPECT_THROW(sim.start(flow(1.0, {{link, 0.0}})), std::invalid_argument);  // consumes nothing
  ActivitySpec no_share = flow(1.0, {{link, 1.0}});
  no_share.share = 0.0;
  EXPECT_THROW(sim.start(no_share), std::invalid_argument);
  ActivitySpec zero_bound = flow(1.0, {{link, 1.0}});
  zero_bound.bound = 0.0;
  EXPECT_THROW(sim.start(zero_bound), std::invalid_argument);

  sim.schedule_timer(2.0, 0);
  sim.run();
  EXPECT_THROW(sim.schedule_timer(1.0, 0), std::invalid_argument);  // in the past
  EXPECT_THROW(sim.rate(99), std::out_of_range);
  EXPECT_THROW(sim.resource(99), std::out_of_range);

  // Nothing invalid was started: the simulator is still idle and consistent.
  EXPECT_TRUE(sim.idle());
  EXPECT_EQ(sim.resource_count(), 1u);
}

TEST(SimulatorValidation, LatencyOnlyActivityNeedsNoResource) {
  // work = 0 with no resource and no bound is fine: it only waits (0.25 s).
  Simulator sim;
  Recorder recorder(sim);
  const ActivityId a = sim.start(flow(0.0, {}, 0.25));
  sim.run();
  EXPECT_DOUBLE_EQ(recorder.finish_time(a), 0.25);
}

}  // namespace
}  // namespace fmsim
