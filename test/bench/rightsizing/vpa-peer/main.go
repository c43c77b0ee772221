// The VPA's own recommender (k8s.io/autoscaler/vertical-pod-autoscaler, pkg/recommender) as the
// peer of ebb's recommender in `npm run bench:rightsizing`: one container's trace in, the
// recommendations the VPA recommender would publish out. Nothing here estimates anything; it feeds
// the VPA's model and logic packages the way its recommender loop does, with its default settings.
//
// stdin, one JSON object a line, in time order (one trace per run):
//
//	{"type":"sample","at":<epoch ms>,"cpuCores":<float>,"memoryBytes":<int>}
//	{"type":"oom","at":<epoch ms>,"memoryBytes":<the container's memory request at the OOM>}
//	{"type":"recommend","at":<epoch ms>}
//
// stdout, one line per "recommend" (CPU in cores, memory in bytes):
//
//	{"at":<ms>,"cpu":{"target":…,"lower":…,"upper":…},"memory":{"target":…,"lower":…,"upper":…}}
//
// All zeros means the VPA has no recommendation for the container: no sample yet, or its history
// was garbage-collected after 8 days without a sample.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	recommenderconfig "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender/config"
	"k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender/logic"
	"k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender/model"
)

// containerName is the one container a trace describes; the name only keys the VPA's maps.
const containerName = "app"

// aggregateGCInterval is the recommender's aggregateContainerStateGCInterval
// (routines/recommender_controller.go, unexported there).
const aggregateGCInterval = time.Hour

type event struct {
	Type        string  `json:"type"`
	At          int64   `json:"at"`
	CPUCores    float64 `json:"cpuCores"`
	MemoryBytes float64 `json:"memoryBytes"`
}

type bounds struct {
	Target float64 `json:"target"`
	Lower  float64 `json:"lower"`
	Upper  float64 `json:"upper"`
}

type recommendation struct {
	At     int64  `json:"at"`
	CPU    bounds `json:"cpu"`
	Memory bounds `json:"memory"`
}

// aggregateSlot stands where the VPA's ContainerStateAggregatorProxy stands: the container's state
// outlives its aggregate, which garbage collection may delete and the next sample recreates.
type aggregateSlot struct {
	*model.AggregateContainerState
}

type peer struct {
	recommender logic.PodResourceRecommender
	slot        *aggregateSlot
	container   *model.ContainerState
	lastGC      time.Time
	discarded   int
}

func newPeer() *peer {
	defaults := recommenderconfig.DefaultRecommenderConfig()
	// The same fields the recommender passes (routines/recommender_controller.go).
	recommender := logic.CreatePodResourceRecommender(logic.RecommendationConfig{
		SafetyMarginFraction:       defaults.SafetyMarginFraction,
		PodMinCPUMillicores:        defaults.PodMinCPUMillicores,
		PodMinMemoryMb:             defaults.PodMinMemoryMb,
		TargetCPUPercentile:        defaults.TargetCPUPercentile,
		LowerBoundCPUPercentile:    defaults.LowerBoundCPUPercentile,
		UpperBoundCPUPercentile:    defaults.UpperBoundCPUPercentile,
		ConfidenceIntervalCPU:      defaults.ConfidenceIntervalCPU,
		TargetMemoryPercentile:     defaults.TargetMemoryPercentile,
		LowerBoundMemoryPercentile: defaults.LowerBoundMemoryPercentile,
		UpperBoundMemoryPercentile: defaults.UpperBoundMemoryPercentile,
		ConfidenceIntervalMemory:   defaults.ConfidenceIntervalMemory,
	})
	return &peer{recommender: recommender, slot: &aggregateSlot{}}
}

// ensureState creates the container's state when its first sample arrives, and a fresh aggregate
// when garbage collection removed the last one (as ContainerStateAggregatorProxy does).
func (p *peer) ensureState(at time.Time) {
	if p.slot.AggregateContainerState == nil {
		aggregate := model.NewAggregateContainerState()
		aggregate.CreationTime = at
		p.slot.AggregateContainerState = aggregate
	}
	if p.container == nil {
		p.container = model.NewContainerState(model.Resources{}, p.slot)
	}
}

