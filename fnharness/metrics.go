package fnharness

import (
	"encoding/binary"
	"encoding/json"

	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// Beam user-metric URNs. Flink forwards only MonitoringInfos whose urn
// starts with "beam:metric:user" and dispatches on the type urn
// (FlinkMetricContainer.updateMetrics).
const (
	userSumInt64Urn  = "beam:metric:user:sum_int64:v1"
	sumInt64TypeUrn  = "beam:metrics:sum_int64:v1"
	metricsNamespace = "flinkfn"
)

// userMetrics turns a bundle's counters into Beam user counters. Flink adds
// each value (a per-bundle delta) to the operator's counter
// <operator>.flinkfn.<function>.<name>. NAMESPACE is the JSON list of
// Flink metric-group names followed by their types; both groups are
// generic groups. Zero counters are left out (and Beam's update loop stops
// at an empty payload, so none is ever sent).
func userMetrics(transform string, counters []fn.CounterValue) []*pipepb.MonitoringInfo {
	if len(counters) == 0 {
		return nil
	}
	out := make([]*pipepb.MonitoringInfo, 0, len(counters))
	for _, c := range counters {
		if c.Value <= 0 {
			continue
		}
		ns, _ := json.Marshal([]string{metricsNamespace, c.Function, "MetricGroupType.generic", "MetricGroupType.generic"})
		out = append(out, &pipepb.MonitoringInfo{
			Urn:     userSumInt64Urn,
			Type:    sumInt64TypeUrn,
			Payload: binary.AppendUvarint(nil, uint64(c.Value)),
			Labels: map[string]string{
				"PTRANSFORM": transform,
				"NAMESPACE":  string(ns),
				"NAME":       c.Name,
			},
		})
	}
	return out
}

// metricTransform is the transform id user metrics are filed under.
func (p *plan) metricTransform() string { return p.transform }

// fullNames lists the full names of the functions the plan calls.
func (p *plan) fullNames() []string {
	names := make([]string, len(p.calls))
	for i, c := range p.calls {
		names[i] = c.f.FullName()
	}
	return names
}
