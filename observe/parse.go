package observe

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ParseText reads the Prometheus text exposition format and returns every
// sample by key: `name{a="x",b="y"}` with labels sorted by name and values
// escaped as in the exposition format, or the bare `name` for a sample
// without labels. Histograms give name_bucket{le=...}, name_sum and
// name_count; summaries give name{quantile=...}, name_sum and name_count.
func ParseText(r io.Reader) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("observe: parse metrics text: %w", err)
	}
	out := make(map[string]float64)
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := make([][2]string, 0, len(m.GetLabel())+1)
			for _, l := range m.GetLabel() {
				labels = append(labels, [2]string{l.GetName(), l.GetValue()})
			}
			add := func(suffix string, v float64, extra ...[2]string) {
				out[sampleKey(name+suffix, append(labels[:len(labels):len(labels)], extra...))] = v
			}
			switch {
			case m.GetCounter() != nil:
				add("", m.GetCounter().GetValue())
			case m.GetGauge() != nil:
				add("", m.GetGauge().GetValue())
			case m.GetUntyped() != nil:
				add("", m.GetUntyped().GetValue())
			case m.GetHistogram() != nil:
				addHistogram(m.GetHistogram(), add)
			case m.GetSummary() != nil:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add("", q.GetValue(), [2]string{model.QuantileLabel, formatFloat(q.GetQuantile())})
				}
				add("_sum", s.GetSampleSum())
				add("_count", float64(s.GetSampleCount()))
			}
		}
	}
	return out, nil
}

func addHistogram(h *dto.Histogram, add func(string, float64, ...[2]string)) {
	infSeen := false
	for _, b := range h.GetBucket() {
		if math.IsInf(b.GetUpperBound(), +1) {
			infSeen = true
		}
		v := b.GetCumulativeCountFloat()
		if v <= 0 {
			v = float64(b.GetCumulativeCount())
		}
		add("_bucket", v, [2]string{model.BucketLabel, formatFloat(b.GetUpperBound())})
	}
	count := h.GetSampleCountFloat()
	if count <= 0 {
		count = float64(h.GetSampleCount())
	}
	if !infSeen {
		add("_bucket", count, [2]string{model.BucketLabel, "+Inf"})
	}
	add("_sum", h.GetSampleSum())
	add("_count", count)
}

// formatFloat writes a float as the text exposition format does (e.g.
// "0.001", "16", "+Inf").
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// escapeLabel escapes a label value as the text exposition format does.
func escapeLabel(b *strings.Builder, v string) {
	for _, r := range v {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
}

func sampleKey(name string, labels [][2]string) string {
	if len(labels) == 0 {
		return name
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i][0] < labels[j][0] })
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l[0])
		b.WriteString(`="`)
		escapeLabel(&b, l[1])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