// addSample is clusterStateFeeder.LoadRealTimeMetrics for one metrics snapshot: a CPU and a
// memory sample measured at the snapshot's time. The model applies the CPU sample weight (0.1)
// and keeps one memory peak per 24 h interval.
func (p *peer) addSample(at time.Time, cpuCores, memoryBytes float64) {
	p.ensureState(at)
	cpu := model.ContainerUsageSample{MeasureStart: at, Usage: model.CPUAmountFromCores(cpuCores), Resource: model.ResourceCPU}
	memory := model.ContainerUsageSample{MeasureStart: at, Usage: model.MemoryAmountFromBytes(memoryBytes), Resource: model.ResourceMemory}
	for _, sample := range []*model.ContainerUsageSample{&cpu, &memory} {
		if !p.container.AddSample(sample) {
			p.discarded++
		}
	}
}

// recordOOM is what the feeder does with the OOM observer's OomInfo (Memory = the request).
func (p *peer) recordOOM(at time.Time, requestBytes float64) {
	if p.container == nil {
		p.discarded++ // the VPA drops an OOM of a container it does not know (KeyError)
		return
	}
	p.ensureState(at)
	if err := p.container.RecordOOM(at, model.MemoryAmountFromBytes(requestBytes)); err != nil {
		p.discarded++
	}
}

// recommend is one pass of the recommender loop after its metrics were loaded: UpdateVPAs, then
// the rate-limited garbage collection of expired aggregates, in RunOnce's order.
func (p *peer) recommend(at time.Time) recommendation {
	out := recommendation{At: at.UnixMilli()}
	if p.slot.AggregateContainerState != nil {
		// GetContainerNameToAggregateStateMap: the VPA's aggregates merged by container name into a
		// new state, with the (absent) container policy applied.
		merged := model.NewAggregateContainerState()
		merged.MergeContainerState(p.slot.AggregateContainerState)
		merged.UpdateFromPolicy(nil)
		resources := p.recommender.GetRecommendedPodResources(model.ContainerNameToAggregateStateMap{containerName: merged})[containerName]
		out.CPU = bounds{
			Target: model.CoresFromCPUAmount(resources.Target[model.ResourceCPU]),
			Lower:  model.CoresFromCPUAmount(resources.LowerBound[model.ResourceCPU]),
			Upper:  model.CoresFromCPUAmount(resources.UpperBound[model.ResourceCPU]),
		}
		out.Memory = bounds{
			Target: model.BytesFromMemoryAmount(resources.Target[model.ResourceMemory]),
			Lower:  model.BytesFromMemoryAmount(resources.LowerBound[model.ResourceMemory]),
			Upper:  model.BytesFromMemoryAmount(resources.UpperBound[model.ResourceMemory]),
		}
	}
	p.collectGarbage(at)
	return out
}

// collectGarbage is clusterState.RateLimitedGarbageCollectAggregateCollectionStates for a pod that
// is still running: only the expiry rule applies (aggregateContainerState.isExpired, unexported).
func (p *peer) collectGarbage(now time.Time) {
	if now.Sub(p.lastGC) < aggregateGCInterval {
		return
	}
	p.lastGC = now
	aggregate := p.slot.AggregateContainerState
	if aggregate == nil {
		return
	}
	window := aggregate.MemoryAggregationIntervalDuration * time.Duration(aggregate.MemoryAggregationIntervalCount)
	since := aggregate.LastSampleStart
	if aggregate.TotalSamplesCount == 0 {
		since = aggregate.CreationTime
	}
	if now.Sub(since) >= window {
		p.slot.AggregateContainerState = nil
	}
}

func run() error {
	p := newPeer()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	out := bufio.NewWriterSize(os.Stdout, 64*1024)
	encoder := json.NewEncoder(out)
	line := 0
	for in.Scan() {
		line++
		if len(in.Bytes()) == 0 {
			continue
		}
		var e event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
		at := time.UnixMilli(e.At).UTC()
		switch e.Type {
		case "sample":
			p.addSample(at, e.CPUCores, e.MemoryBytes)
		case "oom":
			p.recordOOM(at, e.MemoryBytes)
		case "recommend":
			if err := encoder.Encode(p.recommend(at)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("line %d: unknown type %q (expected sample, oom or recommend)", line, e.Type)
		}
	}
	if err := in.Err(); err != nil {
		return err
	}
	if p.discarded > 0 {
		fmt.Fprintf(os.Stderr, "vpa-peer: the VPA model discarded %d samples or OOMs (out of order, duplicate or too old)\n", p.discarded)
	}
	return out.Flush()
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "vpa-peer: %v\n", err)
		os.Exit(1)
	}
}
